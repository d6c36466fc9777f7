//! Post-processing alone: parsing the model's JSON array and selecting the top k.
//!
//! This is the work the function adds to every prediction once SageMaker has answered; the
//! Python reference's equivalent (`ast.literal_eval`, `numpy.argsort`) is timed by
//! `bench/harness/postprocess.py` in the same `scripts/bench` run, on the same bytes: with
//! `SAGEFRONT_BENCH_INPUTS=DIR` the bodies are read from `DIR/probabilities-{classes}.json`
//! (written by the harness), otherwise an equivalent body is generated here.

use std::hint::black_box;
use std::time::Duration;

use base64::Engine as _;
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sagefront_function::config::ModelOutput;
use sagefront_function::model::{output as model_output, top_k};
use sagefront_function::request::base64 as request;

/// 257: Caltech-256 (the original's model); 1,000: ImageNet-1k; 21,843: ImageNet-21k.
const CLASS_COUNTS: [usize; 3] = [257, 1_000, 21_843];

/// A body in the built-in algorithm's format: `[p0, p1, ...]`, shortest round-trip floats.
fn body(classes: usize) -> Vec<u8> {
    if let Ok(dir) = std::env::var("SAGEFRONT_BENCH_INPUTS") {
        let path = format!("{dir}/probabilities-{classes}.json");
        return std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    }
    // xorshift64*: deterministic, no dependency.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ classes as u64;
    let raw: Vec<f64> = (0..classes)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let u = (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
            u.powi(8)
        })
        .collect();
    let total: f64 = raw.iter().sum();
    let items: Vec<String> = raw.iter().map(|v| format!("{:?}", v / total)).collect();
    format!("[{}]", items.join(", ")).into_bytes()
}

fn postprocess(c: &mut Criterion) {
    let mut group = c.benchmark_group("postprocess");
    for classes in CLASS_COUNTS {
        let raw = body(classes);
        group.throughput(Throughput::Bytes(raw.len() as u64));
        for (label, k) in [("k=5", 5), ("k=all", classes)] {
            group.bench_with_input(BenchmarkId::new(label, classes), &raw, |b, raw| {
                b.iter(|| {
                    let probs =
                        model_output::parse(black_box(raw), ModelOutput::Probabilities).unwrap();
                    black_box(top_k::top_k(&probs, k))
                });
            });
        }
    }
    group.finish();

    // The two halves, to show which one dominates.
    let mut group = c.benchmark_group("parse");
    for classes in CLASS_COUNTS {
        let raw = body(classes);
        group.bench_with_input(BenchmarkId::from_parameter(classes), &raw, |b, raw| {
            b.iter(|| model_output::parse(black_box(raw), ModelOutput::Probabilities).unwrap());
        });
    }
    group.finish();
    let mut group = c.benchmark_group("top_k");
    for classes in CLASS_COUNTS {
        let probs = model_output::parse(&body(classes), ModelOutput::Probabilities).unwrap();
        for (label, k) in [("k=5", 5), ("k=all", classes)] {
            group.bench_with_input(BenchmarkId::new(label, classes), &probs, |b, probs| {
                b.iter(|| top_k::top_k(black_box(probs), k));
            });
        }
    }
    group.finish();
}

/// Base64 decoding of the image, the per-byte cost that grows with the image: one unbroken
/// line (what most clients send) and the same text wrapped at 76 columns (the `base64` CLI's
/// output; the line breaks are dropped first). Decoded in place, as the handler does with the
/// request body; the copy of the text each iteration starts from is not timed.
fn base64_decoding(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_base64");
    for size in [10_000usize, 4_000_000] {
        let image: Vec<u8> = (0..size).map(|i| (i * 131 % 251) as u8).collect();
        let one_line = base64::engine::general_purpose::STANDARD.encode(&image);
        let wrapped = one_line
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        for (label, encoded) in [("one_line", &one_line), ("wrapped", &wrapped)] {
            assert_eq!(
                request::decode_base64(encoded, usize::MAX).ok().as_deref(),
                Some(&image[..])
            );
            group.throughput(Throughput::Bytes(encoded.len() as u64));
            group.bench_with_input(BenchmarkId::new(label, size), encoded, |b, e| {
                b.iter_batched_ref(
                    || e.as_bytes().to_vec(),
                    |text| {
                        let len = text.len();
                        request::decode_base64_in_place(black_box(text), 0..len, usize::MAX)
                            .unwrap();
                    },
                    BatchSize::LargeInput,
                );
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Short runs: the whole file finishes in about a minute on two cores.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40);
    targets = postprocess, base64_decoding
}
criterion_main!(benches);

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
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sagefront_function::config::ModelOutput;
use sagefront_function::{model_output, request, top_k};

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

/// A proposal measured against `request::decode_base64`: one vectorisable pass to classify the
/// input (whitespace? URL-safe alphabet?), then decode straight from the input, copying it only
/// when it has line breaks to drop. Same results for the inputs the function accepts.
fn decode_base64_one_pass(input: &str) -> Option<Vec<u8>> {
    let payload = input.trim().as_bytes();
    let (mut space, mut url_safe) = (false, false);
    for chunk in payload.chunks(64) {
        let (s, u) = chunk.iter().fold((false, false), |(s, u), b| {
            (s | b.is_ascii_whitespace(), u | (*b == b'-') | (*b == b'_'))
        });
        space |= s;
        url_safe |= u;
    }
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let alphabet = if url_safe {
        &base64::alphabet::URL_SAFE
    } else {
        &base64::alphabet::STANDARD
    };
    let engine = GeneralPurpose::new(alphabet, config);
    if space {
        let cleaned: Vec<u8> = payload
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        engine.decode(cleaned).ok()
    } else {
        engine.decode(payload).ok()
    }
}

/// A proposal measured against `top_k::top_k`: sort packed integer keys instead of structs with
/// a `total_cmp` closure. Probabilities are validated finite and non-negative, so their bit
/// patterns order like their values (`+ 0.0` turns a `-0.0` into `0.0`); the complement gives
/// probability descending, the low half index ascending.
fn top_k_packed(probabilities: &[f64], k: usize) -> Vec<top_k::Ranked> {
    let mut keys: Vec<u128> = probabilities
        .iter()
        .enumerate()
        .map(|(index, p)| (u128::from(!(p + 0.0).to_bits()) << 64) | index as u128)
        .collect();
    let k = k.min(keys.len());
    if k == 0 {
        return Vec::new();
    }
    if k < keys.len() {
        keys.select_nth_unstable(k - 1);
        keys.truncate(k);
    }
    keys.sort_unstable();
    keys.into_iter()
        .map(|key| {
            let index = key as u64 as usize;
            top_k::Ranked {
                index,
                probability: probabilities[index],
            }
        })
        .collect()
}

/// The two top-k implementations side by side, for the classes count where it matters.
fn top_k_variants(c: &mut Criterion) {
    let mut group = c.benchmark_group("top_k_variants");
    for classes in [1_000, 21_843] {
        let probs = model_output::parse(&body(classes), ModelOutput::Probabilities).unwrap();
        for (label, k) in [("k=5", 5), ("k=all", classes)] {
            assert_eq!(top_k_packed(&probs, k), top_k::top_k(&probs, k));
            group.bench_with_input(
                BenchmarkId::new(format!("current_{label}"), classes),
                &probs,
                |b, p| b.iter(|| top_k::top_k(black_box(p), k)),
            );
            group.bench_with_input(
                BenchmarkId::new(format!("packed_{label}"), classes),
                &probs,
                |b, p| b.iter(|| top_k_packed(black_box(p), k)),
            );
        }
    }
    group.finish();
}

/// Base64 decoding of the image, the per-byte cost that grows with the image.
fn base64_decoding(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_base64");
    for size in [10_000usize, 4_000_000] {
        let image: Vec<u8> = (0..size).map(|i| (i * 131 % 251) as u8).collect();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&image);
        assert_eq!(
            decode_base64_one_pass(&encoded).as_deref(),
            Some(&image[..])
        );
        assert_eq!(
            request::decode_base64(&encoded, usize::MAX).ok().as_deref(),
            Some(&image[..])
        );
        group.throughput(Throughput::Bytes(encoded.len() as u64));
        group.bench_with_input(BenchmarkId::new("current", size), &encoded, |b, e| {
            b.iter(|| request::decode_base64(black_box(e), usize::MAX).unwrap());
        });
        group.bench_with_input(BenchmarkId::new("one_pass", size), &encoded, |b, e| {
            b.iter(|| decode_base64_one_pass(black_box(e)).unwrap());
        });
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
    targets = postprocess, base64_decoding, top_k_variants
}
criterion_main!(benches);

//! The non-serving subcommands: `logits` (feeds the float64 reference tests) and `bench`.

use std::collections::HashMap;
use std::io::{Cursor, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use candle_core::{Device, Tensor};

use crate::classifier::{Classifier, ClassifyError, ImageClassifier};
use crate::config::{BenchArgs, LogitsArgs};
use crate::model::{ModelError, NUM_CLASSES, softmax};
use crate::preprocess::{ImageLimits, image_to_tensor};

/// Why a tool failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The model could not be loaded.
    #[error("cannot load model: {0}")]
    Model(#[from] ModelError),
    /// The image could not be classified.
    #[error(transparent)]
    Classify(#[from] ClassifyError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Writing the output tensors failed.
    #[error("cannot write tensors: {0}")]
    Tensor(#[from] candle_core::Error),
}

fn read(path: &Path) -> Result<Vec<u8>, ToolError> {
    std::fs::read(path).map_err(|source| ToolError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Writes `input`, `logits` and `probabilities` of one image to a safetensors file.
///
/// # Errors
/// [`ToolError`] when the model, the image or the output file fails.
pub fn logits(args: &LogitsArgs) -> Result<(), ToolError> {
    let classifier = ImageClassifier::load(&args.model_dir, ImageLimits::default())?;
    let (input, logits) = classifier.input_and_logits(&read(&args.image)?)?;
    let probabilities = softmax(&logits);
    let tensors = HashMap::from([
        ("input".to_owned(), input),
        (
            "logits".to_owned(),
            Tensor::from_vec(logits, NUM_CLASSES, &Device::Cpu)?,
        ),
        (
            "probabilities".to_owned(),
            Tensor::from_vec(probabilities, NUM_CLASSES, &Device::Cpu)?,
        ),
    ]);
    candle_core::safetensors::save(&tensors, &args.out)?;
    Ok(())
}

/// A synthetic 640×480 JPEG photo stand-in for benchmarks.
fn synthetic_jpeg() -> Vec<u8> {
    let image = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([
            (x * 255 / 640) as u8,
            (y * 255 / 480) as u8,
            ((x ^ y) & 0xff) as u8,
        ])
    });
    let mut out = Cursor::new(Vec::new());
    // Encoding an in-memory RGB image cannot fail.
    let _ = image.write_to(&mut out, image::ImageFormat::Jpeg);
    out.into_inner()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    format!(
        "median {:.2} ms, p99 {:.2} ms, min {:.2} ms (n={})",
        percentile(&samples, 50.0),
        percentile(&samples, 99.0),
        percentile(&samples, 0.0),
        samples.len()
    )
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

/// Peak resident set size of this process in KiB (Linux `VmHWM`), if known.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Measures load time, single-thread and concurrent latency, and peak RSS; prints a report.
///
/// # Errors
/// [`ToolError`] when the model or image fails.
pub fn bench(args: &BenchArgs, out: &mut impl Write) -> Result<(), ToolError> {
    let io = |source| ToolError::Io {
        path: "stdout".to_owned(),
        source,
    };
    let image = match &args.image {
        Some(path) => read(path)?,
        None => synthetic_jpeg(),
    };
    let (classifier, load) =
        time(|| ImageClassifier::load(&args.model_dir, ImageLimits::default()));
    let classifier = classifier?;
    writeln!(out, "model load: {:.1} ms", load.as_secs_f64() * 1e3).map_err(io)?;
    writeln!(
        out,
        "candle threads per inference: {}",
        candle_core::utils::get_num_threads()
    )
    .map_err(io)?;

    let input = image_to_tensor(&image, ImageLimits::default()).map_err(ClassifyError::from)?;
    let iterations = args.iterations.max(1);
    for _ in 0..3 {
        classifier.model().forward(&input)?;
    }
    let mut forward = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let (result, elapsed) = time(|| classifier.model().forward(&input));
        result?;
        forward.push(elapsed);
    }
    writeln!(out, "forward pass (224x224): {}", summary(forward)).map_err(io)?;

    let mut preprocess = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let (result, elapsed) = time(|| image_to_tensor(&image, ImageLimits::default()));
        result.map_err(ClassifyError::from)?;
        preprocess.push(elapsed);
    }
    writeln!(out, "decode + preprocess: {}", summary(preprocess)).map_err(io)?;

    let mut end_to_end = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let (result, elapsed) = time(|| classifier.classify(&image));
        result?;
        end_to_end.push(elapsed);
    }
    writeln!(
        out,
        "decode + preprocess + forward + softmax, sequential: {}",
        summary(end_to_end)
    )
    .map_err(io)?;

    let threads = args.concurrency.max(1);
    let per_thread = iterations.div_ceil(threads);
    let (samples, wall) = time(|| {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        (0..per_thread)
                            .map(|_| {
                                let (result, elapsed) = time(|| classifier.classify(&image));
                                result.map(|_| elapsed)
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Ok(Vec::new())))
                .collect::<Result<Vec<_>, _>>()
        })
    });
    let samples: Vec<Duration> = samples?.into_iter().flatten().collect();
    let throughput = samples.len() as f64 / wall.as_secs_f64();
    writeln!(
        out,
        "end to end, {threads} concurrent: {}, {throughput:.1} images/s",
        summary(samples)
    )
    .map_err(io)?;
    match peak_rss_kib() {
        Some(kib) => writeln!(out, "peak RSS: {:.1} MiB", kib as f64 / 1024.0),
        None => writeln!(out, "peak RSS: unknown"),
    }
    .map_err(io)?;
    Ok(())
}

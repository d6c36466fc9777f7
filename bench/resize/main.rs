//! Benchmark: a 12 MP JPEG downscaled to 224 px, `fast_image_resize` against
//! `image::imageops::resize`, and what `PREPROCESS` costs and saves on a 4 MB photo.
//!
//! The function's own image pipeline (`function/src/image/`) is compiled in unchanged, so the
//! preprocessing numbers are those of the shipped code. Each case runs in a fresh child
//! process so that its peak RSS (`VmHWM`) is its own.
//!
//! ```text
//! cargo run --release --manifest-path bench/resize/Cargo.toml --target-dir target -- [--runs N]
//! ```

#![allow(clippy::print_stdout)]

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fast_image_resize::images::{Image as FrImage, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use ::image::{DynamicImage, ImageFormat, RgbImage};

#[allow(dead_code)]
#[path = "../../function/src/error.rs"]
mod error;
/// The function's `image` module (the `image` crate is `::image` here).
#[allow(dead_code)]
#[path = "../../function/src/image/mod.rs"]
mod image;

/// The budget of the smallest function the stack deploys.
const BUDGET: image::MemoryBudget = image::MemoryBudget::of_function(512);

/// 4000 × 3000: a 12 MP phone photo.
const WIDTH: u32 = 4000;
const HEIGHT: u32 = 3000;
/// Contain into 224 × 224 (EfficientNet-Lite0's input) keeps 4:3: 224 × 168.
const OUT: (u32, u32) = (224, 168);

const CASES: [(&str, &str); 7] = [
    (
        "baseline",
        "read the file only (the process's own footprint)",
    ),
    ("decode", "decode the JPEG only"),
    ("fir", "decode + fast_image_resize Lanczos3 to 224 px"),
    (
        "imageops",
        "decode + image::imageops::resize Lanczos3 to 224 px",
    ),
    (
        "imageops-triangle",
        "decode + image::imageops::resize Triangle to 224 px",
    ),
    (
        "preprocess",
        "image::transform, PREPROCESS defaults (512 px JPEG q90)",
    ),
    (
        "worst-case",
        "image::transform of a 40 MP RGBA PNG (the input limit) to 224 px",
    ),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = flag(&args, "--runs").map_or(10, |v| v.parse().expect("--runs N"));
    if let Some(case) = flag(&args, "--case") {
        let input = PathBuf::from(flag(&args, "--input").expect("--input FILE"));
        run_case(&case, &input, runs);
        return;
    }

    let input = std::env::temp_dir().join("sagefront-bench-12mp.jpg");
    let photo = photo_like_jpeg();
    std::fs::write(&input, &photo).expect("write the test photo");
    println!(
        "input: {WIDTH}x{HEIGHT} JPEG, {} bytes (synthetic, photo-like); {runs} runs per case, median",
        photo.len()
    );
    println!(
        "cpu: {}; {} logical cores",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!("| case | what | decode ms | resize ms | total ms | peak RSS MiB | output |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | --- |");
    let exe = std::env::current_exe().expect("own path");
    for (case, what) in CASES {
        let out = Command::new(&exe)
            .args(["--case", case, "--runs", &runs.to_string(), "--input"])
            .arg(&input)
            .output()
            .expect("run a case");
        assert!(
            out.status.success(),
            "{case}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8(out.stdout).expect("utf-8");
        println!("| `{case}` | {what} | {}", line.trim());
    }
    let _ = std::fs::remove_file(&input);
}

/// Runs one case `runs` times and prints the rest of its table row.
fn run_case(case: &str, input: &Path, runs: usize) {
    let bytes = std::fs::read(input).expect("read the input");
    let mut decode = Vec::new();
    let mut resize = Vec::new();
    let mut total = Vec::new();
    let mut output = String::new();
    for _ in 0..runs {
        let started = Instant::now();
        match case {
            "baseline" => {
                std::hint::black_box(&bytes);
            }
            "worst-case" => {
                let spec = image::Spec {
                    width: Some(OUT.0),
                    height: Some(OUT.0),
                    fit: image::Fit::Contain,
                    format: Some(image::OutputFormat::Png),
                    quality: image::spec::DEFAULT_JPEG_QUALITY,
                    enlarge: false,
                };
                let out = image::transform(&worst_case_png(), &spec, BUDGET).expect("transform");
                output = format!("{}x{} PNG", out.width, out.height);
            }
            "preprocess" => {
                let spec = image::Spec::shrink_to_jpeg(512);
                let out = image::transform(&bytes, &spec, BUDGET).expect("transform");
                output = format!(
                    "{}x{} JPEG, {} bytes ({:.1}% of the input)",
                    out.width,
                    out.height,
                    out.bytes.len(),
                    out.bytes.len() as f64 * 100.0 / bytes.len() as f64
                );
            }
            _ => {
                let image =
                    ::image::load_from_memory_with_format(&bytes, ImageFormat::Jpeg).expect("decode");
                decode.push(started.elapsed());
                let resize_started = Instant::now();
                let small = match case {
                    "decode" => None,
                    "fir" => Some(fir_lanczos3(&image, OUT)),
                    "imageops" => Some(image.resize_exact(
                        OUT.0,
                        OUT.1,
                        ::image::imageops::FilterType::Lanczos3,
                    )),
                    "imageops-triangle" => Some(image.resize_exact(
                        OUT.0,
                        OUT.1,
                        ::image::imageops::FilterType::Triangle,
                    )),
                    other => panic!("unknown case {other}"),
                };
                if let Some(small) = small {
                    resize.push(resize_started.elapsed());
                    output = format!("{}x{}", small.width(), small.height());
                }
            }
        }
        total.push(started.elapsed());
    }
    let ms = |v: &mut Vec<Duration>| {
        if v.is_empty() {
            "–".to_owned()
        } else {
            v.sort();
            format!("{:.1}", v[v.len() / 2].as_secs_f64() * 1000.0)
        }
    };
    println!(
        "{} | {} | {} | {:.0} | {} |",
        ms(&mut decode),
        ms(&mut resize),
        ms(&mut total),
        peak_rss_kib() as f64 / 1024.0,
        output
    );
}

/// What the function's pipeline does for an RGB image: Lanczos3 convolution into a new buffer.
fn fir_lanczos3(image: &DynamicImage, (w, h): (u32, u32)) -> DynamicImage {
    let rgb = image.as_rgb8().expect("JPEG decodes to RGB8");
    let src = ImageRef::new(rgb.width(), rgb.height(), rgb.as_raw(), PixelType::U8x3).unwrap();
    let mut dst = FrImage::new(w, h, PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new().resize(&src, &mut dst, &options).unwrap();
    DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, dst.into_vec()).unwrap())
}

/// A 12 MP JPEG that compresses like a photo (about 4 MB at quality 93): smooth shapes and
/// gradients for structure, plus per-pixel grain for the fine detail real sensors record.
fn photo_like_jpeg() -> Vec<u8> {
    let mut state = 0x853C_49E6_748F_EA9Bu64;
    let image = RgbImage::from_fn(WIDTH, HEIGHT, |x, y| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let (fx, fy) = (x as f32 / WIDTH as f32, y as f32 / HEIGHT as f32);
        let shape = ((fx * 23.0).sin() * (fy * 17.0).cos() + (fx * fy * 41.0).sin()) * 40.0;
        let grain = |shift: u32| ((state >> shift) & 15) as f32 - 8.0;
        let c = |base: f32, shift: u32| (base + shape + grain(shift)).clamp(0.0, 255.0) as u8;
        ::image::Rgb([
            c(90.0 + fx * 120.0, 0),
            c(110.0 + fy * 80.0, 8),
            c(150.0 - fx * 60.0, 16),
        ])
    });
    let mut out = Cursor::new(Vec::new());
    ::image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 93)
        .encode_image(&image)
        .expect("encode");
    out.into_inner()
}

/// 8000 × 5000 (exactly 40 MP) RGBA with a gradient and varying alpha: the largest input the
/// function decodes, in its widest 8-bit pixel type. Generated in the case's own process, so its
/// encoding buffers count towards that case's peak and time (an upper bound).
fn worst_case_png() -> Vec<u8> {
    let image = ::image::RgbaImage::from_fn(8000, 5000, |x, y| {
        ::image::Rgba([(x / 32) as u8, (y / 20) as u8, 128, ((x + y) / 64) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgba8(image)
        .write_to(&mut out, ImageFormat::Png)
        .expect("encode");
    out.into_inner()
}

/// Peak resident set size of this process, in KiB (`VmHWM` in /proc/self/status).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

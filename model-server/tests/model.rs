//! Tests with the real converted weights (`scripts/fetch-model .cache/model` makes them).
//!
//! The model directory is `$SAGEFRONT_MODEL_DIR`, else `<repo>/.cache/model`. When the weights
//! are missing these tests fail (never skip) and say how to make them. Exact numerics are
//! checked against the float64 numpy reference in `tests/python/test_reference.py`.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use sagefront_model_server::classifier::{Classifier, ImageClassifier, weights_path};
use sagefront_model_server::model::{INPUT_SIZE, NUM_CLASSES};
use sagefront_model_server::preprocess::{ImageLimits, image_to_tensor};
use sagefront_model_server::server::{AppState, ServerOptions, app};
use tower::ServiceExt;

fn model_dir() -> PathBuf {
    std::env::var_os("SAGEFRONT_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache/model"))
}

/// The classifier, loaded once for all tests of this file.
fn classifier() -> &'static Arc<ImageClassifier> {
    static MODEL: OnceLock<Arc<ImageClassifier>> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = model_dir();
        assert!(
            weights_path(&dir).is_file(),
            "model weights not found in {}: run scripts/fetch-model .cache/model \
             (or point SAGEFRONT_MODEL_DIR at a directory it made)",
            dir.display()
        );
        Arc::new(ImageClassifier::load(&dir, ImageLimits::default()).expect("weights load"))
    })
}

fn encode(image: &image::RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A synthetic "photo": smooth colour gradients with a few stripes.
fn synthetic(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        let stripe = if (x / 16 + y / 16) % 2 == 0 { 40 } else { 0 };
        image::Rgb([
            (x * 200 / w) as u8 + stripe,
            (y * 200 / h) as u8,
            120 + stripe,
        ])
    })
}

#[test]
fn loads_quickly_from_the_converted_weights() {
    let dir = model_dir();
    classifier(); // fails with the fetch-model hint when the weights are missing
    let started = Instant::now();
    ImageClassifier::load(&dir, ImageLimits::default()).unwrap();
    // The target is 200 ms in a release build; allow for a busy shared test machine.
    let elapsed = started.elapsed();
    assert!(elapsed.as_millis() < 2000, "load took {elapsed:?}");
}

#[test]
fn probabilities_are_a_distribution_over_1000_classes() {
    for format in [
        image::ImageFormat::Jpeg,
        image::ImageFormat::Png,
        image::ImageFormat::WebP,
    ] {
        let p = classifier()
            .classify(&encode(&synthetic(320, 240), format))
            .unwrap();
        assert_eq!(p.len(), NUM_CLASSES, "{format:?}");
        assert!(p.iter().all(|v| v.is_finite() && *v >= 0.0));
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{format:?}");
    }
}

#[test]
fn inference_is_deterministic() {
    let bytes = encode(&synthetic(257, 300), image::ImageFormat::Png);
    let a = classifier().classify(&bytes).unwrap();
    let b = classifier().classify(&bytes).unwrap();
    assert_eq!(a, b);
}

#[test]
fn different_images_give_different_predictions() {
    let a = classifier()
        .classify(&encode(&synthetic(224, 224), image::ImageFormat::Png))
        .unwrap();
    let grey = image::RgbImage::from_pixel(224, 224, image::Rgb([128, 128, 128]));
    let b = classifier()
        .classify(&encode(&grey, image::ImageFormat::Png))
        .unwrap();
    let diff: f32 = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum();
    assert!(diff > 0.01, "predictions barely differ ({diff})");
}

#[test]
fn preprocessing_yields_the_model_input_shape() {
    let t = image_to_tensor(
        &encode(&synthetic(640, 427), image::ImageFormat::Jpeg),
        ImageLimits::default(),
    )
    .unwrap();
    assert_eq!(t.dims(), &[3, INPUT_SIZE, INPUT_SIZE]);
    let logits = classifier().model().forward(&t).unwrap();
    assert_eq!(logits.len(), NUM_CLASSES);
}

#[tokio::test]
async fn runtime_route_serves_the_real_model() {
    let state = Arc::new(AppState::new(ServerOptions::default()));
    state.set_model(Arc::clone(classifier()) as Arc<dyn Classifier>);
    let request = Request::post("/endpoints/sagefront-local/invocations")
        .header(header::CONTENT_TYPE, "image/jpeg")
        .body(Body::from(encode(
            &synthetic(400, 300),
            image::ImageFormat::Jpeg,
        )))
        .unwrap();
    let response = app(state).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let p: Vec<f64> = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(p.len(), NUM_CLASSES);
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-4);
}

//! Helpers shared by the router and request-log test binaries: a fake classifier, the server
//! state serving given targets, and requests with SageMaker's headers.
#![allow(dead_code)] // each test binary uses a part of them

use std::io::Cursor;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, Response, header};
use sagefront_model_server::classifier::{Classifier, ClassifyError};
use sagefront_model_server::invocation::Served;
use sagefront_model_server::preprocess::{self, ImageLimits};
use sagefront_model_server::server::{AppState, ServerOptions, app};
use tower::ServiceExt;

pub const CLASSES: usize = 1000;

/// Decodes like the real classifier, then answers a fixed distribution peaked at class 3.
pub struct FakeClassifier;

impl Classifier for FakeClassifier {
    fn classify(&self, image: &[u8]) -> Result<Vec<f32>, ClassifyError> {
        preprocess::decode(image, ImageLimits::default())?;
        let mut p = vec![0.5 / (CLASSES - 1) as f32; CLASSES];
        p[3] = 0.5;
        Ok(p)
    }
}

pub fn png() -> Vec<u8> {
    let image =
        image::RgbImage::from_fn(32, 24, |x, y| image::Rgb([x as u8 * 8, y as u8 * 10, 99]));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

pub async fn send(state: &Arc<AppState>, request: Request<Body>) -> Response<Body> {
    app(Arc::clone(state)).oneshot(request).await.unwrap()
}

pub const IC: &str = "x-amzn-sagemaker-inference-component";
pub const TARGET_MODEL: &str = "x-amzn-sagemaker-target-model";
pub const VARIANT: &str = "x-amzn-sagemaker-target-variant";
pub const HOSTNAME: &str = "x-amzn-sagemaker-target-container-hostname";
pub const INFERENCE_ID: &str = "x-amzn-sagemaker-inference-id";
pub const CUSTOM_ATTRIBUTES: &str = "x-amzn-sagemaker-custom-attributes";
pub const RUNTIME: &str = "/endpoints/sagefront-local/invocations";

/// A loaded server whose endpoints serve these models and containers, with variant `Blue`
/// when `blue`.
pub fn serving(models: &[&str], hostnames: &[&str], blue: bool) -> Arc<AppState> {
    let mut served = Served {
        models: models.iter().map(|s| (*s).to_owned()).collect(),
        container_hostnames: hostnames.iter().map(|s| (*s).to_owned()).collect(),
        ..Served::default()
    };
    if blue {
        "Blue".clone_into(&mut served.variant);
    }
    let state = Arc::new(AppState::new(ServerOptions {
        served,
        max_concurrency: 2,
        ..ServerOptions::default()
    }));
    state.set_model(Arc::new(FakeClassifier));
    state
}

/// A PNG invocation of `uri` with extra headers.
pub fn invoke_with(uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::post(uri).header(header::CONTENT_TYPE, "image/png");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Body::from(png())).unwrap()
}

//! The request log line: every invocation's inference id and targets, never its custom
//! attributes.
//!
//! A test binary of its own: the subscriber is the thread's default (`set_default`), and with
//! the router tests running beside it on other threads the line was not captured (tracing's
//! callsite registration races with the scoped subscriber); alone in its process it is.

use std::io::Cursor;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use sagefront_model_server::classifier::{Classifier, ClassifyError};
use sagefront_model_server::invocation::Served;
use sagefront_model_server::preprocess::{self, ImageLimits};
use sagefront_model_server::server::{AppState, ServerOptions, app};
use tower::ServiceExt;

const IC: &str = "x-amzn-sagemaker-inference-component";
const VARIANT: &str = "x-amzn-sagemaker-target-variant";
const INFERENCE_ID: &str = "x-amzn-sagemaker-inference-id";
const CUSTOM_ATTRIBUTES: &str = "x-amzn-sagemaker-custom-attributes";
const RUNTIME: &str = "/endpoints/sagefront-local/invocations";

/// Decodes like the real classifier, then answers a fixed distribution.
struct FakeClassifier;

impl Classifier for FakeClassifier {
    fn classify(&self, image: &[u8]) -> Result<Vec<f32>, ClassifyError> {
        preprocess::decode(image, ImageLimits::default())?;
        Ok(vec![0.25; 4])
    }
}

/// A loaded server whose endpoint serves these inference components.
fn serving(models: &[&str]) -> Arc<AppState> {
    let served = Served {
        models: models.iter().map(|s| (*s).to_owned()).collect(),
        ..Served::default()
    };
    let state = Arc::new(AppState::new(ServerOptions {
        served,
        max_concurrency: 2,
        ..ServerOptions::default()
    }));
    state.set_model(Arc::new(FakeClassifier));
    state
}

/// A PNG invocation of `uri` with extra headers.
fn invoke_with(uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let image =
        image::RgbImage::from_fn(32, 24, |x, y| image::Rgb([x as u8 * 8, y as u8 * 10, 99]));
    let mut png = Cursor::new(Vec::new());
    image.write_to(&mut png, image::ImageFormat::Png).unwrap();
    let mut request = Request::post(uri).header(header::CONTENT_TYPE, "image/png");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Body::from(png.into_inner())).unwrap()
}

async fn send(state: &Arc<AppState>, request: Request<Body>) -> Response<Body> {
    app(Arc::clone(state)).oneshot(request).await.unwrap()
}

/// Collects what the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn every_invocation_logs_its_inference_id_and_targets_but_not_custom_attributes() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let state = serving(&["ic-a"]);
    let ok = invoke_with(
        RUNTIME,
        &[
            (IC, "ic-a"),
            (VARIANT, "AllTraffic"),
            (INFERENCE_ID, "req-ok-1"),
            (CUSTOM_ATTRIBUTES, "secret-attribute"),
        ],
    );
    assert_eq!(send(&state, ok).await.status(), StatusCode::OK);
    let refused = invoke_with(RUNTIME, &[(IC, "ic-z"), (INFERENCE_ID, "req-refused-2")]);
    assert_eq!(
        send(&state, refused).await.status(),
        StatusCode::BAD_REQUEST
    );
    let container = invoke_with("/invocations", &[(INFERENCE_ID, "req-container-3")]);
    assert_eq!(send(&state, container).await.status(), StatusCode::OK);

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(!text.contains("secret-attribute"), "{text}");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|l: &serde_json::Value| l["message"] == "request")
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0]["inference_id"], "req-ok-1");
    assert_eq!(lines[0]["inference_component"], "ic-a");
    assert_eq!(lines[0]["target_variant"], "AllTraffic");
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[1]["inference_id"], "req-refused-2");
    assert_eq!(lines[1]["inference_component"], "ic-z");
    assert_eq!(lines[1]["status"], 400);
    assert_eq!(lines[2]["inference_id"], "req-container-3");
    assert_eq!(lines[2]["path"], "/invocations");
}

//! Router tests without a socket: requests go through `tower::ServiceExt::oneshot`, and a fake
//! classifier (real format sniffing and decoding, fixed probabilities) stands in for the model.

use std::io::Cursor;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use sagefront_model_server::classifier::{Classifier, ClassifyError};
use sagefront_model_server::model::ModelError;
use sagefront_model_server::preprocess::{self, ImageLimits};
use sagefront_model_server::server::{AppState, MAX_BODY_BYTES, ServerOptions, app};
use tower::ServiceExt;

const CLASSES: usize = 1000;

/// Decodes like the real classifier, then answers a fixed distribution peaked at class 3.
struct FakeClassifier;

impl Classifier for FakeClassifier {
    fn classify(&self, image: &[u8]) -> Result<Vec<f32>, ClassifyError> {
        preprocess::decode(image, ImageLimits::default())?;
        let mut p = vec![0.5 / (CLASSES - 1) as f32; CLASSES];
        p[3] = 0.5;
        Ok(p)
    }
}

/// Fails on every image, as a broken model would.
struct BrokenClassifier;

impl Classifier for BrokenClassifier {
    fn classify(&self, _image: &[u8]) -> Result<Vec<f32>, ClassifyError> {
        Err(ModelError::Input(vec![1, 2, 3]).into())
    }
}

fn state_with(model: Option<Arc<dyn Classifier>>) -> Arc<AppState> {
    let state = Arc::new(AppState::new(ServerOptions {
        endpoint_names: vec!["sagefront-local".to_owned(), "other".to_owned()],
        max_concurrency: 2,
        ..ServerOptions::default()
    }));
    if let Some(model) = model {
        state.set_model(model);
    }
    state
}

fn loaded() -> Arc<AppState> {
    state_with(Some(Arc::new(FakeClassifier)))
}

fn png() -> Vec<u8> {
    let image =
        image::RgbImage::from_fn(32, 24, |x, y| image::Rgb([x as u8 * 8, y as u8 * 10, 99]));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn post(uri: &str, content_type: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap()
}

async fn send(state: &Arc<AppState>, request: Request<Body>) -> Response<Body> {
    app(Arc::clone(state)).oneshot(request).await.unwrap()
}

async fn json(response: Response<Body>) -> serde_json::Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {bytes:?}"))
}

fn assert_probabilities(value: &serde_json::Value) {
    let p: Vec<f64> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(p.len(), CLASSES);
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-4);
}

#[tokio::test]
async fn ping_is_503_before_the_model_loads_and_200_after() {
    let state = state_with(None);
    let ping = || Request::get("/ping").body(Body::empty()).unwrap();
    assert_eq!(
        send(&state, ping()).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    state.set_model(Arc::new(FakeClassifier));
    assert_eq!(send(&state, ping()).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn invocations_returns_a_json_array_of_probabilities() {
    let response = send(&loaded(), post("/invocations", "image/png", png())).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    assert!(response.headers().contains_key("x-amzn-requestid"));
    let body = json(response).await;
    assert_probabilities(&body);
    assert_eq!(body[3], 0.5);
}

#[tokio::test]
async fn runtime_route_answers_like_invoke_endpoint() {
    for endpoint in ["sagefront-local", "other"] {
        let uri = format!("/endpoints/{endpoint}/invocations");
        let response = send(&loaded(), post(&uri, "application/x-image", png())).await;
        assert_eq!(response.status(), StatusCode::OK, "{endpoint}");
        assert_eq!(
            response.headers()["x-amzn-invoked-production-variant"],
            "AllTraffic"
        );
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        assert_probabilities(&json(response).await);
    }
}

#[tokio::test]
async fn content_type_header_is_not_trusted_for_the_format() {
    // PNG bytes labelled JPEG still work: the format is sniffed.
    let response = send(&loaded(), post("/invocations", "image/jpeg", png())).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_endpoint_is_a_validation_error() {
    let response = send(
        &loaded(),
        post("/endpoints/nope/invocations", "image/png", png()),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()["x-amzn-errortype"], "ValidationError");
    let body = json(response).await;
    assert_eq!(
        body["message"],
        "Endpoint nope of account 000000000000 not found."
    );
}

#[tokio::test]
async fn wrong_content_type_is_415_or_a_model_error_carrying_415() {
    let state = loaded();
    let response = send(
        &state,
        post("/invocations", "application/json", b"{}".to_vec()),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let no_type = Request::post("/invocations")
        .body(Body::from(png()))
        .unwrap();
    assert_eq!(
        send(&state, no_type).await.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );

    let response = send(
        &state,
        post(
            "/endpoints/sagefront-local/invocations",
            "text/csv",
            b"1,2".to_vec(),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FAILED_DEPENDENCY);
    assert_eq!(response.headers()["x-amzn-errortype"], "ModelError");
    assert_eq!(json(response).await["OriginalStatusCode"], 415);
}

#[tokio::test]
async fn corrupt_image_is_400_or_a_model_error_carrying_400() {
    let state = loaded();
    let mut truncated = png();
    truncated.truncate(truncated.len() / 2);
    for body in [b"not an image at all".to_vec(), truncated, Vec::new()] {
        let response = send(&state, post("/invocations", "image/png", body.clone())).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(
            json(response).await["message"]
                .as_str()
                .unwrap()
                .contains("image")
        );

        let response = send(
            &state,
            post("/endpoints/sagefront-local/invocations", "image/png", body),
        )
        .await;
        assert_eq!(response.status(), StatusCode::FAILED_DEPENDENCY);
        assert_eq!(response.headers()["x-amzn-errortype"], "ModelError");
        let body = json(response).await;
        assert_eq!(body["OriginalStatusCode"], 400);
        assert!(
            body["Message"]
                .as_str()
                .unwrap()
                .starts_with("Received client error (400) from primary")
        );
        assert!(
            body["LogStreamArn"]
                .as_str()
                .unwrap()
                .ends_with("/aws/sagemaker/Endpoints/sagefront-local")
        );
        assert!(body["OriginalMessage"].is_string());
    }
}

#[tokio::test]
async fn oversized_body_is_413() {
    let state = loaded();
    let big = vec![0u8; MAX_BODY_BYTES + 1];
    let response = send(&state, post("/invocations", "image/jpeg", big.clone())).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        json(response).await["message"]
            .as_str()
            .unwrap()
            .contains("limit")
    );

    let response = send(
        &state,
        post("/endpoints/sagefront-local/invocations", "image/jpeg", big),
    )
    .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.headers()["x-amzn-errortype"], "ValidationError");

    // Exactly at the limit is read (and then rejected as an image, not for its size).
    let response = send(
        &state,
        post("/invocations", "image/jpeg", vec![0u8; MAX_BODY_BYTES]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn accept_header_selects_json_or_json_lines() {
    let state = loaded();
    let with_accept = |accept: &str| {
        Request::post("/invocations")
            .header(header::CONTENT_TYPE, "image/png")
            .header(header::ACCEPT, accept)
            .body(Body::from(png()))
            .unwrap()
    };
    let response = send(&state, with_accept("application/json")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_probabilities(&json(response).await);

    let response = send(&state, with_accept("*/*")).await;
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");

    let response = send(&state, with_accept("application/jsonlines")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/jsonlines"
    );
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    assert!(bytes.ends_with(b"}\n"));
    let line: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_probabilities(&line["prediction"]);

    let response = send(&state, with_accept("text/csv")).await;
    assert_eq!(response.status(), StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn invoking_before_the_model_loads_is_not_ready() {
    let state = state_with(None);
    let response = send(&state, post("/invocations", "image/png", png())).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let response = send(
        &state,
        post("/endpoints/sagefront-local/invocations", "image/png", png()),
    )
    .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        response.headers()["x-amzn-errortype"],
        "ModelNotReadyException"
    );
}

#[tokio::test]
async fn model_failure_is_500_without_details() {
    let state = state_with(Some(Arc::new(BrokenClassifier)));
    let response = send(&state, post("/invocations", "image/png", png())).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(json(response).await["message"], "inference failed");

    let response = send(
        &state,
        post("/endpoints/sagefront-local/invocations", "image/png", png()),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FAILED_DEPENDENCY);
    let body = json(response).await;
    assert_eq!(body["OriginalStatusCode"], 500);
    assert!(!body.to_string().contains("shape"));
}

#[tokio::test]
async fn unknown_routes_and_methods_are_rejected() {
    let state = loaded();
    let response = send(&state, Request::get("/nope").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = send(
        &state,
        Request::get("/invocations").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

// ---- Test-only fault injection (`--fault-injection`) ----

fn with_faults() -> Arc<AppState> {
    let state = Arc::new(AppState::new(ServerOptions {
        fault_injection: true,
        ..ServerOptions::default()
    }));
    state.set_model(Arc::new(FakeClassifier));
    state
}

fn put_fault(body: &str) -> Request<Body> {
    Request::put("/faults")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn fault_routes_do_not_exist_without_the_flag() {
    let state = loaded();
    let response = send(&state, put_fault(r#"{"mode": "model_error"}"#)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = send(
        &state,
        post("/endpoints/sagefront-local/invocations", "image/png", png()),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn injected_faults_answer_in_sagemaker_shapes_and_off_restores_inference() {
    let state = with_faults();
    let invoke = || post("/endpoints/sagefront-local/invocations", "image/png", png());

    assert_eq!(
        send(&state, put_fault(r#"{"mode": "model_error"}"#))
            .await
            .status(),
        StatusCode::OK
    );
    let response = send(&state, invoke()).await;
    assert_eq!(response.status().as_u16(), 424);
    assert_eq!(response.headers()["x-amzn-errortype"], "ModelError");

    send(&state, put_fault(r#"{"mode": "empty"}"#)).await;
    let response = send(&state, invoke()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await, serde_json::json!([]));

    send(&state, put_fault(r#"{"mode": "off"}"#)).await;
    let response = send(&state, invoke()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_probabilities(&json(response).await);
}

#[tokio::test]
async fn a_bad_fault_setting_is_rejected() {
    let state = with_faults();
    let response = send(&state, put_fault(r#"{"mode": "delay", "delay_ms": 0}"#)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

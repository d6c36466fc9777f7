//! Router tests without a socket: requests go through `tower::ServiceExt::oneshot`, and a fake
//! classifier (real format sniffing and decoding, fixed probabilities) stands in for the model.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use sagefront_model_server::classifier::{Classifier, ClassifyError};
use sagefront_model_server::invocation::Served;
use sagefront_model_server::model::ModelError;
use sagefront_model_server::server::{AppState, MAX_BODY_BYTES, ServerOptions};

mod support;
use support::*;

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

fn post(uri: &str, content_type: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap()
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

// ---- SageMaker's target headers, inference id and custom attributes ----

/// Asserts a 400 ValidationError and returns its body.
async fn validation_error(response: Response<Body>) -> serde_json::Value {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()["x-amzn-errortype"], "ValidationError");
    assert!(!response.headers().contains_key(CUSTOM_ATTRIBUTES));
    json(response).await
}

#[tokio::test]
async fn a_plain_endpoint_serves_requests_without_targets_and_its_own_variant() {
    let state = serving(&[], &[], false);
    let response = send(&state, invoke_with(RUNTIME, &[(VARIANT, "AllTraffic")])).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_probabilities(&json(response).await);
}

#[tokio::test]
async fn an_inference_component_on_a_plain_endpoint_is_not_allowed() {
    let state = serving(&[], &[], false);
    let body = validation_error(send(&state, invoke_with(RUNTIME, &[(IC, "ic-a")])).await).await;
    assert_eq!(
        body["Message"],
        "Inference Component Name header is not allowed for endpoints to which you dont plan to \
         deploy inference components. Please remove the Inference Component Name header and try \
         again."
    );
}

#[tokio::test]
async fn a_target_model_on_a_plain_endpoint_is_not_supported() {
    let state = serving(&[], &[], false);
    let body =
        validation_error(send(&state, invoke_with(RUNTIME, &[(TARGET_MODEL, "a.tar.gz")])).await)
            .await;
    assert_eq!(body["ErrorCode"], "TARGET_MODEL_HEADER_NOT_SUPPORTED");
    assert_eq!(
        body["Message"],
        "Endpoint sagefront-local is not a multi-model endpoint and does not support target \
         model header."
    );
}

#[tokio::test]
async fn named_models_are_served_through_either_header() {
    let state = serving(&["ic-a", "ic-b"], &[], false);
    for headers in [
        &[(IC, "ic-a")][..],
        &[(IC, "ic-b")],
        &[(TARGET_MODEL, "ic-b")],
        &[(IC, "ic-a"), (TARGET_MODEL, "ic-b")],
    ] {
        let response = send(&state, invoke_with(RUNTIME, headers)).await;
        assert_eq!(response.status(), StatusCode::OK, "{headers:?}");
        assert_probabilities(&json(response).await);
    }
}

#[tokio::test]
async fn an_endpoint_with_named_models_requires_the_inference_component_header() {
    let state = serving(&["ic-a"], &[], false);
    let body = validation_error(send(&state, invoke_with(RUNTIME, &[])).await).await;
    assert_eq!(body["ErrorCode"], "INFERENCE_COMPONENT_NAME_MISSING");
    assert_eq!(
        body["Message"],
        "Inference Component Name header is required for endpoints to which you plan to deploy \
         inference components. Please include Inference Component Name header or consider using \
         SageMaker models."
    );
}

#[tokio::test]
async fn unknown_components_and_target_models_are_validation_errors() {
    let state = serving(&["ic-a"], &[], false);
    let body = validation_error(send(&state, invoke_with(RUNTIME, &[(IC, "ic-z")])).await).await;
    assert_eq!(
        body["Message"],
        "Inference Component ic-z of account 000000000000 not found."
    );
    let body = validation_error(
        send(
            &state,
            invoke_with(RUNTIME, &[(IC, "ic-a"), (TARGET_MODEL, "z.tar.gz")]),
        )
        .await,
    )
    .await;
    assert_eq!(
        body["Message"],
        "Target model z.tar.gz not found for endpoint sagefront-local."
    );
}

#[tokio::test]
async fn only_the_configured_variant_is_served_and_reported() {
    let state = serving(&[], &[], true);
    let response = send(&state, invoke_with(RUNTIME, &[(VARIANT, "Blue")])).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["x-amzn-invoked-production-variant"],
        "Blue"
    );
    let response = send(&state, invoke_with(RUNTIME, &[])).await;
    assert_eq!(
        response.headers()["x-amzn-invoked-production-variant"],
        "Blue"
    );

    let body =
        validation_error(send(&state, invoke_with(RUNTIME, &[(VARIANT, "AllTraffic")])).await)
            .await;
    assert_eq!(
        body["Message"],
        "Target variant AllTraffic not found for endpoint sagefront-local."
    );
}

#[tokio::test]
async fn container_hostnames_are_refused_without_direct_invocation_and_required_with_it() {
    let plain = serving(&[], &[], false);
    let body =
        validation_error(send(&plain, invoke_with(RUNTIME, &[(HOSTNAME, "c1")])).await).await;
    assert!(
        body["Message"]
            .as_str()
            .unwrap()
            .contains("is not configured for direct invocation"),
        "{body}"
    );

    let direct = serving(&[], &["c1", "c2"], false);
    let response = send(&direct, invoke_with(RUNTIME, &[(HOSTNAME, "c2")])).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = validation_error(send(&direct, invoke_with(RUNTIME, &[])).await).await;
    assert!(
        body["Message"]
            .as_str()
            .unwrap()
            .starts_with("Target container hostname header is required"),
        "{body}"
    );
    let body =
        validation_error(send(&direct, invoke_with(RUNTIME, &[(HOSTNAME, "c3")])).await).await;
    assert_eq!(
        body["Message"],
        "Target container hostname c3 not found for endpoint sagefront-local."
    );
}

#[tokio::test]
async fn an_invalid_inference_id_is_refused_on_both_routes() {
    let state = serving(&[], &[], false);
    let long = "i".repeat(65);
    let expected = format!(
        "1 validation error detected: Value '{long}' at 'inferenceId' failed to satisfy \
         constraint: Member must have length less than or equal to 64"
    );
    let body =
        validation_error(send(&state, invoke_with(RUNTIME, &[(INFERENCE_ID, &long)])).await).await;
    assert_eq!(body["message"], expected);
    let response = send(
        &state,
        invoke_with("/invocations", &[(INFERENCE_ID, &long)]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(response).await["message"], expected);

    // Empty, or starting with a space (hyper would trim one, a proxy might not).
    for bad in ["", " x"] {
        let body =
            validation_error(send(&state, invoke_with(RUNTIME, &[(INFERENCE_ID, bad)])).await)
                .await;
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("at 'inferenceId'"),
            "{body}"
        );
    }
    // Exactly 64 printable characters is valid.
    let ok = "a-Z_0 9.:/".repeat(7)[..64].to_owned();
    let response = send(&state, invoke_with(RUNTIME, &[(INFERENCE_ID, &ok)])).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn header_constraints_are_checked_before_the_endpoint_and_the_body() {
    let state = serving(&[], &[], false);
    let response = send(
        &state,
        invoke_with("/endpoints/nope/invocations", &[(INFERENCE_ID, "")]),
    )
    .await;
    let body = validation_error(response).await;
    assert!(body["message"].as_str().unwrap().contains("'inferenceId'"));

    // A refused target is refused before the model sees the (corrupt) body.
    let request = Request::post(RUNTIME)
        .header(header::CONTENT_TYPE, "application/json")
        .header(IC, "ic-a")
        .body(Body::from("{}"))
        .unwrap();
    validation_error(send(&state, request).await).await;
}

#[tokio::test]
async fn custom_attributes_are_echoed_on_success_on_both_routes() {
    let state = serving(&["ic-a"], &[], false);
    let attributes = "accept_eula=true; trace-id=abc 123";
    for (uri, extra) in [(RUNTIME, Some((IC, "ic-a"))), ("/invocations", None)] {
        let mut headers = vec![(CUSTOM_ATTRIBUTES, attributes)];
        headers.extend(extra);
        let response = send(&state, invoke_with(uri, &headers)).await;
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        assert_eq!(response.headers()[CUSTOM_ATTRIBUTES], attributes, "{uri}");
    }
    // None sent, none answered.
    let response = send(&state, invoke_with(RUNTIME, &[(IC, "ic-a")])).await;
    assert!(!response.headers().contains_key(CUSTOM_ATTRIBUTES));
    // Not echoed when the model fails.
    let request = Request::post(RUNTIME)
        .header(header::CONTENT_TYPE, "image/png")
        .header(IC, "ic-a")
        .header(CUSTOM_ATTRIBUTES, attributes)
        .body(Body::from("not a png"))
        .unwrap();
    let response = send(&state, request).await;
    assert_eq!(response.status(), StatusCode::FAILED_DEPENDENCY);
    assert!(!response.headers().contains_key(CUSTOM_ATTRIBUTES));
}

#[tokio::test]
async fn oversized_or_non_ascii_custom_attributes_are_refused_without_quoting_them() {
    let state = serving(&[], &[], false);
    let body = validation_error(
        send(
            &state,
            invoke_with(RUNTIME, &[(CUSTOM_ATTRIBUTES, &"a".repeat(1025))]),
        )
        .await,
    )
    .await;
    assert_eq!(
        body["message"],
        "1 validation error detected: Value at 'customAttributes' failed to satisfy constraint: \
         Member must have length less than or equal to 1024"
    );
    let response = send(
        &state,
        invoke_with(RUNTIME, &[(CUSTOM_ATTRIBUTES, &"a".repeat(1024))]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);

    let non_ascii = Request::post("/invocations")
        .header(header::CONTENT_TYPE, "image/png")
        .header(
            CUSTOM_ATTRIBUTES,
            axum::http::HeaderValue::from_bytes(b"token=s\xc3\xa9cret").unwrap(),
        )
        .body(Body::from(png()))
        .unwrap();
    let response = send(&state, non_ascii).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let message = json(response).await["message"].as_str().unwrap().to_owned();
    assert!(message.contains("at 'customAttributes'"), "{message}");
    assert!(!message.contains("token"), "{message}");
}

#[tokio::test]
async fn target_checks_come_before_injected_faults() {
    let state = Arc::new(AppState::new(ServerOptions {
        fault_injection: true,
        served: Served {
            models: vec!["ic-a".to_owned()],
            ..Served::default()
        },
        ..ServerOptions::default()
    }));
    state.set_model(Arc::new(FakeClassifier));
    send(&state, put_fault(r#"{"mode": "model_error"}"#)).await;
    validation_error(send(&state, invoke_with(RUNTIME, &[(IC, "ic-z")])).await).await;
    let response = send(&state, invoke_with(RUNTIME, &[(IC, "ic-a")])).await;
    assert_eq!(response.status(), StatusCode::FAILED_DEPENDENCY);
}

#[tokio::test]
async fn a_json_body_is_a_model_error_carrying_the_containers_own_415_answer() {
    let state = loaded();
    let json_request = |uri: &str| {
        Request::post(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"inputs": "hello"}"#))
            .unwrap()
    };
    let container = send(&state, json_request("/invocations")).await;
    assert_eq!(container.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let container_body = container.into_body().collect().await.unwrap().to_bytes();

    let response = send(&state, json_request(RUNTIME)).await;
    assert_eq!(response.status(), StatusCode::FAILED_DEPENDENCY);
    assert_eq!(response.headers()["x-amzn-errortype"], "ModelError");
    let body = json(response).await;
    assert_eq!(body["OriginalStatusCode"], 415);
    assert_eq!(body["ErrorCode"], "CLIENT_ERROR_FROM_MODEL");
    // SageMaker's OriginalMessage is the container's response body, verbatim.
    let original = body["OriginalMessage"].as_str().unwrap();
    assert_eq!(original.as_bytes(), container_body.as_ref());
    assert!(
        original.contains(r#"unsupported content type \"application/json\""#),
        "{original}"
    );
    assert!(body["Message"].as_str().unwrap().starts_with(&format!(
        "Received client error (415) from primary with message \"{original}\"."
    )));
}

//! Handler tests: every row of the API contract, through a fake endpoint.
//!
//! Requests are built two ways: `lambda_http` request builders for the common cases, and real
//! API Gateway / Function URL events from `tests/data` parsed by lambda_http's deserialiser.

use std::sync::Mutex;

use base64::Engine as _;
use bytes::Bytes;
use lambda_http::http::{Method, Request as HttpRequest, StatusCode};
use lambda_http::{Body, Context, Request, RequestExt, Response};
use sagefront_function::config::Config;
use sagefront_function::endpoint::{Endpoint, InvokeError};
use sagefront_function::handler::App;
use sagefront_function::labels::Labels;
use serde_json::{Value, json};

/// A tiny byte string that sniffs as JPEG; the fake endpoint never decodes it.
const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00fake image bytes";

/// Records every call and answers with a fixed result.
struct FakeEndpoint {
    answer: Result<Bytes, InvokeError>,
    calls: Mutex<Vec<(Bytes, String)>>,
}

impl FakeEndpoint {
    fn answering(body: &str) -> Self {
        Self {
            answer: Ok(Bytes::copy_from_slice(body.as_bytes())),
            calls: Mutex::new(Vec::new()),
        }
    }
    fn failing(err: InvokeError) -> Self {
        Self {
            answer: Err(err),
            calls: Mutex::new(Vec::new()),
        }
    }
}

impl Endpoint for &FakeEndpoint {
    async fn invoke(&self, body: Bytes, content_type: &str) -> Result<Bytes, InvokeError> {
        self.calls
            .lock()
            .unwrap()
            .push((body, content_type.to_owned()));
        self.answer.clone()
    }
}

fn config(extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![("ENDPOINT_NAME", "test-endpoint")];
    vars.extend_from_slice(extra);
    Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap()
}

const FIVE: &str = "[0.05, 0.5, 0.2, 0.2, 0.05]";

fn labels() -> Labels {
    Labels::parse("zero\none\ntwo\nthree\nfour\n").unwrap()
}

fn app<'a>(endpoint: &'a FakeEndpoint, extra: &[(&str, &str)]) -> App<&'a FakeEndpoint> {
    App::new(config(extra), labels(), endpoint)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn post(path: &str, content_type: Option<&str>, body: impl Into<Body>) -> Request {
    let mut b = HttpRequest::builder().method(Method::POST).uri(path);
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    b.body(body.into()).unwrap()
}

fn post_json(path: &str, body: &Value) -> Request {
    post(path, Some("application/json"), body.to_string())
}

async fn call(app: &App<&FakeEndpoint>, req: Request) -> (StatusCode, Value, Response<Body>) {
    let resp = app.handle(req).await;
    let json = match resp.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
        Body::Empty => Value::Null,
        _ => Value::Null,
    };
    (resp.status(), json, resp)
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}

fn indices(body: &Value) -> Vec<u64> {
    body["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["index"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn health_returns_ok_without_calling_the_model() {
    let ep = FakeEndpoint::answering(FIVE);
    let req = HttpRequest::builder()
        .method(Method::GET)
        .uri("/health")
        .body(Body::Empty)
        .unwrap();
    let (status, body, resp) = call(&app(&ep, &[]), req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok"}));
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert!(ep.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn json_request_returns_top_k_sorted_with_labels_and_class_count() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, body, _) = call(
        &app(&ep, &[]),
        post_json("/predictions", &json!({"image": b64(JPEG), "k": 3})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"predictions": [
            {"index": 1, "label": "one", "probability": 0.5},
            {"index": 2, "label": "two", "probability": 0.2},
            {"index": 3, "label": "three", "probability": 0.2}
        ], "classes": 5})
    );
    let calls = ep.calls.lock().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        &calls[0].0[..],
        JPEG,
        "the image bytes reach the model unchanged"
    );
    assert_eq!(calls[0].1, "application/x-image");
}

#[tokio::test]
async fn the_original_request_shape_data_and_topk_works_on_the_root_route() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, body, _) = call(
        &app(&ep, &[]),
        post_json("/", &json!({"data": b64(JPEG), "topk": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(indices(&body), vec![1]);
}

#[tokio::test]
async fn image_wins_when_both_image_and_data_are_sent() {
    let ep = FakeEndpoint::answering(FIVE);
    let other = b"\xFF\xD8\xFF\xE1 other";
    let req = post_json(
        "/predictions",
        &json!({"image": b64(JPEG), "data": b64(other)}),
    );
    let (status, _, _) = call(&app(&ep, &[]), req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&ep.calls.lock().unwrap()[0].0[..], JPEG);
}

#[tokio::test]
async fn curl_d_body_without_json_content_type_is_read_as_json() {
    let ep = FakeEndpoint::answering(FIVE);
    let body = json!({"image": b64(JPEG), "k": 2}).to_string();
    for ct in [
        None,
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
    ] {
        let (status, body, _) = call(&app(&ep, &[]), post("/predictions", ct, body.clone())).await;
        assert_eq!(status, StatusCode::OK, "{ct:?}: {body}");
        assert_eq!(indices(&body), vec![1, 2]);
    }
}

#[tokio::test]
async fn raw_image_body_with_query_k() {
    let ep = FakeEndpoint::answering(FIVE);
    for ct in [
        "image/jpeg",
        "image/png",
        "image/webp",
        "application/x-image",
        "application/octet-stream",
    ] {
        let (status, body, _) = call(
            &app(&ep, &[]),
            post("/predictions?k=2", Some(ct), JPEG.to_vec()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{ct}");
        assert_eq!(indices(&body), vec![1, 2], "{ct}");
    }
}

#[tokio::test]
async fn base64_with_line_breaks_and_data_urls_is_accepted() {
    let ep = FakeEndpoint::answering(FIVE);
    let wrapped: String = b64(JPEG)
        .as_bytes()
        .chunks(8)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    for image in [wrapped, format!("data:image/jpeg;base64,{}", b64(JPEG))] {
        let (status, _, _) = call(
            &app(&ep, &[]),
            post_json("/predictions", &json!({"image": image})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    assert!(ep.calls.lock().unwrap().iter().all(|(b, _)| &b[..] == JPEG));
}

#[tokio::test]
async fn without_k_all_classes_are_returned_like_the_original() {
    let ep = FakeEndpoint::answering(FIVE);
    let (_, body, _) = call(
        &app(&ep, &[]),
        post_json("/predictions", &json!({"image": b64(JPEG)})),
    )
    .await;
    assert_eq!(indices(&body), vec![1, 2, 3, 0, 4]);
}

#[tokio::test]
async fn without_k_default_top_k_applies() {
    let ep = FakeEndpoint::answering(FIVE);
    let (_, body, _) = call(
        &app(&ep, &[("DEFAULT_TOP_K", "2")]),
        post_json("/predictions", &json!({"image": b64(JPEG)})),
    )
    .await;
    assert_eq!(indices(&body), vec![1, 2]);
}

#[tokio::test]
async fn k_larger_than_the_class_count_returns_all_classes() {
    let ep = FakeEndpoint::answering(FIVE);
    for k in [json!(6), json!(1_000_000), json!(18446744073709551615u64)] {
        let (status, body, _) = call(
            &app(&ep, &[]),
            post_json("/predictions", &json!({"image": b64(JPEG), "k": k})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["predictions"].as_array().unwrap().len(), 5);
    }
}

#[tokio::test]
async fn returns_400_invalid_k_for_anything_but_a_positive_integer() {
    let ep = FakeEndpoint::answering(FIVE);
    for k in [
        json!(0),
        json!(-3),
        json!(5.0),
        json!(2.5),
        json!("5"),
        json!(true),
        json!([1]),
        json!({}),
    ] {
        let (status, body, _) = call(
            &app(&ep, &[]),
            post_json("/predictions", &json!({"image": b64(JPEG), "k": k})),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_k"),
            "k = {k}"
        );
    }
    for q in ["0", "-1", "1.5", "abc", ""] {
        let (status, body, _) = call(
            &app(&ep, &[]),
            post(
                &format!("/predictions?k={q}"),
                Some("image/jpeg"),
                JPEG.to_vec(),
            ),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_k"),
            "?k={q}"
        );
    }
    assert!(ep.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn returns_400_invalid_json_for_malformed_or_non_object_json() {
    let ep = FakeEndpoint::answering(FIVE);
    for body in ["{", "{\"image\": }", "[1,2]", "\"image\"", "null"] {
        let (status, json, _) = call(
            &app(&ep, &[]),
            post("/predictions", Some("application/json"), body),
        )
        .await;
        assert_eq!(
            (status, error_code(&json)),
            (StatusCode::BAD_REQUEST, "invalid_json"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn returns_400_missing_image_when_no_image_is_sent() {
    let ep = FakeEndpoint::answering(FIVE);
    for body in [
        json!({}),
        json!({"k": 3}),
        json!({"image": ""}),
        json!({"image": null}),
    ] {
        let (status, json, _) = call(&app(&ep, &[]), post_json("/predictions", &body)).await;
        assert_eq!(
            (status, error_code(&json)),
            (StatusCode::BAD_REQUEST, "missing_image"),
            "{body}"
        );
    }
    let (status, json, _) = call(&app(&ep, &[]), post("/predictions", None, "")).await;
    assert_eq!(
        (status, error_code(&json)),
        (StatusCode::BAD_REQUEST, "missing_image")
    );
    let (status, json, _) = call(
        &app(&ep, &[]),
        post("/predictions", Some("image/jpeg"), Vec::new()),
    )
    .await;
    assert_eq!(
        (status, error_code(&json)),
        (StatusCode::BAD_REQUEST, "missing_image")
    );
}

#[tokio::test]
async fn returns_400_invalid_base64() {
    let ep = FakeEndpoint::answering(FIVE);
    for image in [json!("not base64 at all!"), json!(12), json!(["a"])] {
        let (status, json, _) = call(
            &app(&ep, &[]),
            post_json("/predictions", &json!({"image": image})),
        )
        .await;
        assert_eq!(
            (status, error_code(&json)),
            (StatusCode::BAD_REQUEST, "invalid_base64"),
            "{image}"
        );
    }
}

#[tokio::test]
async fn returns_400_invalid_image_for_non_images_without_calling_the_model() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, json, _) = call(
        &app(&ep, &[]),
        post_json(
            "/predictions",
            &json!({"image": b64(b"hello, I am plain text")}),
        ),
    )
    .await;
    assert_eq!(
        (status, error_code(&json)),
        (StatusCode::BAD_REQUEST, "invalid_image")
    );
    let (status, json, _) = call(
        &app(&ep, &[]),
        post("/predictions", Some("image/jpeg"), b"%PDF-1.7".to_vec()),
    )
    .await;
    assert_eq!(
        (status, error_code(&json)),
        (StatusCode::BAD_REQUEST, "invalid_image")
    );
    assert!(
        ep.calls.lock().unwrap().is_empty(),
        "a paid model must not see garbage"
    );
}

#[tokio::test]
async fn returns_413_when_image_exceeds_limit() {
    let ep = FakeEndpoint::answering(FIVE);
    let limits = [("MAX_IMAGE_BYTES", "1000"), ("PREPROCESS", "off")];
    let mut big = JPEG.to_vec();
    big.resize(1001, 0);
    let (status, json, _) = call(
        &app(&ep, &limits),
        post("/predictions", Some("image/jpeg"), big.clone()),
    )
    .await;
    assert_eq!(
        (status, error_code(&json)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    let (status, json, _) = call(
        &app(&ep, &limits),
        post_json("/predictions", &json!({"image": b64(&big)})),
    )
    .await;
    assert_eq!(
        (status, error_code(&json)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    big.truncate(1000);
    let (status, _, _) = call(
        &app(&ep, &limits),
        post("/predictions", Some("image/jpeg"), big),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "exactly at the limit is accepted");
    assert_eq!(ep.calls.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn returns_415_for_unsupported_content_types() {
    let ep = FakeEndpoint::answering(FIVE);
    for ct in [
        "text/csv",
        "image/gif",
        "multipart/form-data; boundary=x",
        "application/xml",
    ] {
        let (status, json, _) = call(
            &app(&ep, &[]),
            post("/predictions", Some(ct), JPEG.to_vec()),
        )
        .await;
        assert_eq!(
            (status, error_code(&json)),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            "{ct}"
        );
    }
}

#[tokio::test]
async fn returns_404_for_unknown_routes_and_405_for_wrong_methods() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, json, _) = call(&app(&ep, &[]), post_json("/nope", &json!({}))).await;
    assert_eq!(
        (status, error_code(&json)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let req = HttpRequest::builder()
        .method(Method::GET)
        .uri("/predictions")
        .body(Body::Empty)
        .unwrap();
    let (status, json, resp) = call(&app(&ep, &[]), req).await;
    assert_eq!(
        (status, error_code(&json)),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    assert_eq!(resp.headers()["allow"], "POST");
    let req = HttpRequest::builder()
        .method(Method::DELETE)
        .uri("/health")
        .body(Body::Empty)
        .unwrap();
    let (status, _, _) = call(&app(&ep, &[]), req).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn endpoint_failures_map_to_the_contract() {
    let cases = [
        (
            InvokeError::ModelRejectedInput { status: 400 },
            400,
            "invalid_image",
        ),
        (
            InvokeError::ModelFailed { status: Some(500) },
            502,
            "model_error",
        ),
        (InvokeError::NotReady, 503, "endpoint_unavailable"),
        (
            InvokeError::Unavailable("connection refused".into()),
            503,
            "endpoint_unavailable",
        ),
        (InvokeError::Throttled, 429, "throttled"),
        (InvokeError::Timeout, 504, "endpoint_timeout"),
        (
            InvokeError::Internal("AccessDenied".into()),
            500,
            "internal",
        ),
    ];
    for (err, status, code) in cases {
        let ep = FakeEndpoint::failing(err.clone());
        let (got, json, resp) = call(
            &app(&ep, &[]),
            post_json("/predictions", &json!({"image": b64(JPEG)})),
        )
        .await;
        assert_eq!((got.as_u16(), error_code(&json)), (status, code), "{err:?}");
        let message = json["error"]["message"].as_str().unwrap();
        assert!(
            !message.contains("AccessDenied") && !message.contains("refused"),
            "internal detail leaked: {message}"
        );
        if status == 503 {
            assert!(resp.headers().contains_key("retry-after"));
        }
    }
}

#[tokio::test]
async fn unusable_model_output_is_502_bad_model_response() {
    for output in [
        "",
        "[]",
        "[NaN]",
        "[0.5, -0.5]",
        "[\"a\"]",
        "not json",
        "{\"prediction\": null}",
    ] {
        let ep = FakeEndpoint::answering(output);
        let (status, json, _) = call(
            &app(&ep, &[]),
            post_json("/predictions", &json!({"image": b64(JPEG)})),
        )
        .await;
        assert_eq!(
            (status, error_code(&json)),
            (StatusCode::BAD_GATEWAY, "bad_model_response"),
            "{output:?}"
        );
    }
}

#[tokio::test]
async fn json_lines_output_and_logits_mode_work() {
    let ep = FakeEndpoint::answering("{\"prediction\": [0.1, 0.9]}\n");
    let (status, body, _) = call(
        &app(&ep, &[]),
        post_json("/predictions", &json!({"image": b64(JPEG)})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(indices(&body), vec![1, 0]);

    let ep = FakeEndpoint::answering("[-2.0, 3.0, 0.0]");
    let (status, body, _) = call(
        &app(&ep, &[("MODEL_OUTPUT", "logits")]),
        post_json("/predictions", &json!({"image": b64(JPEG)})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(indices(&body), vec![1, 2, 0]);
    let total: f64 = body["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["probability"].as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() < 1e-9);
}

#[tokio::test]
async fn labels_appear_only_where_they_exist() {
    let ep = FakeEndpoint::answering("[0.1, 0.2, 0.3, 0.1, 0.1, 0.2]");
    let (status, body, _) = call(
        &app(&ep, &[]),
        post_json("/predictions", &json!({"image": b64(JPEG)})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let top = &body["predictions"][0];
    assert_eq!(top["index"], 2);
    assert_eq!(top["label"], "two");
    let unlabelled = body["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["index"] == 5)
        .unwrap();
    assert!(unlabelled.get("label").is_none());
}

#[tokio::test]
async fn model_content_type_is_configurable() {
    let ep = FakeEndpoint::answering(FIVE);
    let a = app(&ep, &[("MODEL_CONTENT_TYPE", "image/jpeg")]);
    call(&a, post_json("/predictions", &json!({"image": b64(JPEG)}))).await;
    assert_eq!(ep.calls.lock().unwrap()[0].1, "image/jpeg");
}

#[tokio::test]
async fn every_response_carries_the_lambda_request_id() {
    let ep = FakeEndpoint::answering(FIVE);
    let mut ctx = Context::default();
    ctx.request_id = "0f1e2d3c-request-id".to_owned();
    let requests = [
        post_json("/predictions", &json!({"image": b64(JPEG)})),
        post_json("/predictions", &json!({})),
        post_json("/nope", &json!({})),
        HttpRequest::builder()
            .method(Method::GET)
            .uri("/health")
            .body(Body::Empty)
            .unwrap(),
    ];
    for req in requests {
        let (_, _, resp) = call(&app(&ep, &[]), req.with_lambda_context(ctx.clone())).await;
        assert_eq!(resp.headers()["x-request-id"], "0f1e2d3c-request-id");
    }
    let (_, _, resp) = call(&app(&ep, &[]), post_json("/nope", &json!({}))).await;
    assert!(
        resp.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("local-")
    );
}

#[tokio::test]
async fn cors_origin_is_sent_when_configured() {
    let ep = FakeEndpoint::answering(FIVE);
    let req = HttpRequest::builder()
        .method(Method::GET)
        .uri("/health")
        .body(Body::Empty)
        .unwrap();
    let (_, _, resp) = call(
        &app(&ep, &[("CORS_ALLOW_ORIGIN", "https://app.example.com")]),
        req,
    )
    .await;
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let req = HttpRequest::builder()
        .method(Method::GET)
        .uri("/health")
        .body(Body::Empty)
        .unwrap();
    let (_, _, resp) = call(&app(&ep, &[]), req).await;
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
}

// ---- Real event shapes, parsed by lambda_http's deserialiser ----

fn event(name: &str) -> Request {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[tokio::test]
async fn rest_event_with_a_stage_routes_to_predictions() {
    assert!(
        std::env::var_os("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_none(),
        "the test must not rely on it"
    );
    let ep = FakeEndpoint::answering(FIVE);
    let req = event("apigw_rest_predictions_json.json");
    assert_eq!(
        req.uri().path(),
        "/prod/predictions",
        "lambda_http puts the stage into the path"
    );
    let (status, body, _) = call(&app(&ep, &[]), req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(indices(&body), vec![1, 2]);
}

#[tokio::test]
async fn rest_proxy_event_with_binary_body_and_query_k() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, body, _) = call(&app(&ep, &[]), event("apigw_rest_proxy_raw_jpeg.json")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(indices(&body), vec![1]);
    assert_eq!(&ep.calls.lock().unwrap()[0].0[..4], b"\xFF\xD8\xFF\xE0");
}

#[tokio::test]
async fn rest_event_behind_a_custom_domain_base_path() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, body, _) = call(&app(&ep, &[]), event("apigw_rest_custom_domain.json")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(indices(&body), vec![1]);
}

#[tokio::test]
async fn rest_event_on_the_root_resource_with_a_curl_d_body() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, body, _) = call(&app(&ep, &[]), event("apigw_rest_root_form.json")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["predictions"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn rest_event_for_an_unknown_path_is_404() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, body, _) = call(&app(&ep, &[]), event("apigw_rest_unknown_path.json")).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/predict")
    );
}

#[tokio::test]
async fn function_url_events_route_and_decode_binary_bodies() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, body, _) = call(&app(&ep, &[]), event("function_url_raw_png.json")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(indices(&body), vec![1, 2, 3]);
    assert_eq!(&ep.calls.lock().unwrap()[0].0[..4], b"\x89PNG");
    let (status, body, _) = call(&app(&ep, &[]), event("function_url_health.json")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
}

#[tokio::test]
async fn http_api_event_with_a_named_stage_routes_to_predictions() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, body, _) = call(&app(&ep, &[]), event("apigw_http_named_stage.json")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

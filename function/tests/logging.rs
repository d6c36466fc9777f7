//! What the function logs: one structured line per request, with the request id, and never the
//! image, the base64 payload or the model's output (data retention, log injection).

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use lambda_http::http::{Method, Request as HttpRequest};
use lambda_http::{Body, Context, RequestExt};
use sagefront_function::api::App;
use sagefront_function::config::Config;
use sagefront_function::model::endpoint::{Endpoint, Invocation, InvokeError, ModelResponse};
use sagefront_function::model::labels::Labels;

/// A model answer with a marker value that must not appear in the logs.
const MODEL_OUTPUT: &str = "[0.123456789, 0.876543211]";

/// Answers every call with fixed bytes.
struct Fixed(&'static str);
impl Endpoint for Fixed {
    async fn invoke(&self, _: Invocation<'_>) -> Result<ModelResponse, InvokeError> {
        Ok(ModelResponse::body(Bytes::from_static(self.0.as_bytes())))
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);
impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn one_json_line_per_request_with_the_request_id_and_no_payload() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let config = Config::from_lookup(|n| (n == "ENDPOINT_NAME").then(|| "e".to_owned())).unwrap();
    let app = App::new(config, Labels::default(), Fixed(MODEL_OUTPUT));
    // A distinctive JPEG-looking payload whose base64 we can search for.
    let image = b"\xFF\xD8\xFF\xE0 SECRET-PIXELS-0123456789 SECRET-PIXELS-0123456789".to_vec();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&image);
    let mut ctx = Context::default();
    ctx.request_id = "req-42".to_owned();
    let req = HttpRequest::builder()
        .method(Method::POST)
        .uri("/predictions")
        .header("content-type", "application/json")
        .header("x-api-key", "SECRET-API-KEY")
        .body(Body::from(format!(r#"{{"image": "{b64}", "k": 1}}"#)))
        .unwrap()
        .with_lambda_context(ctx);
    let resp = app.handle(req).await;
    assert_eq!(resp.status(), 200);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let requests: Vec<_> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "request")
        .collect();
    assert_eq!(requests.len(), 1, "{logs}");
    let fields = &requests[0]["fields"];
    assert_eq!(fields["request_id"], "req-42");
    assert_eq!(fields["status"], 200);
    assert_eq!(fields["route"], "predictions");
    assert_eq!(fields["image_bytes"], image.len());
    assert!(fields["total_ms"].is_u64());
    for secret in [
        &b64[..],
        "SECRET-PIXELS",
        "SECRET-API-KEY",
        "0.123456789",
        "0.876543211",
    ] {
        assert!(
            !logs.contains(secret),
            "the log contains {secret:?}: {logs}"
        );
    }
}

/// Runs `request` through an app whose model answers `model_output`; the captured log lines.
async fn logs_of(model_output: &'static str, request: lambda_http::Request) -> (u16, String) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let config = Config::from_lookup(|n| (n == "ENDPOINT_NAME").then(|| "e".to_owned())).unwrap();
    let app = App::new(config, Labels::default(), Fixed(model_output));
    let status = app.handle(request).await.status().as_u16();
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    (status, logs)
}

#[tokio::test]
async fn a_garbage_model_response_is_never_quoted_in_the_log() {
    let image = base64::engine::general_purpose::STANDARD.encode(b"\xFF\xD8\xFF\xE0 pixels");
    for garbage in [
        r#"["SECRET-MODEL-OUTPUT", 0.5]"#,
        r#"{"prediction": "SECRET-MODEL-OUTPUT"}"#,
        "SECRET-MODEL-OUTPUT",
        r#"[0.5, {"SECRET-MODEL-OUTPUT": 1}]"#,
    ] {
        let req = HttpRequest::builder()
            .method(Method::POST)
            .uri("/predictions")
            .header("content-type", "application/json")
            .body(Body::from(format!(r#"{{"image": "{image}"}}"#)))
            .unwrap();
        let (status, logs) = logs_of(garbage, req).await;
        assert_eq!(status, 502, "{logs}");
        assert!(logs.contains("unusable model response"), "{logs}");
        assert!(!logs.contains("SECRET"), "{logs}");
    }
}

#[tokio::test]
async fn an_invocations_answer_and_body_are_never_logged() {
    let req = HttpRequest::builder()
        .method(Method::POST)
        .uri("/invocations")
        .header("content-type", "application/json")
        .header("x-amzn-sagemaker-custom-attributes", "SECRET-ATTRIBUTES")
        .body(Body::from(r#"{"inputs": "SECRET-PROMPT"}"#))
        .unwrap();
    let (status, logs) = logs_of(r#"{"generated_text": "SECRET-ANSWER"}"#, req).await;
    assert_eq!(status, 200, "{logs}");
    assert!(logs.contains(r#""route":"invocations""#), "{logs}");
    assert!(!logs.contains("SECRET"), "{logs}");
}

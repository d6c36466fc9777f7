//! What the function logs: one structured line per request, with the request id, and never the
//! image, the base64 payload or the model's output (data retention, log injection).

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use lambda_http::http::{Method, Request as HttpRequest};
use lambda_http::{Body, Context, RequestExt};
use sagefront_function::config::Config;
use sagefront_function::endpoint::{Endpoint, InvokeError};
use sagefront_function::handler::App;
use sagefront_function::labels::Labels;

/// A model answer with a marker value that must not appear in the logs.
const MODEL_OUTPUT: &str = "[0.123456789, 0.876543211]";

struct Fixed;
impl Endpoint for Fixed {
    async fn invoke(&self, _: Bytes, _: &str) -> Result<Bytes, InvokeError> {
        Ok(Bytes::from_static(MODEL_OUTPUT.as_bytes()))
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
    let app = App::new(config, Labels::default(), Fixed);
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

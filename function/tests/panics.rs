//! No request can end the process: a panic while serving one request is that request's
//! `500 internal` (generic message, `x-request-id`, one log line with the panic message), and
//! the same app serves the next request.
//!
//! One test in this binary: the panic hook is process-wide, and a second test panicking on
//! another thread could race it for the hook's log line. (The fault-injection switch is tested
//! in handler.rs.)

mod support;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use lambda_http::http::StatusCode;
use lambda_http::{Context, RequestExt};
use sagefront_function::api::{App, panics};
use sagefront_function::model::endpoint::{Endpoint, Invocation, InvokeError, ModelResponse};
use serde_json::json;
use support::*;

/// A model double whose first call panics (a bug somewhere below the handler).
#[derive(Default)]
struct PanicsOnce {
    calls: AtomicUsize,
}

impl Endpoint for PanicsOnce {
    async fn invoke(&self, _: Invocation<'_>) -> Result<ModelResponse, InvokeError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("index out of bounds: the len is 0 but the index is 7");
        }
        Ok(ModelResponse::body(FIVE.as_bytes().to_vec()))
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

fn with_id(req: lambda_http::Request, id: &str) -> lambda_http::Request {
    let mut ctx = Context::default();
    ctx.request_id = id.to_owned();
    req.with_lambda_context(ctx)
}

#[tokio::test]
async fn a_panic_is_that_requests_500_and_the_next_request_is_served() {
    panics::log_panics();
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = App::new(config(&[]), labels(), PanicsOnce::default());
    let first = with_id(
        post("/predictions", Some("image/jpeg"), JPEG.to_vec()),
        "req-panics",
    );
    let resp = app.handle(first).await;
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(resp.headers()["x-request-id"], "req-panics");
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_slice(resp.body().as_ref()).unwrap();
    assert_eq!(
        body,
        json!({"error": {"code": "internal", "message": "internal error; see the function's logs for this request id"}})
    );

    let second = with_id(
        post("/predictions", Some("image/jpeg"), JPEG.to_vec()),
        "req-next",
    );
    let resp = app.handle(second).await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "the same app serves the next request"
    );

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let with_message: Vec<_> = lines
        .iter()
        .filter(|l| l.to_string().contains("the index is 7"))
        .collect();
    assert_eq!(
        with_message.len(),
        1,
        "one line carries the panic message: {logs}"
    );
    assert_eq!(with_message[0]["level"], "ERROR");
    assert!(
        with_message[0]["fields"]["location"]
            .as_str()
            .is_some_and(|l| l.contains("tests/panics.rs")),
        "{logs}"
    );
    let request_lines: Vec<_> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "request")
        .collect();
    assert_eq!(request_lines.len(), 2, "{logs}");
    assert_eq!(request_lines[0]["fields"]["request_id"], "req-panics");
    assert_eq!(request_lines[0]["fields"]["status"], 500);
    assert_eq!(request_lines[0]["fields"]["code"], "internal");
    assert_eq!(request_lines[0]["fields"]["panicked"], true);
    assert_eq!(request_lines[1]["fields"]["status"], 200);
}

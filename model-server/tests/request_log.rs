//! The request log line: every invocation's inference id and targets, never its custom
//! attributes.
//!
//! A test binary of its own: the subscriber is the thread's default (`set_default`), and with
//! the router tests running beside it on other threads the line was not captured (tracing's
//! callsite registration races with the scoped subscriber); alone in its process it is.

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;

mod support;
use support::{CUSTOM_ATTRIBUTES, IC, INFERENCE_ID, RUNTIME, VARIANT, invoke_with, send, serving};

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

    let state = serving(&["ic-a"], &[], false);
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

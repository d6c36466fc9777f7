//! What the handler tests share: a fake endpoint that records every call, configuration and
//! request builders, and readers of the answers.
#![allow(dead_code)] // each test file uses a different part

use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use lambda_http::http::{Method, Request as HttpRequest, StatusCode};
use lambda_http::{Body, Request, Response};
use sagefront_function::api::App;
use sagefront_function::config::Config;
use sagefront_function::model::endpoint::{
    Endpoint, Invocation, InvokeError, ModelResponse, Target,
};
use sagefront_function::model::labels::Labels;
use serde_json::Value;

/// A tiny byte string that sniffs as JPEG; the fake endpoint never decodes it.
pub const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00fake image bytes";

/// Five classes' probabilities.
pub const FIVE: &str = "[0.05, 0.5, 0.2, 0.2, 0.05]";

/// Everything one call to the fake endpoint carried besides body and content type.
#[derive(Debug, Clone)]
pub struct Seen {
    pub accept: Option<String>,
    pub target: Target,
    pub inference_id: String,
    pub custom_attributes: Option<String>,
    pub timeout: Duration,
}

/// Records every call and answers with a fixed result.
#[derive(Debug)]
pub struct FakeEndpoint {
    pub answer: Result<ModelResponse, InvokeError>,
    /// Body and content type of each call.
    pub calls: Mutex<Vec<(Bytes, String)>>,
    /// The rest of each call.
    pub seen: Mutex<Vec<Seen>>,
    /// How long the model takes to answer.
    pub delay: Duration,
}

impl FakeEndpoint {
    pub fn answering(body: &str) -> Self {
        Self::with(Ok(ModelResponse::body(Bytes::copy_from_slice(
            body.as_bytes(),
        ))))
    }
    pub fn failing(err: InvokeError) -> Self {
        Self::with(Err(err))
    }
    pub fn with(answer: Result<ModelResponse, InvokeError>) -> Self {
        Self {
            answer,
            calls: Mutex::new(Vec::new()),
            seen: Mutex::new(Vec::new()),
            delay: Duration::ZERO,
        }
    }
}

impl Endpoint for &FakeEndpoint {
    async fn invoke(&self, call: Invocation<'_>) -> Result<ModelResponse, InvokeError> {
        self.calls
            .lock()
            .unwrap()
            .push((call.body.clone(), call.content_type.to_owned()));
        self.seen.lock().unwrap().push(Seen {
            accept: call.accept.map(str::to_owned),
            target: call.target.clone(),
            inference_id: call.inference_id.to_owned(),
            custom_attributes: call.custom_attributes.map(str::to_owned),
            timeout: call.timeout,
        });
        if !self.delay.is_zero() {
            // As the SageMaker adapter does: the call ends at its budget.
            if tokio::time::timeout(call.timeout, tokio::time::sleep(self.delay))
                .await
                .is_err()
            {
                return Err(InvokeError::Timeout);
            }
        }
        self.answer.clone()
    }
}

pub fn config(extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![("ENDPOINT_NAME", "test-endpoint")];
    vars.extend_from_slice(extra);
    Config::from_lookup(|name| {
        vars.iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap()
}

pub fn labels() -> Labels {
    Labels::parse("zero\none\ntwo\nthree\nfour\n").unwrap()
}

pub fn app<'a>(endpoint: &'a FakeEndpoint, extra: &[(&str, &str)]) -> App<&'a FakeEndpoint> {
    App::new(config(extra), labels(), endpoint)
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn post(path: &str, content_type: Option<&str>, body: impl Into<Body>) -> Request {
    let mut b = HttpRequest::builder().method(Method::POST).uri(path);
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    b.body(body.into()).unwrap()
}

pub fn post_json(path: &str, body: &Value) -> Request {
    post(path, Some("application/json"), body.to_string())
}

/// Status, body as JSON (`Null` when it is not JSON) and the response itself.
pub async fn call(app: &App<&FakeEndpoint>, req: Request) -> (StatusCode, Value, Response<Body>) {
    let resp = app.handle(req).await;
    let json = match resp.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
        Body::Empty => Value::Null,
        _ => Value::Null,
    };
    (resp.status(), json, resp)
}

pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}

pub fn indices(body: &Value) -> Vec<u64> {
    body["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["index"].as_u64().unwrap())
        .collect()
}

/// A real event from `tests/data`, read by `lambda_http` as the runtime reads it.
pub fn event(name: &str) -> Request {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

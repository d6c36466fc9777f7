//! Fuzzing entry points, shared by the cargo-fuzz targets in `fuzz/` and by the test that replays
//! their corpus (`tests/fuzz_corpus.rs`), so a finding fixed once stays fixed under `cargo test`.
//!
//! Each entry point feeds untrusted bytes through one parsing path; the property is "returns,
//! never panics". Results are discarded on purpose.

use std::sync::OnceLock;

use futures_util::FutureExt as _;

use crate::api::App;
use crate::config::{Config, ModelOutput};
use crate::error::ApiError;
use crate::image::{self, ImageKind, MemoryBudget, Spec};
use crate::model::endpoint::{Endpoint, Invocation, InvokeError, ModelResponse};
use crate::model::labels::Labels;
use crate::model::{output, top_k};
use crate::request::{self, BodyKind, json::JsonBody};

/// Content types the request target chooses from with its first byte.
const CONTENT_TYPES: [Option<&str>; 8] = [
    None,
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("text/plain"),
    Some("application/x-www-form-urlencoded"),
    Some("image/jpeg"),
    Some("application/octet-stream"),
    Some("multipart/form-data"),
];

/// Request bodies: content-type dispatch, JSON, the image and `k` fields, base64, sniffing.
/// The first byte picks the Content-Type; the rest is the body (and the `?k=` value).
pub fn request_body(data: &[u8]) {
    let Some((selector, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(*selector) % CONTENT_TYPES.len()];
    match request::body_kind(content_type, body) {
        Ok(BodyKind::Json) => {
            if let Ok(json) = JsonBody::parse(body) {
                if let Ok(bytes) = json
                    .image()
                    .and_then(|i| request::base64::decode_base64(&i, 1 << 20))
                {
                    let _ = ImageKind::sniff(&bytes);
                }
                let _ = json.positive_int(&["k", "topk"], ApiError::InvalidK);
                let _ = json.string("fit", ApiError::InvalidSize);
            }
        }
        Ok(BodyKind::Raw) => {
            let _ = ImageKind::sniff(body);
        }
        Err(_) => {}
    }
    let _ = request::positive_int_query("k", &String::from_utf8_lossy(body), ApiError::InvalidK);
}

/// Model output: JSON array / JSON Lines parsing in both modes, then top-k.
pub fn model_response(data: &[u8]) {
    for kind in [ModelOutput::Probabilities, ModelOutput::Logits] {
        if let Ok(probabilities) = output::parse(data, kind) {
            let _ = top_k::top_k(&probabilities, 5);
            let _ = top_k::top_k(&probabilities, usize::MAX);
        }
    }
}

/// Images on the resize path: sniffing, header checks, the memory budget, decoding, resizing,
/// encoding.
pub fn image(data: &[u8]) {
    let _ = ImageKind::sniff(data);
    let _ = image::transform(
        data,
        &Spec::shrink_to_jpeg(64),
        MemoryBudget::of_function(512),
    );
}

/// A model that answers every call at once with three probabilities.
#[derive(Debug)]
struct Instant3;

impl Endpoint for Instant3 {
    async fn invoke(&self, _: Invocation<'_>) -> Result<ModelResponse, InvokeError> {
        Ok(ModelResponse::body(&b"[0.2, 0.5, 0.3]"[..]))
    }
}

/// Lambda events as the runtime hands them to the function: parsed by `lambda_http` into a
/// request, then served by the whole API (every route, with a model that answers at once).
pub fn lambda_event(data: &[u8]) {
    static APP: OnceLock<App<Instant3>> = OnceLock::new();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(request) = lambda_http::request::from_str(text) else {
        return;
    };
    let app = APP.get_or_init(|| {
        let config =
            Config::from_lookup(|name| (name == "ENDPOINT_NAME").then(|| "fuzz".to_owned()))
                .unwrap_or_else(|e| unreachable!("a fixed configuration: {e}"));
        App::new(config, Labels::default(), Instant3)
    });
    // Nothing the handler awaits is pending with this model: one poll completes it.
    let _ = app.handle(request).now_or_never();
}

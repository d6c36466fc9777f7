//! Fuzzing entry points, shared by the cargo-fuzz targets in `fuzz/` and by the test that replays
//! their corpus (`tests/fuzz_corpus.rs`), so a finding fixed once stays fixed under `cargo test`.
//!
//! Each entry point feeds untrusted bytes through one parsing path; the property is "returns,
//! never panics". Results are discarded on purpose.

use crate::config::ModelOutput;
use crate::error::ApiError;
use crate::event;
use crate::image_kind::ImageKind;
use crate::imaging::{self, Spec};
use crate::request::{self, BodyKind};
use crate::{model_output, top_k};

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
            if let Ok(json) = request::JsonBody::parse(body) {
                if let Ok(bytes) = json
                    .image()
                    .and_then(|i| request::decode_base64(&i, 1 << 20))
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
        if let Ok(probabilities) = model_output::parse(data, kind) {
            let _ = top_k::top_k(&probabilities, 5);
            let _ = top_k::top_k(&probabilities, usize::MAX);
        }
    }
}

/// Images on the resize path: sniffing, header checks, decoding, resizing, encoding.
pub fn image(data: &[u8]) {
    let _ = ImageKind::sniff(data);
    let _ = imaging::transform(data, &Spec::shrink_to_jpeg(64));
}

/// Lambda events as the Runtime API delivers them: finding the body, reading the rest with
/// lambda_http's types, undoing the body's JSON escapes and base64 in place.
pub fn lambda_event(data: &[u8]) {
    if let Ok((request, _body)) = event::read(data.to_vec()) {
        let _ = http::Request::<lambda_http::Body>::from(request);
    }
}

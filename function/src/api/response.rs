//! Building answers: a successful [`Payload`] or an [`ApiError`] becomes a response with the
//! contract's headers (`Content-Type`, `x-request-id`, CORS), in one place.

use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::error::ApiError;

const JSON: &str = "application/json";

/// A successful answer: its body, media type and any extra headers.
#[derive(Debug)]
pub struct Payload {
    /// The body.
    pub body: Body,
    /// Its `Content-Type`.
    pub content_type: HeaderValue,
    /// More headers (the model's custom attributes).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Payload {
    /// `value` as a JSON body.
    pub fn json<T: Serialize>(value: &T) -> Self {
        Self::json_sized(value, 128)
    }

    /// `value` as JSON, written into a buffer of `capacity` bytes (grown if that is too small):
    /// a long list of predictions costs less written once than grown by doubling.
    pub fn json_sized<T: Serialize>(value: &T, capacity: usize) -> Self {
        let mut out = Vec::with_capacity(capacity);
        // Serialising these plain structs cannot fail, and serde_json writes UTF-8; an empty
        // object is a safe fallback anyway.
        let text = serde_json::to_writer(&mut out, value)
            .ok()
            .and_then(|()| String::from_utf8(out).ok());
        Self {
            body: Body::Text(text.unwrap_or_else(|| "{}".to_owned())),
            content_type: HeaderValue::from_static(JSON),
            headers: Vec::new(),
        }
    }

    /// A body of the given media type.
    pub fn of_type(body: Body, content_type: HeaderValue) -> Self {
        Self {
            body,
            content_type,
            headers: Vec::new(),
        }
    }
}

/// `200` with `payload`.
pub fn ok(payload: Payload, request_id: &str, cors: Option<&str>) -> Response<Body> {
    let mut response = respond(
        http::StatusCode::OK,
        payload.body,
        payload.content_type,
        request_id,
        cors,
    );
    for (name, value) in payload.headers {
        response.headers_mut().insert(name, value);
    }
    response
}

/// The contract's error answer: `{"error": {"code", "message"}}` with its status and headers.
pub fn error(err: &ApiError, request_id: &str, cors: Option<&str>) -> Response<Body> {
    let body = Payload::json(&err.body()).body;
    let mut response = respond(
        err.status(),
        body,
        HeaderValue::from_static(JSON),
        request_id,
        cors,
    );
    for (name, value) in err.headers() {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
    response
}

fn respond(
    status: http::StatusCode,
    body: Body,
    content_type: HeaderValue,
    request_id: &str,
    cors: Option<&str>,
) -> Response<Body> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, content_type);
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", v);
    }
    if let Some(origin) = cors.and_then(|o| HeaderValue::from_str(o).ok()) {
        headers.insert("access-control-allow-origin", origin);
        headers.insert(
            "access-control-expose-headers",
            HeaderValue::from_static("x-request-id, x-amzn-sagemaker-custom-attributes"),
        );
    }
    resp
}

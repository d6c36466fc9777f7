//! The API's error type: every expected failure, and the one place it becomes an HTTP response.
//!
//! Handlers return `Result<_, ApiError>`; [`ApiError::status`], [`ApiError::code`] and the
//! `Display` message are the whole public contract (`{"error": {"code", "message"}}`). Internal
//! details are logged where the error is created and never placed in a message.

use http::StatusCode;

/// Every error the API can answer with. The `Display` text is the human message sent to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The body claims to be JSON but does not parse, or is not a JSON object.
    #[error("the request body is not valid JSON: {0}")]
    InvalidJson(String),
    /// No image was sent.
    #[error(
        "no image was sent: send a JSON body with a base64 \"image\" field, or the raw image bytes with an image Content-Type"
    )]
    MissingImage,
    /// The image field is not decodable base64.
    #[error("the \"image\" field is not valid base64: {0}")]
    InvalidBase64(String),
    /// `k` is not an integer ≥ 1.
    #[error("{0}")]
    InvalidK(String),
    /// The bytes are not an image we accept, or the model rejected them.
    #[error("{0}")]
    InvalidImage(String),
    /// Resize dimensions or options are out of range.
    #[error("{0}")]
    InvalidSize(String),
    /// No route at this path (or its route is off on this stage).
    #[error("no route for {method} {path}; this API serves {served}")]
    NotFound {
        /// The request method.
        method: String,
        /// The path as routed (stage and base path removed).
        path: String,
        /// The routes the stage serves, for the message.
        served: String,
    },
    /// `POST /models/{name}/invocations` names a model outside the stage's allow-list.
    #[error("this API serves no model named {name:?}")]
    UnknownModel {
        /// The name as requested (truncated).
        name: String,
    },
    /// A header SageMaker would refuse (too long, not visible ASCII).
    #[error("the {name} header is invalid: {reason}")]
    InvalidHeader {
        /// The header's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The path exists but not with this method.
    #[error("{method} is not allowed on {path}; use {allow}")]
    MethodNotAllowed {
        /// The request method.
        method: String,
        /// The routed path.
        path: String,
        /// The methods the route accepts, for the `Allow` header.
        allow: &'static str,
    },
    /// The image (or an `/invocations` body) is larger than the limit.
    #[error("the {what} is {size} bytes; the limit is {limit} bytes")]
    PayloadTooLarge {
        /// What is too large: `image` or `request body`.
        what: &'static str,
        /// Decoded image size (or a lower bound of it), or the body's size.
        size: usize,
        /// `MAX_IMAGE_BYTES` (the endpoint's payload limit), or what `/resize` reads.
        limit: usize,
    },
    /// A resize result too large to return.
    #[error("{0}")]
    OutputTooLarge(String),
    /// The Content-Type is not one we read.
    #[error(
        "unsupported Content-Type {0:?}: send application/json, or the raw image as image/jpeg, image/png, image/webp, image/gif, image/bmp, application/x-image or application/octet-stream"
    )]
    UnsupportedMediaType(String),
    /// SageMaker throttled the call.
    #[error("the model endpoint is throttling requests; retry with backoff")]
    Throttled,
    /// On `/invocations`, the model refused the request with a 4xx of its own: its status and
    /// its message (SageMaker's `OriginalMessage`, bounded) reach the caller.
    #[error("{message}")]
    ModelRejectedInput {
        /// The model's own status code (400–499).
        status: u16,
        /// The model's own message.
        message: String,
    },
    /// The model container failed.
    #[error("the model failed to process the request")]
    ModelError,
    /// The model answered with something that is not a usable probability array.
    #[error("the model returned an unusable response")]
    BadModelResponse,
    /// The endpoint cannot take requests now.
    #[error("the model endpoint is unavailable; retry later")]
    EndpointUnavailable {
        /// Seconds for `Retry-After`, when known.
        retry_after_secs: Option<u32>,
    },
    /// The endpoint did not answer in time.
    #[error("the model endpoint did not answer within {timeout_ms} ms")]
    EndpointTimeout {
        /// The time the call had: `INVOKE_TIMEOUT_MS`, or less when the invocation's deadline
        /// was nearer.
        timeout_ms: u64,
    },
    /// A bug or misconfiguration; details are in the log only.
    #[error("internal error; see the function's logs for this request id")]
    Internal,
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidJson(_)
            | Self::MissingImage
            | Self::InvalidBase64(_)
            | Self::InvalidK(_)
            | Self::InvalidImage(_)
            | Self::InvalidSize(_)
            | Self::InvalidHeader { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound { .. } | Self::UnknownModel { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } | Self::OutputTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Throttled => StatusCode::TOO_MANY_REQUESTS,
            Self::ModelRejectedInput { status, .. } => StatusCode::from_u16(*status)
                .ok()
                .filter(StatusCode::is_client_error)
                .unwrap_or(StatusCode::BAD_REQUEST),
            Self::ModelError | Self::BadModelResponse => StatusCode::BAD_GATEWAY,
            Self::EndpointUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::EndpointTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code of the contract.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "invalid_json",
            Self::MissingImage => "missing_image",
            Self::InvalidBase64(_) => "invalid_base64",
            Self::InvalidK(_) => "invalid_k",
            Self::InvalidImage(_) => "invalid_image",
            Self::InvalidSize(_) => "invalid_size",
            Self::NotFound { .. } => "not_found",
            Self::UnknownModel { .. } => "unknown_model",
            Self::InvalidHeader { .. } => "invalid_header",
            Self::ModelRejectedInput { .. } => "model_rejected_input",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::OutputTooLarge(_) => "output_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Throttled => "throttled",
            Self::ModelError => "model_error",
            Self::BadModelResponse => "bad_model_response",
            Self::EndpointUnavailable { .. } => "endpoint_unavailable",
            Self::EndpointTimeout { .. } => "endpoint_timeout",
            Self::Internal => "internal",
        }
    }

    /// Extra headers this error carries (`Allow`, `Retry-After`).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::MethodNotAllowed { allow, .. } => vec![("allow", (*allow).to_owned())],
            Self::EndpointUnavailable {
                retry_after_secs: Some(secs),
            } => vec![("retry-after", secs.to_string())],
            Self::Throttled => vec![("retry-after", "1".to_owned())],
            _ => Vec::new(),
        }
    }

    /// The JSON body `{"error": {"code", "message"}}`.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "error": { "code": self.code(), "message": self.to_string() } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_4xx_or_5xx_status_and_a_snake_case_code() {
        let all = [
            ApiError::InvalidJson("x".into()),
            ApiError::MissingImage,
            ApiError::InvalidBase64("x".into()),
            ApiError::InvalidK("x".into()),
            ApiError::InvalidImage("x".into()),
            ApiError::InvalidSize("x".into()),
            ApiError::NotFound {
                method: "GET".into(),
                path: "/x".into(),
                served: "GET /health".into(),
            },
            ApiError::UnknownModel { name: "x".into() },
            ApiError::InvalidHeader {
                name: "accept".into(),
                reason: "x".into(),
            },
            ApiError::ModelRejectedInput {
                status: 422,
                message: "x".into(),
            },
            ApiError::MethodNotAllowed {
                method: "GET".into(),
                path: "/x".into(),
                allow: "POST",
            },
            ApiError::PayloadTooLarge {
                what: "image",
                size: 2,
                limit: 1,
            },
            ApiError::OutputTooLarge("x".into()),
            ApiError::UnsupportedMediaType("text/csv".into()),
            ApiError::Throttled,
            ApiError::ModelError,
            ApiError::BadModelResponse,
            ApiError::EndpointUnavailable {
                retry_after_secs: None,
            },
            ApiError::EndpointTimeout { timeout_ms: 1 },
            ApiError::Internal,
        ];
        for e in all {
            assert!(
                e.status().is_client_error() || e.status().is_server_error(),
                "{e:?}"
            );
            assert!(
                e.code()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{e:?}"
            );
            assert_eq!(e.body()["error"]["code"], e.code());
        }
    }

    #[test]
    fn internal_error_message_reveals_nothing() {
        let body = ApiError::Internal.body();
        assert_eq!(body["error"]["code"], "internal");
        assert_eq!(
            body["error"]["message"],
            "internal error; see the function's logs for this request id"
        );
    }

    #[test]
    fn a_models_rejection_keeps_its_4xx_status_and_message() {
        let e = ApiError::ModelRejectedInput {
            status: 422,
            message: "field `inputs` is required".into(),
        };
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.body()["error"]["message"], "field `inputs` is required");
        // A status that is not a client error never passes as one.
        for status in [200, 503, 999] {
            let e = ApiError::ModelRejectedInput {
                status,
                message: String::new(),
            };
            assert_eq!(e.status(), StatusCode::BAD_REQUEST, "{status}");
        }
    }

    #[test]
    fn method_not_allowed_carries_allow_header() {
        let e = ApiError::MethodNotAllowed {
            method: "GET".into(),
            path: "/predictions".into(),
            allow: "POST",
        };
        assert_eq!(e.headers(), vec![("allow", "POST".to_owned())]);
    }
}

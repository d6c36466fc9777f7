//! The seam to the model: one trait with one call, so the handler can be tested with a fake.

use std::future::Future;

use bytes::Bytes;

use crate::error::ApiError;

/// Why an invocation failed, in the model's terms. The SageMaker adapter produces these; the
/// handler turns them into [`ApiError`]s with [`From`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The model container rejected the input (it answered 4xx): the image is unusable.
    #[error("the model rejected the input (status {status})")]
    ModelRejectedInput {
        /// The container's original status code.
        status: u16,
    },
    /// The model container failed (5xx or no status).
    #[error("the model failed (status {status:?})")]
    ModelFailed {
        /// The container's original status code, when SageMaker reports one.
        status: Option<u16>,
    },
    /// The endpoint is still starting (serverless cold start, model loading).
    #[error("the endpoint is not ready")]
    NotReady,
    /// The endpoint or the network is unavailable; the reason is for the log.
    #[error("the endpoint is unavailable: {0}")]
    Unavailable(String),
    /// SageMaker throttled the call.
    #[error("throttled")]
    Throttled,
    /// The call took longer than `INVOKE_TIMEOUT_MS` (retries included).
    #[error("timed out")]
    Timeout,
    /// A bug or misconfiguration (e.g. access denied); the reason is for the log.
    #[error("internal: {0}")]
    Internal(String),
}

/// A model endpoint: send an image, get the raw response body.
pub trait Endpoint: Send + Sync {
    /// Invokes the model with `body` sent as `content_type`; returns the response body.
    fn invoke(
        &self,
        body: Bytes,
        content_type: &str,
    ) -> impl Future<Output = Result<Bytes, InvokeError>> + Send;
}

/// Maps invocation failures onto the API contract. Only the class of failure crosses; the
/// detail was logged by the adapter.
pub fn to_api_error(err: &InvokeError, timeout_ms: u64) -> ApiError {
    match err {
        InvokeError::ModelRejectedInput { .. } => {
            ApiError::InvalidImage("the model could not read this image".to_owned())
        }
        InvokeError::ModelFailed { .. } => ApiError::ModelError,
        InvokeError::NotReady => ApiError::EndpointUnavailable {
            retry_after_secs: Some(10),
        },
        InvokeError::Unavailable(_) => ApiError::EndpointUnavailable {
            retry_after_secs: Some(5),
        },
        InvokeError::Throttled => ApiError::Throttled,
        InvokeError::Timeout => ApiError::EndpointTimeout { timeout_ms },
        InvokeError::Internal(_) => ApiError::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[test]
    fn each_failure_maps_to_its_contract_status() {
        let cases = [
            (
                InvokeError::ModelRejectedInput { status: 400 },
                StatusCode::BAD_REQUEST,
                "invalid_image",
            ),
            (
                InvokeError::ModelFailed { status: Some(500) },
                StatusCode::BAD_GATEWAY,
                "model_error",
            ),
            (
                InvokeError::NotReady,
                StatusCode::SERVICE_UNAVAILABLE,
                "endpoint_unavailable",
            ),
            (
                InvokeError::Unavailable("x".into()),
                StatusCode::SERVICE_UNAVAILABLE,
                "endpoint_unavailable",
            ),
            (
                InvokeError::Throttled,
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
            ),
            (
                InvokeError::Timeout,
                StatusCode::GATEWAY_TIMEOUT,
                "endpoint_timeout",
            ),
            (
                InvokeError::Internal("x".into()),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
            ),
        ];
        for (err, status, code) in cases {
            let api = to_api_error(&err, 1000);
            assert_eq!((api.status(), api.code()), (status, code), "{err:?}");
        }
    }

    #[test]
    fn not_ready_asks_the_client_to_retry_later() {
        let api = to_api_error(&InvokeError::NotReady, 1000);
        assert_eq!(api.headers(), vec![("retry-after", "10".to_owned())]);
    }
}

//! The seam to the model: one trait with one call, so the API can be tested with a fake.
//!
//! [`Endpoint::invoke`] takes an [`Invocation`] (the body and everything `InvokeEndpoint` can
//! carry with it) and answers a [`ModelResponse`] or an [`InvokeError`]. The SageMaker adapter
//! ([`crate::model::sagemaker`]) is the real implementation; [`to_api_error`] is where a failed
//! invocation becomes the contract's error.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;

use crate::error::ApiError;

/// Where on the endpoint a call goes, beyond the endpoint itself: the `InvokeEndpoint`
/// parameters that pick an inference component, a model of a multi-model endpoint, a
/// production variant or a container. `None` leaves the choice to SageMaker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Target {
    /// `InferenceComponentName`.
    #[serde(default)]
    pub inference_component: Option<String>,
    /// `TargetModel` (multi-model endpoints).
    #[serde(default)]
    pub target_model: Option<String>,
    /// `TargetVariant`.
    #[serde(default)]
    pub target_variant: Option<String>,
    /// `TargetContainerHostname` (multi-container endpoints with direct invocation).
    #[serde(default)]
    pub target_container_hostname: Option<String>,
}

impl Target {
    /// Whether the target names nothing.
    pub fn is_empty(&self) -> bool {
        self.inference_component.is_none()
            && self.target_model.is_none()
            && self.target_variant.is_none()
            && self.target_container_hostname.is_none()
    }

    /// This target's fields, and `fallback`'s where this one names none.
    pub fn or(&self, fallback: &Target) -> Target {
        let pick = |own: &Option<String>, other: &Option<String>| own.clone().or(other.clone());
        Target {
            inference_component: pick(&self.inference_component, &fallback.inference_component),
            target_model: pick(&self.target_model, &fallback.target_model),
            target_variant: pick(&self.target_variant, &fallback.target_variant),
            target_container_hostname: pick(
                &self.target_container_hostname,
                &fallback.target_container_hostname,
            ),
        }
    }
}

/// One `InvokeEndpoint` call.
#[derive(Debug, Clone)]
pub struct Invocation<'a> {
    /// The body, sent unchanged.
    pub body: Bytes,
    /// `ContentType`.
    pub content_type: &'a str,
    /// `Accept`; `None` sends none (the container's default).
    pub accept: Option<&'a str>,
    /// Inference component, target model, variant, container.
    pub target: &'a Target,
    /// `InferenceId`: the request id, so data capture joins the API's logs.
    pub inference_id: &'a str,
    /// `CustomAttributes`, passed through verbatim.
    pub custom_attributes: Option<&'a str>,
    /// The longest the call may take, retries included: `INVOKE_TIMEOUT_MS`, or less when the
    /// invocation's deadline is nearer.
    pub timeout: Duration,
}

/// What the model answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelResponse {
    /// The body, unchanged.
    pub body: Bytes,
    /// The model's `Content-Type`, when it sent one.
    pub content_type: Option<String>,
    /// The model's `CustomAttributes`, when it set any.
    pub custom_attributes: Option<String>,
}

impl ModelResponse {
    /// A response with only a body (tests and fakes).
    pub fn body(body: impl Into<Bytes>) -> Self {
        Self {
            body: body.into(),
            ..Self::default()
        }
    }
}

/// Why an invocation failed, in the model's terms. The SageMaker adapter produces these, logging
/// what the client will not see; [`to_api_error`] turns them into the contract's errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The model container answered 4xx: it refused this input.
    #[error("the model rejected the input (status {status})")]
    ModelRejectedInput {
        /// The container's original status code.
        status: u16,
        /// The container's own message (SageMaker's `OriginalMessage`), when there is one.
        message: Option<String>,
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
    /// The endpoint or the network is unavailable, or the endpoint does not exist (yet); the
    /// reason is for the log. A caller may retry.
    #[error("the endpoint is unavailable: {0}")]
    Unavailable(String),
    /// SageMaker throttled the call.
    #[error("throttled")]
    Throttled,
    /// The call took longer than its budget (retries included).
    #[error("timed out")]
    Timeout,
    /// A bug or misconfiguration (access denied, a target the endpoint does not have, a
    /// parameter SageMaker refuses): not the caller's to fix, and retrying will not help.
    #[error("internal: {0}")]
    Internal(String),
}

/// A model endpoint: send a body, get the model's answer.
pub trait Endpoint: Send + Sync {
    /// Invokes the model once (retries of transient failures included).
    fn invoke(
        &self,
        call: Invocation<'_>,
    ) -> impl Future<Output = Result<ModelResponse, InvokeError>> + Send;
}

/// Maps invocation failures onto the API contract for the image routes, where a model's 4xx
/// means the image was unusable. Only the class of failure crosses; the detail was logged by
/// the adapter. `budget` is the time the call was given, for the 504's message.
pub fn to_api_error(err: &InvokeError, budget: Duration) -> ApiError {
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
        InvokeError::Timeout => ApiError::EndpointTimeout {
            timeout_ms: budget.as_millis() as u64,
        },
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
                InvokeError::ModelRejectedInput {
                    status: 400,
                    message: None,
                },
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
            let api = to_api_error(&err, Duration::from_secs(1));
            assert_eq!((api.status(), api.code()), (status, code), "{err:?}");
        }
    }

    #[test]
    fn only_retryable_failures_carry_retry_after() {
        let retry = |e: &InvokeError| {
            to_api_error(e, Duration::from_secs(1))
                .headers()
                .into_iter()
                .find(|(name, _)| *name == "retry-after")
                .map(|(_, v)| v)
        };
        assert_eq!(retry(&InvokeError::NotReady).as_deref(), Some("10"));
        assert_eq!(
            retry(&InvokeError::Unavailable("x".into())).as_deref(),
            Some("5")
        );
        assert_eq!(retry(&InvokeError::Throttled).as_deref(), Some("1"));
        assert_eq!(retry(&InvokeError::Internal("validation".into())), None);
        assert_eq!(retry(&InvokeError::Timeout), None);
    }

    #[test]
    fn the_timeout_message_names_the_budget_the_call_had() {
        let api = to_api_error(&InvokeError::Timeout, Duration::from_millis(1234));
        assert!(api.to_string().contains("1234 ms"), "{api}");
    }

    #[test]
    fn a_named_target_field_wins_and_the_others_fall_back() {
        let stage = Target {
            inference_component: Some("default-ic".into()),
            target_variant: Some("AllTraffic".into()),
            ..Target::default()
        };
        let model = Target {
            inference_component: Some("llama".into()),
            ..Target::default()
        };
        let merged = model.or(&stage);
        assert_eq!(merged.inference_component.as_deref(), Some("llama"));
        assert_eq!(merged.target_variant.as_deref(), Some("AllTraffic"));
        assert_eq!(merged.target_model, None);
        assert!(Target::default().is_empty());
        assert!(!merged.is_empty());
    }
}

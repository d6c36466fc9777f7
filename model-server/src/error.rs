//! Invocation failures and their HTTP form — the one place errors become responses.
//!
//! The same failure has two faces. On `/invocations` (the container contract) it is the
//! container's own status and a small JSON body. On `/endpoints/{name}/invocations` (the
//! SageMaker Runtime API, restJson1) it is what SageMaker answers: the error type in the
//! `x-amzn-ErrorType` header (which the AWS SDKs read first), and for failures of the container
//! a 424 `ModelError` whose body carries `Message`, `OriginalStatusCode`, `OriginalMessage` and
//! `LogStreamArn`, the members of the service model's `ModelError` shape.
//!
//! Where each runtime-API shape comes from is noted where it is built: "observed" means the
//! status, error type and message were seen in answers of the real service (quoted in public
//! issues); "modelled" means no public answer was found and the message follows the observed
//! ones (the status and error type are the only ones `InvokeEndpoint` models for the case).

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::invocation::{TargetError, Violations};
use crate::preprocess::ImageError;

/// The header the AWS SDKs take the error code from.
pub const ERROR_TYPE_HEADER: HeaderName = HeaderName::from_static("x-amzn-errortype");

/// The fake AWS account and region that runtime-API messages and ARNs name.
#[derive(Debug, Clone)]
pub struct RuntimeIdentity {
    /// Twelve-digit account id shown in messages.
    pub account: String,
    /// Region shown in ARNs and console links.
    pub region: String,
}

impl Default for RuntimeIdentity {
    fn default() -> Self {
        Self {
            account: "000000000000".to_owned(),
            region: "us-east-1".to_owned(),
        }
    }
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The model is still loading.
    #[error("model is not loaded yet")]
    NotReady,
    /// The runtime API was asked for an endpoint this server does not serve.
    #[error("endpoint {0} not found")]
    UnknownEndpoint(String),
    /// A SageMaker header breaks its shape's constraints (length, characters).
    #[error("{0}")]
    InvalidHeaders(Violations),
    /// The request names a target (inference component, model, variant, container) the
    /// endpoint does not serve, or lacks one it requires.
    #[error("{0}")]
    Target(#[from] TargetError),
    /// The body is larger than the limit.
    #[error("request body exceeds the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// The body could not be read.
    #[error("cannot read request body: {0}")]
    BadBody(String),
    /// The Content-Type is missing or not an accepted image type.
    #[error(
        "unsupported content type {0:?}; use application/x-image, image/jpeg, image/png or image/webp"
    )]
    UnsupportedMediaType(String),
    /// The Accept header asks for nothing the server produces.
    #[error("cannot produce {0:?}; accept application/json or application/jsonlines")]
    NotAcceptable(String),
    /// The image was rejected.
    #[error("invalid image: {0}")]
    InvalidImage(#[from] ImageError),
    /// The model failed on a valid image (details are logged, not returned).
    #[error("inference failed: {0}")]
    Internal(String),
}

impl InvokeError {
    /// The status the container itself answers with (the `/invocations` status, and the
    /// `OriginalStatusCode` of a runtime-API `ModelError`).
    #[must_use]
    pub fn container_status(&self) -> StatusCode {
        match self {
            Self::NotReady => StatusCode::SERVICE_UNAVAILABLE,
            Self::UnknownEndpoint(_) => StatusCode::NOT_FOUND,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadBody(_)
            | Self::InvalidImage(_)
            | Self::InvalidHeaders(_)
            | Self::Target(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message a client may see: everything but internal failures, which stay in the log.
    #[must_use]
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "inference failed".to_owned(),
            other => other.to_string(),
        }
    }

    /// The response on the container route (`POST /invocations`).
    #[must_use]
    pub fn container_response(&self) -> Response {
        (
            self.container_status(),
            Json(json!({ "message": self.public_message() })),
        )
            .into_response()
    }

    /// The response on the runtime route (`POST /endpoints/{endpoint}/invocations`), shaped as
    /// SageMaker Runtime answers.
    #[must_use]
    pub fn runtime_response(&self, endpoint: &str, id: &RuntimeIdentity) -> Response {
        let RuntimeIdentity { account, region } = id;
        match self {
            // Observed: aws/amazon-sagemaker-examples#293 and #559.
            Self::UnknownEndpoint(name) => aws_error(
                StatusCode::BAD_REQUEST,
                "ValidationError",
                json!({ "message": format!("Endpoint {name} of account {account} not found.") }),
            ),
            // Observed (for the body, a sensitive member, so no value is quoted):
            // aws/aws-sdk-js#4203; the wording is AWS's common constraint-validation message.
            Self::InvalidHeaders(violations) => aws_error(
                StatusCode::BAD_REQUEST,
                "ValidationError",
                json!({ "message": violations.to_string() }),
            ),
            Self::Target(target) => target_error(target, endpoint, id),
            Self::PayloadTooLarge(limit) => aws_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "ValidationError",
                json!({ "message": format!(
                    "1 validation error detected: Value at 'body' failed to satisfy constraint: \
                     Member must have length less than or equal to {limit}"
                ) }),
            ),
            Self::NotReady => aws_error(
                StatusCode::TOO_MANY_REQUESTS,
                "ModelNotReadyException",
                json!({ "Message": format!("Model for endpoint {endpoint} is not ready yet.") }),
            ),
            _ => {
                // The container answered with an error: SageMaker wraps it in a 424 ModelError.
                let status = self.container_status();
                let original = json!({ "message": self.public_message() }).to_string();
                let (kind, code) = if status.is_client_error() {
                    ("client", "CLIENT_ERROR_FROM_MODEL")
                } else {
                    ("server", "SERVER_ERROR_FROM_MODEL")
                };
                let group = format!("/aws/sagemaker/Endpoints/{endpoint}");
                let message = format!(
                    "Received {kind} error ({}) from primary with message \"{original}\". See \
                     https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logEventViewer:group={group} \
                     in account {account} for more information.",
                    status.as_u16()
                );
                aws_error(
                    StatusCode::FAILED_DEPENDENCY,
                    "ModelError",
                    json!({
                        "ErrorCode": code,
                        "Message": message,
                        "OriginalStatusCode": status.as_u16(),
                        "OriginalMessage": original,
                        "LogStreamArn": format!("arn:aws:logs:{region}:{account}:log-group:{group}"),
                    }),
                )
            }
        }
    }
}

/// A refused target: always a 400 `ValidationError`, SageMaker's body `{"ErrorCode", "Message"}`
/// where the real code is known, `{"Message"}` otherwise.
fn target_error(target: &TargetError, endpoint: &str, id: &RuntimeIdentity) -> Response {
    let account = &id.account;
    let (code, message) = match target {
        // Observed: a user's write-up of invoking a plain JumpStart endpoint with the header,
        // and the message BerriAI/litellm's SageMaker tests reproduce.
        TargetError::ComponentNotAllowed => (
            None,
            "Inference Component Name header is not allowed for endpoints to which you dont plan \
             to deploy inference components. Please remove the Inference Component Name header \
             and try again."
                .to_owned(),
        ),
        // Observed: aws/amazon-sagemaker-examples#1216 (raw body) and #1026.
        TargetError::TargetModelNotSupported => (
            Some("TARGET_MODEL_HEADER_NOT_SUPPORTED"),
            format!(
                "Endpoint {endpoint} is not a multi-model endpoint and does not support target \
                 model header."
            ),
        ),
        // Observed: BerriAI/litellm#37766 (raw body), langchain-ai/langchain#16150,
        // aws-samples/amazon-kendra-langchain-extensions#64.
        TargetError::ModelMissing => (
            Some("INFERENCE_COMPONENT_NAME_MISSING"),
            "Inference Component Name header is required for endpoints to which you plan to \
             deploy inference components. Please include Inference Component Name header or \
             consider using SageMaker models."
                .to_owned(),
        ),
        // Modelled on the unknown-endpoint message.
        TargetError::UnknownComponent(name) => (
            None,
            format!("Inference Component {name} of account {account} not found."),
        ),
        // Modelled.
        TargetError::UnknownTargetModel(name) => (
            None,
            format!("Target model {name} not found for endpoint {endpoint}."),
        ),
        // Modelled.
        TargetError::UnknownVariant(name) => (
            None,
            format!("Target variant {name} not found for endpoint {endpoint}."),
        ),
        // Modelled on TARGET_MODEL_HEADER_NOT_SUPPORTED.
        TargetError::HostnameNotSupported => (
            None,
            format!(
                "Endpoint {endpoint} is not configured for direct invocation and does not \
                 support target container hostname header."
            ),
        ),
        // Modelled.
        TargetError::HostnameMissing => (
            None,
            format!(
                "Target container hostname header is required for endpoint {endpoint}, which \
                 is configured for direct invocation."
            ),
        ),
        // Modelled.
        TargetError::UnknownHostname(name) => (
            None,
            format!("Target container hostname {name} not found for endpoint {endpoint}."),
        ),
    };
    let body = match code {
        Some(code) => json!({ "ErrorCode": code, "Message": message }),
        None => json!({ "Message": message }),
    };
    aws_error(StatusCode::BAD_REQUEST, "ValidationError", body)
}

fn aws_error(status: StatusCode, error_type: &'static str, body: serde_json::Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(ERROR_TYPE_HEADER, HeaderValue::from_static(error_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_json(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn corrupt_image_is_a_model_error_with_original_status_400() {
        let err = InvokeError::InvalidImage(ImageError::UnsupportedFormat);
        let response = err.runtime_response("ep", &RuntimeIdentity::default());
        assert_eq!(response.status(), StatusCode::FAILED_DEPENDENCY);
        assert_eq!(response.headers()[ERROR_TYPE_HEADER], "ModelError");
        let body = body_json(response).await;
        assert_eq!(body["OriginalStatusCode"], 400);
        assert_eq!(body["ErrorCode"], "CLIENT_ERROR_FROM_MODEL");
        assert!(
            body["Message"]
                .as_str()
                .unwrap()
                .starts_with("Received client error (400) from primary")
        );
        assert_eq!(
            body["LogStreamArn"],
            "arn:aws:logs:us-east-1:000000000000:log-group:/aws/sagemaker/Endpoints/ep"
        );
        let original: serde_json::Value =
            serde_json::from_str(body["OriginalMessage"].as_str().unwrap()).unwrap();
        assert!(
            original["message"]
                .as_str()
                .unwrap()
                .contains("unsupported image format")
        );
    }

    #[tokio::test]
    async fn internal_details_are_not_returned() {
        let err = InvokeError::Internal("tensor shape mismatch at layer 7".to_owned());
        let body = body_json(err.container_response()).await;
        assert_eq!(body["message"], "inference failed");
        let body = body_json(err.runtime_response("ep", &RuntimeIdentity::default())).await;
        assert!(!body.to_string().contains("layer 7"));
        assert_eq!(body["OriginalStatusCode"], 500);
        assert_eq!(body["ErrorCode"], "SERVER_ERROR_FROM_MODEL");
    }
}

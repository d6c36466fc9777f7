//! The real [`Endpoint`]: SageMaker Runtime `InvokeEndpoint` through the AWS SDK.
//!
//! Builds the one client the function uses (rustls with ring only: one TLS stack, the smallest
//! binary, and none of aws-lc's init-time entropy cost), bounds every call with an operation
//! timeout that includes retries (and a shorter one when the invocation's deadline is nearer),
//! and turns the SDK's error variants into [`InvokeError`]s.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_sagemakerruntime::Client;
use aws_sdk_sagemakerruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sagemakerruntime::operation::invoke_endpoint::InvokeEndpointError;
use aws_sdk_sagemakerruntime::primitives::Blob;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use bytes::Bytes;

use crate::model::endpoint::{Endpoint, Invocation, InvokeError, ModelResponse};

/// Longest wait for a TCP + TLS connection, and never more than half the operation timeout: a
/// connection that cannot be made is an unreachable endpoint (503), which must be told apart
/// from a slow model (504) before the whole budget is spent.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Attempts per `InvokeEndpoint` call (the first one and two retries of transient failures).
const MAX_ATTEMPTS: u32 = 3;

/// Backoff before the first retry (jittered, doubling, at most [`MAX_BACKOFF`]). The SDK's
/// default of 1 s (up to 3 s over two retries) would outlast a short `INVOKE_TIMEOUT_MS`, so an
/// unreachable endpoint would be reported as a timeout (504) instead of unavailable (503), and
/// a Lambda is billed for every second it sleeps. At most 300 ms in all here.
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_millis(200);

/// The HTTPS client: rustls with ring. Built once per process.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Loads region and credentials from the environment (Lambda's, or the local stack's dummies;
/// `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME` redirects the client to model-server).
pub async fn load_sdk_config(http_client: SharedHttpClient) -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client)
        .load()
        .await
}

/// A SageMaker Runtime client whose every `InvokeEndpoint` call, retries included, ends within
/// `invoke_timeout`: the operation timeout covers all attempts, so retries cannot push a
/// request past it.
pub fn client(sdk_config: &SdkConfig, invoke_timeout: Duration) -> Client {
    client_with_connect_timeout(
        sdk_config,
        invoke_timeout,
        CONNECT_TIMEOUT.min(invoke_timeout / 2),
    )
}

/// [`client`] with its connect timeout chosen (tests use a short one).
pub fn client_with_connect_timeout(
    sdk_config: &SdkConfig,
    invoke_timeout: Duration,
    connect_timeout: Duration,
) -> Client {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(connect_timeout)
        .operation_timeout(invoke_timeout)
        .build();
    let config = aws_sdk_sagemakerruntime::config::Builder::from(sdk_config)
        .timeout_config(timeouts)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(INITIAL_BACKOFF)
                .with_max_backoff(MAX_BACKOFF),
        )
        .build();
    Client::from_conf(config)
}

/// One SageMaker endpoint, invoked by name.
#[derive(Debug, Clone)]
pub struct SageMakerEndpoint {
    client: Client,
    endpoint_name: String,
    /// The client's own operation timeout: calls with a shorter budget get a timer of their own.
    operation_timeout: Option<Duration>,
}

impl SageMakerEndpoint {
    /// Wraps a client for the named endpoint.
    pub fn new(client: Client, endpoint_name: impl Into<String>) -> Self {
        let operation_timeout = client
            .config()
            .timeout_config()
            .and_then(|t| t.operation_timeout());
        Self {
            client,
            endpoint_name: endpoint_name.into(),
            operation_timeout,
        }
    }

    /// Opens and pools one connection to the SageMaker Runtime host during init, so the first
    /// request does not pay for the TCP and TLS handshakes. It never invokes the model: the
    /// request is rewritten to `GET /ping` before it is sent, whatever the host answers is
    /// ignored, and it gives up after `budget`.
    pub async fn warm_up(&self, budget: Duration) {
        let started = std::time::Instant::now();
        let override_config = aws_sdk_sagemakerruntime::config::Builder::default()
            .retry_config(RetryConfig::disabled())
            .timeout_config(TimeoutConfig::builder().operation_timeout(budget).build());
        let call = self
            .client
            .invoke_endpoint()
            .endpoint_name(&self.endpoint_name)
            .body(Blob::new(Vec::new()))
            .customize()
            .config_override(override_config)
            .mutate_request(|req| {
                let _ = req.set_method("GET");
                if let Ok(uri) = rewrite_path(req.uri(), "/ping") {
                    let _ = req.set_uri(uri);
                }
            })
            .send();
        let outcome = match tokio::time::timeout(budget, call).await {
            Ok(Ok(_)) => "connected",
            Ok(Err(SdkError::ServiceError(_))) => "connected",
            Ok(Err(_)) => "failed",
            Err(_) => "timed out",
        };
        tracing::info!(
            outcome,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "connection warm-up"
        );
    }
}

/// `https://host/endpoints/x/invocations` → `https://host/ping`.
fn rewrite_path(uri: &str, path: &str) -> Result<String, ()> {
    let after_scheme = uri.find("://").ok_or(())? + 3;
    let path_start = uri[after_scheme..]
        .find('/')
        .map_or(uri.len(), |i| after_scheme + i);
    Ok(format!("{}{}", &uri[..path_start], path))
}

impl Endpoint for SageMakerEndpoint {
    async fn invoke(&self, call: Invocation<'_>) -> Result<ModelResponse, InvokeError> {
        let target = call.target;
        let request = self
            .client
            .invoke_endpoint()
            .endpoint_name(&self.endpoint_name)
            .content_type(call.content_type)
            .set_accept(call.accept.map(str::to_owned))
            .set_inference_component_name(target.inference_component.clone())
            .set_target_model(target.target_model.clone())
            .set_target_variant(target.target_variant.clone())
            .set_target_container_hostname(target.target_container_hostname.clone())
            .inference_id(call.inference_id)
            .set_custom_attributes(call.custom_attributes.map(str::to_owned))
            .body(Blob::new(call.body))
            .send();
        // The client's operation timeout bounds every call; a nearer deadline adds a timer of
        // its own (only then: a timer per call costs a registration on the hot path).
        let result = match self.operation_timeout {
            Some(limit) if call.timeout >= limit => request.await,
            _ => match tokio::time::timeout(call.timeout, request).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!(
                        endpoint = %self.endpoint_name,
                        budget_ms = call.timeout.as_millis() as u64,
                        "InvokeEndpoint ran out of the invocation's remaining time"
                    );
                    return Err(InvokeError::Timeout);
                }
            },
        };
        match result {
            Ok(output) => Ok(ModelResponse {
                body: output
                    .body
                    .map(|b| Bytes::from(b.into_inner()))
                    .unwrap_or_default(),
                content_type: output.content_type,
                custom_attributes: output.custom_attributes,
            }),
            Err(err) => Err(classify(&self.endpoint_name, err)),
        }
    }
}

/// Turns the SDK's error into an [`InvokeError`], logging what the client will not see.
pub fn classify(
    endpoint_name: &str,
    err: SdkError<InvokeEndpointError, HttpResponse>,
) -> InvokeError {
    match err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            classify_service_error(endpoint_name, ctx.err(), status)
        }
        SdkError::TimeoutError(_) => {
            tracing::warn!(endpoint = endpoint_name, "InvokeEndpoint timed out");
            InvokeError::Timeout
        }
        SdkError::DispatchFailure(failure) if failure.is_timeout() => {
            // The connect timeout (the only timeout below the operation's): nothing answered,
            // so the endpoint is unreachable rather than slow.
            tracing::error!(
                endpoint = endpoint_name,
                "InvokeEndpoint could not connect within the connect timeout"
            );
            InvokeError::Unavailable("connect timeout".to_owned())
        }
        SdkError::DispatchFailure(failure) => {
            let reason = format!("{:?}", failure.as_connector_error());
            tracing::error!(
                endpoint = endpoint_name,
                reason,
                "InvokeEndpoint could not reach SageMaker"
            );
            InvokeError::Unavailable(reason)
        }
        SdkError::ResponseError(ctx) => {
            let reason = format!(
                "unreadable response (status {})",
                ctx.raw().status().as_u16()
            );
            tracing::error!(
                endpoint = endpoint_name,
                reason,
                "InvokeEndpoint response could not be read"
            );
            InvokeError::Unavailable(reason)
        }
        other => {
            let reason = other.to_string();
            tracing::error!(
                endpoint = endpoint_name,
                reason,
                "InvokeEndpoint could not be sent"
            );
            InvokeError::Internal(reason)
        }
    }
}

fn classify_service_error(
    endpoint_name: &str,
    err: &InvokeEndpointError,
    http_status: u16,
) -> InvokeError {
    match err {
        InvokeEndpointError::ModelError(e) => {
            let original = e.original_status_code().and_then(|s| u16::try_from(s).ok());
            tracing::warn!(
                endpoint = endpoint_name,
                original_status = original,
                log_stream = e.log_stream_arn().unwrap_or("-"),
                "the model container returned an error"
            );
            match original {
                Some(status @ 400..=499) => InvokeError::ModelRejectedInput {
                    status,
                    message: e.original_message().map(str::to_owned),
                },
                status => InvokeError::ModelFailed { status },
            }
        }
        InvokeEndpointError::ModelNotReadyException(_) => {
            tracing::warn!(endpoint = endpoint_name, "the endpoint is not ready");
            InvokeError::NotReady
        }
        InvokeEndpointError::ServiceUnavailable(_)
        | InvokeEndpointError::InternalFailure(_)
        | InvokeEndpointError::InternalDependencyException(_) => {
            let reason = err.code().unwrap_or("unknown").to_owned();
            tracing::error!(endpoint = endpoint_name, reason, "SageMaker is unavailable");
            InvokeError::Unavailable(reason)
        }
        InvokeEndpointError::ValidationError(e) => {
            let reason = e.message().unwrap_or("validation error").to_owned();
            if names_a_missing_endpoint(&reason) {
                // Deleted, still being created, or a wrong ENDPOINT_NAME: the caller may retry.
                tracing::error!(
                    endpoint = endpoint_name,
                    reason,
                    "SageMaker has no such endpoint: check ENDPOINT_NAME"
                );
                InvokeError::Unavailable(reason)
            } else {
                // A target the endpoint does not have, a parameter it refuses: the deployment's
                // to fix, and the same call will fail again.
                tracing::error!(
                    endpoint = endpoint_name,
                    reason,
                    "SageMaker refused the call's parameters: check the stage's target settings"
                );
                InvokeError::Internal(reason)
            }
        }
        other if is_throttling(other.code(), http_status) => {
            tracing::warn!(endpoint = endpoint_name, "SageMaker throttled the call");
            InvokeError::Throttled
        }
        other => {
            let reason = format!(
                "{} (HTTP {http_status})",
                other.code().unwrap_or("unknown error")
            );
            if http_status >= 500 {
                tracing::error!(endpoint = endpoint_name, reason, "SageMaker failed");
                InvokeError::Unavailable(reason)
            } else {
                // Access denied and the like: a deployment problem, not the client's.
                tracing::error!(
                    endpoint = endpoint_name,
                    reason,
                    "SageMaker refused the call"
                );
                InvokeError::Internal(reason)
            }
        }
    }
}

/// SageMaker's message for an endpoint that does not exist: "Endpoint NAME of account ACCOUNT
/// not found." (other `ValidationError`s name an inference component, a variant, a model or a
/// parameter).
fn names_a_missing_endpoint(message: &str) -> bool {
    message.starts_with("Endpoint ") && message.contains(" not found")
}

fn is_throttling(code: Option<&str>, http_status: u16) -> bool {
    http_status == 429
        || matches!(
            code,
            Some(
                "ThrottlingException"
                    | "Throttling"
                    | "TooManyRequestsException"
                    | "ThrottledException"
            )
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::endpoint::Target;
    use aws_sdk_sagemakerruntime::operation::invoke_endpoint::InvokeEndpointOutput;
    use aws_sdk_sagemakerruntime::types::error::{
        InternalDependencyException, InternalFailure, ModelError, ModelNotReadyException,
        ServiceUnavailable, ValidationError,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    const NO_TARGET: Target = Target {
        inference_component: None,
        target_model: None,
        target_variant: None,
        target_container_hostname: None,
    };

    fn call<'a>(body: &'static [u8], target: &'a Target, timeout: Duration) -> Invocation<'a> {
        Invocation {
            body: Bytes::from_static(body),
            content_type: "application/x-image",
            accept: Some("application/json"),
            target,
            inference_id: "req-1",
            custom_attributes: None,
            timeout,
        }
    }

    async fn invoke_with(rule: &aws_smithy_mocks::Rule) -> Result<ModelResponse, InvokeError> {
        let client = mock_client!(aws_sdk_sagemakerruntime, RuleMode::MatchAny, [rule]);
        SageMakerEndpoint::new(client, "my-endpoint")
            .invoke(call(b"img", &NO_TARGET, Duration::from_secs(5)))
            .await
    }

    #[tokio::test]
    async fn sends_the_bytes_unchanged_with_content_type_accept_and_inference_id() {
        let rule = mock!(Client::invoke_endpoint)
            .match_requests(|r| {
                r.endpoint_name() == Some("my-endpoint")
                    && r.content_type() == Some("application/x-image")
                    && r.accept() == Some("application/json")
                    && r.inference_id() == Some("req-1")
                    && r.inference_component_name().is_none()
                    && r.custom_attributes().is_none()
                    && r.body().map(|b| b.as_ref()) == Some(&b"img"[..])
            })
            .then_output(|| {
                InvokeEndpointOutput::builder()
                    .body(Blob::new(&b"[0.5,0.5]"[..]))
                    .content_type("application/json")
                    .build()
            });
        let answer = invoke_with(&rule).await.unwrap();
        assert_eq!(answer.body, Bytes::from_static(b"[0.5,0.5]"));
        assert_eq!(answer.content_type.as_deref(), Some("application/json"));
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn targets_and_custom_attributes_travel_both_ways() {
        let rule = mock!(Client::invoke_endpoint)
            .match_requests(|r| {
                r.inference_component_name() == Some("llama-ic")
                    && r.target_model() == Some("model-a.tar.gz")
                    && r.target_variant() == Some("blue")
                    && r.target_container_hostname() == Some("c1")
                    && r.custom_attributes() == Some("trace=abc")
                    && r.accept().is_none()
            })
            .then_output(|| {
                InvokeEndpointOutput::builder()
                    .body(Blob::new(&b"{}"[..]))
                    .custom_attributes("trace=abc; served")
                    .build()
            });
        let client = mock_client!(aws_sdk_sagemakerruntime, RuleMode::MatchAny, [&rule]);
        let target = Target {
            inference_component: Some("llama-ic".into()),
            target_model: Some("model-a.tar.gz".into()),
            target_variant: Some("blue".into()),
            target_container_hostname: Some("c1".into()),
        };
        let answer = SageMakerEndpoint::new(client, "e")
            .invoke(Invocation {
                accept: None,
                custom_attributes: Some("trace=abc"),
                ..call(b"{}", &target, Duration::from_secs(5))
            })
            .await
            .unwrap();
        assert_eq!(
            answer.custom_attributes.as_deref(),
            Some("trace=abc; served")
        );
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn model_error_with_4xx_original_status_means_the_input_was_rejected() {
        let rule = mock!(Client::invoke_endpoint).then_error(|| {
            InvokeEndpointError::ModelError(
                ModelError::builder()
                    .original_status_code(422)
                    .original_message("field `inputs` is required")
                    .message("Received client error (422) from primary")
                    .build(),
            )
        });
        assert_eq!(
            invoke_with(&rule).await,
            Err(InvokeError::ModelRejectedInput {
                status: 422,
                message: Some("field `inputs` is required".to_owned())
            })
        );
    }

    #[tokio::test]
    async fn model_error_with_5xx_or_no_status_is_a_model_failure() {
        let rule = mock!(Client::invoke_endpoint).then_error(|| {
            InvokeEndpointError::ModelError(ModelError::builder().original_status_code(500).build())
        });
        assert_eq!(
            invoke_with(&rule).await,
            Err(InvokeError::ModelFailed { status: Some(500) })
        );
        let rule = mock!(Client::invoke_endpoint)
            .then_error(|| InvokeEndpointError::ModelError(ModelError::builder().build()));
        assert_eq!(
            invoke_with(&rule).await,
            Err(InvokeError::ModelFailed { status: None })
        );
    }

    #[tokio::test]
    async fn model_not_ready_is_not_ready() {
        let rule = mock!(Client::invoke_endpoint).then_error(|| {
            InvokeEndpointError::ModelNotReadyException(ModelNotReadyException::builder().build())
        });
        assert_eq!(invoke_with(&rule).await, Err(InvokeError::NotReady));
    }

    #[tokio::test]
    async fn service_failures_and_a_missing_endpoint_are_unavailable() {
        let errors: [fn() -> InvokeEndpointError; 4] = [
            || InvokeEndpointError::ServiceUnavailable(ServiceUnavailable::builder().build()),
            || InvokeEndpointError::InternalFailure(InternalFailure::builder().build()),
            || {
                InvokeEndpointError::InternalDependencyException(
                    InternalDependencyException::builder().build(),
                )
            },
            || {
                InvokeEndpointError::ValidationError(
                    ValidationError::builder()
                        .message("Endpoint x of account 123456789012 not found.")
                        .build(),
                )
            },
        ];
        for make in errors {
            let rule = mock!(Client::invoke_endpoint).then_error(make);
            assert!(matches!(
                invoke_with(&rule).await,
                Err(InvokeError::Unavailable(_))
            ));
        }
    }

    #[tokio::test]
    async fn other_validation_errors_are_internal_not_retryable() {
        for message in [
            "Inference Component Name header is required when your endpoint is created with InferenceComponents",
            "Inference Component llama-ic of account 123456789012 not found.",
            "Variant blue of endpoint e not found.",
        ] {
            let rule = mock!(Client::invoke_endpoint).then_error(move || {
                InvokeEndpointError::ValidationError(
                    ValidationError::builder().message(message).build(),
                )
            });
            assert_eq!(
                invoke_with(&rule).await,
                Err(InvokeError::Internal(message.to_owned())),
                "{message}"
            );
        }
    }

    #[tokio::test]
    async fn throttling_response_is_throttled() {
        let rule = mock!(Client::invoke_endpoint).then_http_response(|| {
            HttpResponse::new(
                StatusCode::try_from(400).unwrap(),
                SdkBody::from(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#),
            )
        });
        assert_eq!(invoke_with(&rule).await, Err(InvokeError::Throttled));
    }

    #[tokio::test]
    async fn access_denied_is_internal_not_the_clients_fault() {
        let rule = mock!(Client::invoke_endpoint).then_http_response(|| {
            HttpResponse::new(
                StatusCode::try_from(403).unwrap(),
                SdkBody::from(r#"{"__type":"AccessDeniedException","message":"not authorized"}"#),
            )
        });
        assert!(matches!(
            invoke_with(&rule).await,
            Err(InvokeError::Internal(_))
        ));
    }

    fn local_sdk_config(port: u16) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(
                aws_sdk_sagemakerruntime::config::SharedCredentialsProvider::new(
                    aws_sdk_sagemakerruntime::config::Credentials::for_tests(),
                ),
            )
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .http_client(https_client())
            .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
            .build()
    }

    fn local_client(port: u16, timeout: Duration) -> Client {
        client(&local_sdk_config(port), timeout)
    }

    async fn invoke_local(
        endpoint: &SageMakerEndpoint,
        budget: Duration,
    ) -> Result<ModelResponse, InvokeError> {
        endpoint.invoke(call(b"x", &NO_TARGET, budget)).await
    }

    /// Accepts connections and never answers.
    async fn silent_server() -> (u16, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                held.push(sock);
            }
        });
        (port, hold)
    }

    #[tokio::test]
    async fn a_silent_endpoint_times_out_within_the_operation_timeout() {
        let (port, hold) = silent_server().await;
        let timeout = Duration::from_millis(300);
        let endpoint = SageMakerEndpoint::new(local_client(port, timeout), "e");
        assert_eq!(
            invoke_local(&endpoint, timeout).await,
            Err(InvokeError::Timeout)
        );
        hold.abort();
    }

    #[tokio::test]
    async fn a_budget_shorter_than_the_operation_timeout_ends_the_call_sooner() {
        let (port, hold) = silent_server().await;
        let endpoint = SageMakerEndpoint::new(local_client(port, Duration::from_secs(20)), "e");
        let started = std::time::Instant::now();
        let result = invoke_local(&endpoint, Duration::from_millis(200)).await;
        assert_eq!(result, Err(InvokeError::Timeout));
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        hold.abort();
    }

    #[tokio::test]
    async fn a_connect_timeout_is_unavailable_not_a_timeout() {
        // A listener that never accepts, with its backlog filled: further connection attempts
        // get no SYN-ACK, exactly like an unreachable host.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(0).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut fillers = Vec::new();
        for _ in 0..8 {
            let s = tokio::net::TcpSocket::new_v4().unwrap();
            if let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_millis(200), s.connect(addr)).await
            {
                fillers.push(stream);
            }
        }
        let client = client_with_connect_timeout(
            &local_sdk_config(addr.port()),
            Duration::from_secs(5),
            Duration::from_millis(150),
        );
        let endpoint = SageMakerEndpoint::new(client, "e");
        let result = invoke_local(&endpoint, Duration::from_secs(5)).await;
        assert!(
            matches!(result, Err(InvokeError::Unavailable(ref reason)) if reason == "connect timeout"),
            "{result:?}"
        );
        drop(listener);
    }

    #[tokio::test]
    async fn a_refused_connection_is_unavailable() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        // A short budget, as in the end-to-end fault tests: the retries' backoff must fit in it,
        // or a refused connection would surface as a timeout.
        let endpoint = SageMakerEndpoint::new(local_client(port, Duration::from_secs(1)), "e");
        let result = invoke_local(&endpoint, Duration::from_secs(1)).await;
        assert!(
            matches!(result, Err(InvokeError::Unavailable(_))),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn a_dropped_connection_is_retried_then_unavailable_within_the_budget() {
        // Accepts each connection and closes it without answering, counting attempts.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counter = accepted.clone();
        let server = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(sock);
            }
        });
        let endpoint = SageMakerEndpoint::new(local_client(port, Duration::from_secs(1)), "e");
        let result = invoke_local(&endpoint, Duration::from_secs(1)).await;
        server.abort();
        assert!(
            matches!(result, Err(InvokeError::Unavailable(_))),
            "{result:?}"
        );
        assert_eq!(
            accepted.load(std::sync::atomic::Ordering::SeqCst),
            MAX_ATTEMPTS
        );
    }

    #[tokio::test]
    async fn warm_up_sends_get_ping_and_never_invokes() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = sock.read(&mut buf).await.unwrap();
            sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        let endpoint = SageMakerEndpoint::new(local_client(port, Duration::from_secs(5)), "e");
        endpoint.warm_up(Duration::from_secs(1)).await;
        let request = server.await.unwrap();
        assert!(request.starts_with("GET /ping HTTP/1.1"), "{request}");
    }

    #[test]
    fn rewrite_path_keeps_scheme_and_authority() {
        assert_eq!(
            rewrite_path(
                "https://runtime.sagemaker.eu-west-1.amazonaws.com/endpoints/x/invocations",
                "/ping"
            ),
            Ok("https://runtime.sagemaker.eu-west-1.amazonaws.com/ping".to_owned())
        );
        assert_eq!(
            rewrite_path("http://127.0.0.1:8080", "/ping"),
            Ok("http://127.0.0.1:8080/ping".to_owned())
        );
        assert_eq!(rewrite_path("nonsense", "/ping"), Err(()));
    }

    #[test]
    fn only_a_missing_endpoint_reads_as_one() {
        assert!(names_a_missing_endpoint(
            "Endpoint my-ep of account 123456789012 not found."
        ));
        assert!(!names_a_missing_endpoint(
            "Inference Component x of account 1 not found."
        ));
        assert!(!names_a_missing_endpoint("Endpoint e is in Creating state"));
    }
}

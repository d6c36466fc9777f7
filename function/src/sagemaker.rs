//! The real [`Endpoint`]: SageMaker Runtime `InvokeEndpoint` through the AWS SDK.
//!
//! Builds the one client the function uses (rustls with ring only: one TLS stack, the smallest
//! binary, and none of aws-lc's init-time entropy cost), bounds every call with an operation
//! timeout that includes retries, and turns the SDK's error variants into [`InvokeError`]s.

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

use crate::endpoint::{Endpoint, InvokeError};

/// Longest wait for a TCP + TLS connection; capped by the operation timeout.
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
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT.min(invoke_timeout))
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
}

impl SageMakerEndpoint {
    /// Wraps a client for the named endpoint.
    pub fn new(client: Client, endpoint_name: impl Into<String>) -> Self {
        Self {
            client,
            endpoint_name: endpoint_name.into(),
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
    async fn invoke(&self, body: Bytes, content_type: &str) -> Result<Bytes, InvokeError> {
        let result = self
            .client
            .invoke_endpoint()
            .endpoint_name(&self.endpoint_name)
            .content_type(content_type)
            .accept("application/json")
            .body(Blob::new(body))
            .send()
            .await;
        match result {
            Ok(output) => Ok(output
                .body
                .map(|b| Bytes::from(b.into_inner()))
                .unwrap_or_default()),
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
            tracing::warn!(
                endpoint = endpoint_name,
                "InvokeEndpoint connection timed out"
            );
            InvokeError::Timeout
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
                Some(status @ 400..=499) => InvokeError::ModelRejectedInput { status },
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
            // Most often the endpoint does not exist (wrong ENDPOINT_NAME or deleted).
            let reason = e.message().unwrap_or("validation error").to_owned();
            tracing::error!(
                endpoint = endpoint_name,
                reason,
                "SageMaker rejected the call: check ENDPOINT_NAME"
            );
            InvokeError::Unavailable(reason)
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
    use aws_sdk_sagemakerruntime::operation::invoke_endpoint::InvokeEndpointOutput;
    use aws_sdk_sagemakerruntime::types::error::{
        InternalDependencyException, InternalFailure, ModelError, ModelNotReadyException,
        ServiceUnavailable, ValidationError,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    async fn invoke_with(rule: &aws_smithy_mocks::Rule) -> Result<Bytes, InvokeError> {
        let client = mock_client!(aws_sdk_sagemakerruntime, RuleMode::MatchAny, [rule]);
        SageMakerEndpoint::new(client, "my-endpoint")
            .invoke(Bytes::from_static(b"img"), "application/x-image")
            .await
    }

    #[tokio::test]
    async fn sends_the_bytes_unchanged_with_content_type_and_accept() {
        let rule = mock!(Client::invoke_endpoint)
            .match_requests(|r| {
                r.endpoint_name() == Some("my-endpoint")
                    && r.content_type() == Some("application/x-image")
                    && r.accept() == Some("application/json")
                    && r.body().map(|b| b.as_ref()) == Some(&b"img"[..])
            })
            .then_output(|| {
                InvokeEndpointOutput::builder()
                    .body(Blob::new(&b"[0.5,0.5]"[..]))
                    .build()
            });
        assert_eq!(
            invoke_with(&rule).await,
            Ok(Bytes::from_static(b"[0.5,0.5]"))
        );
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn model_error_with_4xx_original_status_means_the_input_was_rejected() {
        let rule = mock!(Client::invoke_endpoint).then_error(|| {
            InvokeEndpointError::ModelError(
                ModelError::builder()
                    .original_status_code(400)
                    .message("bad image")
                    .build(),
            )
        });
        assert_eq!(
            invoke_with(&rule).await,
            Err(InvokeError::ModelRejectedInput { status: 400 })
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
    async fn service_failures_are_unavailable() {
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
                        .message("Endpoint x of account 1 not found.")
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

    fn local_client(port: u16, timeout: Duration) -> Client {
        let sdk = SdkConfig::builder()
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
            .build();
        client(&sdk, timeout)
    }

    #[tokio::test]
    async fn a_silent_endpoint_times_out_within_the_operation_timeout() {
        // Accepts connections and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                held.push(sock);
            }
        });
        let endpoint = SageMakerEndpoint::new(local_client(port, Duration::from_millis(300)), "e");
        let result = endpoint
            .invoke(Bytes::from_static(b"x"), "application/x-image")
            .await;
        assert_eq!(result, Err(InvokeError::Timeout));
        hold.abort();
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
        let result = endpoint
            .invoke(Bytes::from_static(b"x"), "application/x-image")
            .await;
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
        let result = endpoint
            .invoke(Bytes::from_static(b"x"), "application/x-image")
            .await;
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
}

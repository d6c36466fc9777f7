//! The HTTP server: SageMaker's container contract and the SageMaker Runtime API.
//!
//! - `GET /ping`: 200 once the model is loaded, 503 before (SageMaker's health check).
//! - `POST /invocations`: the container contract; errors are the container's own statuses.
//! - `POST /endpoints/{name}/invocations`: the SageMaker Runtime `InvokeEndpoint` operation as
//!   the AWS SDKs and CLI send it (any SigV4 signature is accepted); errors as SageMaker's.
//!   Its target headers (inference component, target model, variant, container hostname) must
//!   name what the endpoint serves ([`crate::invocation`]).
//!
//! Both invocation routes check the SageMaker headers' constraints, log the inference id and the
//! targets, and echo `X-Amzn-SageMaker-Custom-Attributes` on success, as a container may (and
//! SageMaker then returns it to the caller as `CustomAttributes`).
//!
//! Inference runs on tokio's blocking threads, at most `max_concurrency` at a time; a request
//! beyond that waits for a permit. Every request is logged once, with its outcome.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::Semaphore;

use crate::classifier::{Classifier, ClassifyError};
use crate::error::{InvokeError, RuntimeIdentity};
use crate::faults::{FaultSetting, Faults, Injected};
use crate::invocation::{DEFAULT_VARIANT, InvocationHeaders, Served, Violations};

/// Largest request body accepted: SageMaker's InvokeEndpoint payload limit (6 MiB).
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;
/// Content types accepted on both invocation routes (the bytes are sniffed regardless).
pub const IMAGE_CONTENT_TYPES: [&str; 4] = [
    "application/x-image",
    "image/jpeg",
    "image/png",
    "image/webp",
];
const VARIANT_HEADER: HeaderName = HeaderName::from_static("x-amzn-invoked-production-variant");
const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-amzn-requestid");

/// How the server behaves, independent of where it listens.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Endpoint names the runtime route serves.
    pub endpoint_names: Vec<String>,
    /// What each endpoint serves: named models, its variant, its containers.
    pub served: Served,
    /// Most inferences running at once.
    pub max_concurrency: usize,
    /// Account and region named by runtime-API errors.
    pub identity: RuntimeIdentity,
    /// Test only: serve `/faults` and inject its faults (see [`crate::faults`]).
    pub fault_injection: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            endpoint_names: vec!["sagefront-local".to_owned()],
            served: Served::default(),
            max_concurrency: std::thread::available_parallelism().map_or(1, usize::from),
            identity: RuntimeIdentity::default(),
            fault_injection: false,
        }
    }
}

/// Shared state: the model (set once loaded) and the limits.
pub struct AppState {
    model: OnceLock<Arc<dyn Classifier>>,
    permits: Arc<Semaphore>,
    options: ServerOptions,
    faults: Option<Faults>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("loaded", &self.is_ready())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State without a model: `/ping` answers 503 until [`AppState::set_model`].
    #[must_use]
    pub fn new(options: ServerOptions) -> Self {
        let permits = Arc::new(Semaphore::new(options.max_concurrency.max(1)));
        let faults = options.fault_injection.then(Faults::default);
        Self {
            model: OnceLock::new(),
            permits,
            options,
            faults,
        }
    }

    /// Installs the loaded model; later calls are ignored (the model never changes).
    pub fn set_model(&self, model: Arc<dyn Classifier>) {
        let _ = self.model.set(model);
    }

    /// Whether the model is loaded.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.model.get().is_some()
    }
}

/// The output format the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutputFormat {
    /// A JSON array of probabilities (the built-in image-classification algorithm's format).
    Json,
    /// One JSON line `{"prediction": [...]}`.
    JsonLines,
}

impl OutputFormat {
    fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::JsonLines => "application/jsonlines",
        }
    }

    fn render(self, probabilities: &[f32]) -> Vec<u8> {
        match self {
            Self::Json => serde_json::to_vec(probabilities),
            Self::JsonLines => serde_json::to_vec(
                &serde_json::json!({ "prediction": probabilities }),
            )
            .map(|mut line| {
                line.push(b'\n');
                line
            }),
        }
        .unwrap_or_default()
    }
}

/// What the log line of a request reports beyond method, path and status.
#[derive(Debug, Clone, Default)]
struct Outcome {
    inference_ms: Option<f64>,
    error: Option<String>,
    /// The SageMaker headers, when they passed their constraints (custom attributes are a
    /// sensitive member and never logged).
    invocation: Option<InvocationHeaders>,
}

/// The router, ready to serve or to be driven by `tower::ServiceExt::oneshot` in tests.
pub fn app(state: Arc<AppState>) -> Router {
    let router = if state.faults.is_some() {
        Router::new().route("/faults", get(get_faults).put(put_faults))
    } else {
        Router::new()
    };
    router
        .route("/ping", get(ping))
        .route("/invocations", post(invocations))
        .route(
            "/endpoints/{endpoint}/invocations",
            post(runtime_invocations),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

async fn ping(State(state): State<Arc<AppState>>) -> StatusCode {
    if state.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// The container route: SageMaker has already routed the request here, so targets are only
/// checked for form and logged.
async fn invocations(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let invocation = InvocationHeaders::parse(&headers);
    let result = match &invocation {
        Ok(_) => invoke(&state, &headers, body).await,
        Err(violations) => Err(InvokeError::InvalidHeaders(violations.clone())),
    };
    let response = match result {
        Ok(ok) => ok.into_response(),
        Err(err) => with_outcome(err.container_response(), &err),
    };
    finish(response, invocation.ok())
}

/// The runtime route, checked in SageMaker's order: the headers' constraints, the endpoint,
/// its targets; then the model (or an injected fault).
async fn runtime_invocations(
    State(state): State<Arc<AppState>>,
    Path(endpoint): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let invocation = InvocationHeaders::parse(&headers);
    let response = runtime_answer(&state, &endpoint, &invocation, &headers, body).await;
    finish(response, invocation.ok())
}

async fn runtime_answer(
    state: &AppState,
    endpoint: &str,
    invocation: &Result<InvocationHeaders, Violations>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let checked = match invocation {
        Err(violations) => Err(InvokeError::InvalidHeaders(violations.clone())),
        Ok(_) if !state.options.endpoint_names.iter().any(|e| e == endpoint) => {
            Err(InvokeError::UnknownEndpoint(endpoint.to_owned()))
        }
        Ok(h) => state.options.served.check(h).map_err(InvokeError::from),
    };
    if let Err(err) = checked {
        return with_outcome(
            err.runtime_response(endpoint, &state.options.identity),
            &err,
        );
    }
    if let Some(faults) = &state.faults
        && let Some(injected) = faults.apply().await
    {
        return injected_response(state, endpoint, injected);
    }
    match invoke(state, headers, body).await {
        Ok(ok) => {
            let mut response = ok.into_response();
            response
                .headers_mut()
                .insert(VARIANT_HEADER, variant_header(state));
            response
        }
        Err(err) => with_outcome(
            err.runtime_response(endpoint, &state.options.identity),
            &err,
        ),
    }
}

/// `x-Amzn-Invoked-Production-Variant`: the endpoint's one variant.
fn variant_header(state: &AppState) -> HeaderValue {
    // The name was checked at start-up (alphanumerics and hyphens), so it is a valid value.
    HeaderValue::from_str(&state.options.served.variant)
        .unwrap_or_else(|_| HeaderValue::from_static(DEFAULT_VARIANT))
}

/// Records the request's SageMaker headers for the log line and, on success, echoes its
/// custom attributes.
fn finish(mut response: Response, invocation: Option<InvocationHeaders>) -> Response {
    if let Some(invocation) = invocation {
        if response.status().is_success()
            && let Some((name, value)) = invocation.echo()
        {
            response.headers_mut().insert(name, value);
        }
        let extensions = response.extensions_mut();
        match extensions.get_mut::<Outcome>() {
            Some(outcome) => outcome.invocation = Some(invocation),
            None => {
                extensions.insert(Outcome {
                    invocation: Some(invocation),
                    ..Outcome::default()
                });
            }
        }
    }
    response
}

async fn get_faults(State(state): State<Arc<AppState>>) -> Response {
    match &state.faults {
        Some(faults) => axum::Json(faults.report()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn put_faults(
    State(state): State<Arc<AppState>>,
    axum::Json(setting): axum::Json<FaultSetting>,
) -> Response {
    match &state.faults {
        Some(faults) => crate::faults::put(faults, setting).await.into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The response of an injected fault, in SageMaker Runtime's shapes.
fn injected_response(state: &AppState, endpoint: &str, injected: Injected) -> Response {
    let err = match injected {
        Injected::ModelError => InvokeError::Internal("injected fault: model_error".to_owned()),
        Injected::NotReady => InvokeError::NotReady,
        Injected::Body(body) => {
            return (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    ),
                    (VARIANT_HEADER, variant_header(state)),
                ],
                body,
            )
                .into_response();
        }
        Injected::Drop => {
            return (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                crate::faults::cut_off_body(),
            )
                .into_response();
        }
    };
    with_outcome(
        err.runtime_response(endpoint, &state.options.identity),
        &err,
    )
}

/// A successful inference.
struct Prediction {
    body: Vec<u8>,
    format: OutputFormat,
    inference_ms: f64,
}

impl IntoResponse for Prediction {
    fn into_response(self) -> Response {
        let mut response = (
            [(header::CONTENT_TYPE, self.format.content_type())],
            self.body,
        )
            .into_response();
        response.extensions_mut().insert(Outcome {
            inference_ms: Some(self.inference_ms),
            ..Outcome::default()
        });
        response
    }
}

fn with_outcome(mut response: Response, err: &InvokeError) -> Response {
    response.extensions_mut().insert(Outcome {
        error: Some(err.to_string()),
        ..Outcome::default()
    });
    response
}

/// The work shared by both invocation routes.
async fn invoke(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Prediction, InvokeError> {
    let model = state.model.get().cloned().ok_or(InvokeError::NotReady)?;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            InvokeError::PayloadTooLarge(MAX_BODY_BYTES)
        } else {
            InvokeError::BadBody(rejection.body_text())
        }
    })?;
    check_content_type(headers)?;
    let format = negotiate(headers)?;

    // Waiting here (not on a blocking thread) keeps queued requests cheap.
    let permit = Arc::clone(&state.permits)
        .acquire_owned()
        .await
        .map_err(|_| InvokeError::Internal("inference pool closed".to_owned()))?;
    let started = Instant::now();
    let result = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        model.classify(&body)
    })
    .await
    .map_err(|e| InvokeError::Internal(format!("inference task failed: {e}")))?;
    let inference_ms = started.elapsed().as_secs_f64() * 1e3;
    let probabilities = result.map_err(|e| match e {
        ClassifyError::Image(e) => InvokeError::InvalidImage(e),
        ClassifyError::Inference(e) => InvokeError::Internal(e.to_string()),
    })?;
    Ok(Prediction {
        body: format.render(&probabilities),
        format,
        inference_ms,
    })
}

/// The media type of a header value, lower-cased and without parameters.
fn essence(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn check_content_type(headers: &HeaderMap) -> Result<(), InvokeError> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if IMAGE_CONTENT_TYPES.contains(&essence(value).as_str()) {
        Ok(())
    } else {
        Err(InvokeError::UnsupportedMediaType(value.to_owned()))
    }
}

/// Picks the output format from the Accept header: JSON unless JSON Lines is asked for first.
fn negotiate(headers: &HeaderMap) -> Result<OutputFormat, InvokeError> {
    let Some(accept) = headers.get(header::ACCEPT) else {
        return Ok(OutputFormat::Json);
    };
    let accept = accept
        .to_str()
        .map_err(|_| InvokeError::NotAcceptable(String::new()))?;
    if accept.trim().is_empty() {
        return Ok(OutputFormat::Json);
    }
    for range in accept.split(',') {
        // A quality of zero means "not this one" (RFC 9110).
        let refused = range.split(';').skip(1).any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                == Some(0.0)
        });
        if refused {
            continue;
        }
        match essence(range).as_str() {
            "application/json" | "application/*" | "*/*" => return Ok(OutputFormat::Json),
            "application/jsonlines" | "application/jsonl" | "application/x-jsonlines" => {
                return Ok(OutputFormat::JsonLines);
            }
            _ => {}
        }
    }
    Err(InvokeError::NotAcceptable(accept.to_owned()))
}

/// A request id in the format AWS uses (a UUID-shaped string), unique within this process.
fn request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static START: OnceLock<u128> = OnceLock::new();
    let start = *START.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let hi = (start & 0xffff_ffff_ffff_ffff) as u64;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (hi >> 32) as u32,
        (hi >> 16) as u16,
        hi & 0xfff,
        (n >> 48) & 0xfff,
        n & 0xffff_ffff_ffff
    )
}

/// Logs one structured line per request and stamps the request id on the response.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let id = request_id();
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let outcome = response
        .extensions()
        .get::<Outcome>()
        .cloned()
        .unwrap_or_default();
    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1e3;
    if path == "/ping" {
        // SageMaker pings every few seconds; keep those out of the default log.
        tracing::debug!(%method, %path, status, duration_ms, request_id = %id, "request");
    } else {
        let invocation = outcome.invocation.unwrap_or_default();
        tracing::info!(
            %method,
            %path,
            status,
            duration_ms,
            inference_ms = outcome.inference_ms,
            error = outcome.error,
            request_id = %id,
            inference_id = invocation.inference_id,
            inference_component = invocation.inference_component,
            target_model = invocation.target_model,
            target_variant = invocation.target_variant,
            target_container_hostname = invocation.target_container_hostname,
            "request"
        );
    }
    response
}

/// Resolves when SIGTERM (how SageMaker and Docker stop containers) or Ctrl-C arrives.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received, draining requests");
}

/// Serves `app` on `listener` until a shutdown signal, finishing in-flight requests.
///
/// # Errors
/// When the listener fails.
pub async fn serve(listener: tokio::net::TcpListener, state: Arc<AppState>) -> std::io::Result<()> {
    let addr = listener
        .local_addr()
        .map(|a: SocketAddr| a.to_string())
        .unwrap_or_default();
    let served = &state.options.served;
    tracing::info!(
        %addr,
        endpoints = ?state.options.endpoint_names,
        models = ?served.models,
        variant = %served.variant,
        container_hostnames = ?served.container_hostnames,
        "listening"
    );
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn accept_negotiation() {
        let json = Ok(OutputFormat::Json);
        let lines = Ok(OutputFormat::JsonLines);
        let n = |v: &str| negotiate(&headers(&[(header::ACCEPT, v)])).map_err(|e| e.to_string());
        assert_eq!(
            negotiate(&HeaderMap::new()).map_err(|e| e.to_string()),
            json
        );
        assert_eq!(n("application/json"), json);
        assert_eq!(n("*/*"), json);
        assert_eq!(n("Application/JSONLines; charset=utf-8"), lines);
        assert_eq!(n("application/jsonlines;q=0, application/json"), json);
        assert_eq!(n("text/csv, application/jsonlines"), lines);
        assert!(n("text/csv").is_err());
        assert!(n("application/json;q=0").is_err());
    }

    #[test]
    fn content_type_check_ignores_case_and_parameters() {
        let c = |v: &str| check_content_type(&headers(&[(header::CONTENT_TYPE, v)])).is_ok();
        assert!(c("image/jpeg"));
        assert!(c("Image/PNG; charset=binary"));
        assert!(c("application/x-image"));
        assert!(c("image/webp"));
        assert!(!c("application/json"));
        assert!(!c("image/gif"));
        assert!(check_content_type(&HeaderMap::new()).is_err());
    }

    #[test]
    fn request_ids_are_unique_and_uuid_shaped() {
        let (a, b) = (request_id(), request_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }
}

//! The HTTP API: [`App::handle`] routes a request, serves it, and answers it, errors included,
//! with an `x-request-id` header and one structured log line.
//!
//! Each route has a module: [`predict`] (`/predictions`), [`resize`] (`/resize`) and
//! [`invocations`] (`/invocations`, `/models/{name}/invocations`); [`routes`] says which route a
//! request is for, [`response`] builds answers, [`panics`] keeps a bug in one request from
//! ending the process.

mod invocations;
pub mod panics;
mod predict;
mod resize;
pub mod response;
pub mod routes;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::FutureExt as _;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::config::Config;
use crate::error::ApiError;
use crate::image::MemoryBudget;
use crate::model::endpoint::{Endpoint, Invocation, InvokeError, ModelResponse, Target};
use crate::model::labels::Labels;
use crate::request;
use response::Payload;
use routes::Route;

/// Time kept back from the invocation's deadline when the model is called: enough to turn the
/// model's answer (or its absence) into a response and hand it to Lambda before Lambda ends the
/// invocation.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// The header that, with `FAULT_INJECTION=on`, makes a request panic (tests only).
const FAULT_HEADER: &str = "x-sagefront-fault";

/// The function's state, built once at init and shared by every request.
#[derive(Debug)]
pub struct App<E> {
    config: Config,
    labels: Labels,
    endpoint: E,
    image_budget: MemoryBudget,
    warned_label_mismatch: AtomicBool,
    warned_past_deadline: AtomicBool,
}

/// What a request did, for its log line.
#[derive(Debug, Default)]
struct Outcome {
    k: Option<usize>,
    image_bytes: Option<usize>,
    /// `/invocations`: the request body's size.
    body_bytes: Option<usize>,
    /// Bytes sent to the model (predictions), returned (resize), or the model's answer
    /// (invocations), when they differ from the input.
    output_bytes: Option<usize>,
    /// Time spent decoding, resizing and encoding.
    image_ms: Option<u64>,
    model_ms: Option<u64>,
    classes: Option<usize>,
    /// The allow-listed model of `/models/{name}/invocations`.
    model: Option<String>,
}

/// The request facts every route needs.
#[derive(Debug)]
struct Meta {
    request_id: String,
    /// The invocation's deadline, as wall-clock milliseconds since the epoch (`Context`).
    deadline_ms: Option<u64>,
}

impl<E: Endpoint> App<E> {
    /// Builds the app from its configuration, labels and endpoint.
    pub fn new(config: Config, labels: Labels, endpoint: E) -> Self {
        Self {
            image_budget: MemoryBudget::of_function(config.memory_mb),
            config,
            labels,
            endpoint,
            warned_label_mismatch: AtomicBool::new(false),
            warned_past_deadline: AtomicBool::new(false),
        }
    }

    /// Answers one request. Never fails: errors become JSON responses, and a panic while serving
    /// the request becomes its `500 internal` (the process goes on to serve the next one).
    pub async fn handle(&self, req: Request) -> Response<Body> {
        let started = Instant::now();
        let meta = Meta {
            request_id: request_id(&req),
            deadline_ms: req
                .lambda_context_ref()
                .map(|c| c.deadline)
                .filter(|d| *d > 0),
        };
        let method = req.method().clone();
        let mut outcome = Outcome::default();

        let route = routes::resolve(&method, &routes::route_path(&req), &self.config.routes);
        let mut panicked = false;
        let result = match &route {
            Ok(route) => std::panic::AssertUnwindSafe(self.serve(route, req, &meta, &mut outcome))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    // The panic hook (`panics`) has logged the message and where it happened.
                    panicked = true;
                    Err(ApiError::Internal)
                }),
            Err(e) => Err(e.clone()),
        };

        let cors = self.config.cors_allow_origin.as_deref();
        let (status, code, mut response) = match result {
            Ok(payload) => (200, None, response::ok(payload, &meta.request_id, cors)),
            Err(err) => (
                err.status().as_u16(),
                Some(err.code()),
                response::error(&err, &meta.request_id, cors),
            ),
        };
        if method == http::Method::HEAD {
            *response.body_mut() = Body::Empty;
        }
        tracing::info!(
            request_id = %meta.request_id,
            method = %method,
            route = route.as_ref().map(Route::name).unwrap_or("-"),
            model = outcome.model.as_deref(),
            status,
            code = code.unwrap_or("-"),
            panicked = panicked.then_some(true),
            k = outcome.k,
            image_bytes = outcome.image_bytes,
            body_bytes = outcome.body_bytes,
            output_bytes = outcome.output_bytes,
            image_ms = outcome.image_ms,
            classes = outcome.classes,
            model_ms = outcome.model_ms,
            total_ms = started.elapsed().as_millis() as u64,
            "request"
        );
        response
    }

    /// Serves a routed request.
    async fn serve(
        &self,
        route: &Route,
        mut req: Request,
        meta: &Meta,
        outcome: &mut Outcome,
    ) -> Result<Payload, ApiError> {
        if self.config.fault_injection && request::header(&req, FAULT_HEADER) == Some("panic") {
            panic!("fault injection: {FAULT_HEADER}: panic");
        }
        let body = std::mem::take(req.body_mut());
        // Checked before any work, as SageMaker would check it.
        let attributes = match route {
            Route::Predictions | Route::Invocations { .. } => {
                request::sagemaker_header(&req, &CUSTOM_ATTRIBUTES, 1024)?.map(str::to_owned)
            }
            Route::Health | Route::Resize => None,
        };
        let attributes = attributes.as_deref();
        match route {
            Route::Health => Ok(Payload::json(&serde_json::json!({"status": "ok"}))),
            Route::Predictions => self.predict(&req, body, attributes, meta, outcome).await,
            Route::Resize => self.resize(&req, body, outcome),
            Route::Invocations { model } => {
                self.invocations(&req, body, model.as_deref(), attributes, meta, outcome)
                    .await
            }
        }
    }

    /// The time the model call may take: `INVOKE_TIMEOUT_MS`, or what is left before the
    /// invocation's deadline less [`DEADLINE_MARGIN`], whichever is shorter.
    fn invoke_budget(&self, meta: &Meta) -> Duration {
        let configured = self.config.invoke_timeout;
        let Some(deadline_ms) = meta.deadline_ms else {
            return configured;
        };
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        if deadline_ms <= now_ms {
            // Lambda hands out deadlines in the future. One already past is an emulator's
            // (cargo lambda watch sends its timeout, 600000, where the epoch time belongs):
            // not a deadline to cut the call to zero for.
            if !self.warned_past_deadline.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    deadline_ms,
                    now_ms,
                    "the invocation's deadline is already past (an emulator's?): past deadlines are ignored, INVOKE_TIMEOUT_MS alone bounds model calls"
                );
            }
            return configured;
        }
        let left = Duration::from_millis(deadline_ms - now_ms);
        configured.min(left.saturating_sub(DEADLINE_MARGIN))
    }

    /// Calls the model with what every call carries besides `body`, `content_type`, `accept`
    /// and `target`: the request id as `InferenceId`, the caller's custom attributes, and the
    /// time left before the deadline. On failure, also the budget the call had.
    #[allow(clippy::too_many_arguments)]
    async fn call_model(
        &self,
        meta: &Meta,
        body: bytes::Bytes,
        content_type: &str,
        accept: Option<&str>,
        target: &Target,
        attributes: Option<&str>,
        outcome: &mut Outcome,
    ) -> Result<ModelResponse, (InvokeError, Duration)> {
        let budget = self.invoke_budget(meta);
        if budget.is_zero() {
            tracing::warn!("no time left before the invocation's deadline to call the model");
            return Err((InvokeError::Timeout, budget));
        }
        let started = Instant::now();
        let answer = self
            .endpoint
            .invoke(Invocation {
                body,
                content_type,
                accept,
                target,
                inference_id: &meta.request_id,
                custom_attributes: attributes,
                timeout: budget,
            })
            .await;
        outcome.model_ms = Some(started.elapsed().as_millis() as u64);
        answer.map_err(|e| (e, budget))
    }

    /// Warns once per process when the label file and the model disagree on the class count.
    fn check_label_count(&self, classes: usize) {
        if !self.labels.is_empty()
            && self.labels.len() != classes
            && !self.warned_label_mismatch.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                labels = self.labels.len(),
                classes,
                "the label file and the model disagree on the number of classes; labels appear where they exist"
            );
        }
    }
}

/// `X-Amzn-SageMaker-Custom-Attributes`: passed to the model and back.
pub static CUSTOM_ATTRIBUTES: http::header::HeaderName =
    http::header::HeaderName::from_static("x-amzn-sagemaker-custom-attributes");

/// The Lambda request id; a local one for requests that carry no Lambda context (tests).
fn request_id(req: &Request) -> String {
    req.lambda_context_ref()
        .map(|c| c.request_id.clone())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| {
            static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            format!("local-{}", COUNTER.fetch_add(1, Ordering::Relaxed))
        })
}

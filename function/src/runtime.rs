//! The Lambda Runtime API loop: fetch an event, answer it, repeat.
//!
//! `lambda_http::run` does the same, but `lambda_runtime` collects each event as a list of
//! chunks and then one contiguous copy, and `lambda_http` copies the body again into a string:
//! a 4 MB photo is several 5.6 MB copies at once. This loop reads an event into one buffer of
//! its `Content-Length`, and [`event::read`] decodes the body inside it. Everything else is
//! `lambda_http`'s and `lambda_runtime`'s own code: the event types, the conversion to and from
//! `http` types (through [`lambda_http::Adapter`]), [`Context`] and the per-request tracing
//! span. The HTTP client is hyper's, as in `lambda_runtime_api_client`, but on a single
//! connection and with a 128 KiB read buffer instead of 1 MiB: an event is copied out of it as
//! it arrives, and two 1 MiB buffers were a quarter of the function's peak memory for a 4 MB
//! photo.
//!
//! Invocations are answered one at a time, as `lambda_http::run` does.

use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::HOST;
use http::{Method, StatusCode, header::HeaderValue};
use http_body_util::BodyExt as _;
use http_body_util::{Either, Empty, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use lambda_http::tower::{Service as _, ServiceExt as _};
use lambda_http::{Body, Context, Error, LambdaEvent, Request, Response, service_fn};
use lambda_runtime::Diagnostic;
use lambda_runtime_api_client::build_request;
use tokio::net::TcpStream;
use tracing::Instrument as _;

use crate::event;

const REQUEST_ID: &str = "lambda-runtime-aws-request-id";
/// Echoed back with the answer so the Runtime API can reject one for a timed-out invocation.
const INVOCATION_ID: &str = "lambda-runtime-invocation-id";
/// Most of an event that is allocated up front, before any of it arrives. Lambda's own limit is
/// 6 MB; a larger `Content-Length` is read all the same, the buffer growing as it comes.
const MAX_PREALLOCATION: usize = 8 << 20;
/// hyper's read buffer for the Runtime API connection.
const READ_BUFFER: usize = 128 << 10;

type ApiBody = Either<Empty<Bytes>, Full<Bytes>>;
const PATH: &str = "/2018-06-01/runtime/invocation/";

/// The Runtime API at `AWS_LAMBDA_RUNTIME_API`, over one kept-alive HTTP/1.1 connection.
///
/// One connection, not a pool: requests go strictly one after another, each only once the
/// previous response has been read, and a pool's checkout and return cost more CPU per request
/// than anything else here. A closed connection is opened again.
struct RuntimeApi {
    /// `host:port`, to connect to.
    address: String,
    host: HeaderValue,
    /// `/2018-06-01/runtime/invocation/`, after any base path in `AWS_LAMBDA_RUNTIME_API`.
    path: String,
    connection: Option<SendRequest<ApiBody>>,
}

impl RuntimeApi {
    /// From `AWS_LAMBDA_RUNTIME_API`: `host:port` in Lambda; local emulators may give a URL
    /// with a base path (`cargo lambda watch`: `http://127.0.0.1:9000/.rt/{function}`).
    fn from_env() -> Result<Self, Error> {
        let value = std::env::var("AWS_LAMBDA_RUNTIME_API")
            .map_err(|_| "AWS_LAMBDA_RUNTIME_API is not set: this runs as a Lambda function")?;
        Self::new(&value)
    }

    fn new(value: &str) -> Result<Self, Error> {
        let uri: http::Uri = match value.parse::<http::Uri>() {
            Ok(uri) if uri.authority().is_some() => uri,
            _ => format!("http://{value}").parse().map_err(|e| {
                format!("AWS_LAMBDA_RUNTIME_API {value:?} is neither host:port nor a URL: {e}")
            })?,
        };
        if uri.scheme_str().is_some_and(|s| s != "http") {
            return Err(format!("AWS_LAMBDA_RUNTIME_API {value:?}: only http is supported").into());
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("AWS_LAMBDA_RUNTIME_API {value:?} has no host"))?;
        Ok(Self {
            address: format!(
                "{}:{}",
                authority.host(),
                authority.port_u16().unwrap_or(80)
            ),
            host: HeaderValue::from_str(authority.as_str())?,
            path: format!("{}{PATH}", uri.path().trim_end_matches('/')),
            connection: None,
        })
    }

    /// Fetches the next event. A connection that turns out to be closed is opened again and
    /// the request repeated once (it is idempotent; an answer is not repeated).
    async fn next(&mut self) -> Result<http::Response<Incoming>, Error> {
        let uri = format!("{}next", self.path);
        let request = || {
            build_request()
                .method(Method::GET)
                .uri(&uri)
                .body(Either::Left(Empty::new()))
        };
        match self.send(request()?).await {
            Ok(response) => Ok(response),
            Err(e) => {
                tracing::debug!(error = %e, "polling the Runtime API failed; reconnecting");
                self.connection = None;
                self.send(request()?).await
            }
        }
    }

    /// Posts an answer (`{request_id}/response` or `/error`), echoing the invocation id, and
    /// reads the Runtime API's reply to the end so the connection can be reused.
    async fn answer(
        &mut self,
        path: &str,
        invocation_id: Option<&HeaderValue>,
        error_type: Option<&'static str>,
        body: Vec<u8>,
    ) -> Result<(), Error> {
        let mut builder = build_request()
            .method(Method::POST)
            .uri(format!("{}{path}", self.path));
        if let Some(id) = invocation_id {
            builder = builder.header(INVOCATION_ID, id);
        }
        if let Some(kind) = error_type {
            builder = builder.header("lambda-runtime-function-error-type", kind);
        }
        let reply = self
            .send(builder.body(Either::Right(Full::new(Bytes::from(body))))?)
            .await?;
        let status = reply.status();
        let text = reply.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            tracing::error!(%status, reply = %String::from_utf8_lossy(&text), "the Runtime API refused the answer");
        }
        Ok(())
    }

    async fn send(
        &mut self,
        mut request: http::Request<ApiBody>,
    ) -> Result<http::Response<Incoming>, Error> {
        request.headers_mut().insert(HOST, self.host.clone());
        let mut connection = match self.connection.take() {
            Some(open) => open,
            None => self.connect().await?,
        };
        // A connection the Runtime API has closed fails here, before anything is sent, so a new
        // one is safe for any request.
        if connection.ready().await.is_err() {
            connection = self.connect().await?;
            connection.ready().await?;
        }
        let connection = self.connection.insert(connection);
        Ok(connection.send_request(request).await?)
    }

    async fn connect(&self) -> Result<SendRequest<ApiBody>, Error> {
        let stream = TcpStream::connect(&self.address).await?;
        // Each request is written whole; waiting for more to coalesce only adds latency.
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::Builder::new()
            .max_buf_size(READ_BUFFER)
            .handshake(TokioIo::new(stream))
            .await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "the Runtime API connection closed");
            }
        });
        Ok(sender)
    }
}

/// Runs `handler` for every invocation until the Runtime API fails.
///
/// # Errors
/// When the Runtime API cannot be reached or answers the wrong way; Lambda then restarts the
/// process.
pub async fn run<H, F>(handler: H) -> Result<(), Error>
where
    H: Fn(Request) -> F,
    F: Future<Output = Response<Body>> + Send,
{
    let config = Arc::new(lambda_runtime::Config::from_env());
    let mut api = RuntimeApi::from_env()?;
    // The body travels beside lambda_http's request (which is built without it) to the handler.
    let pending_body = Mutex::new(None);
    let mut adapter = lambda_http::Adapter::from(service_fn(|mut req: Request| {
        if let Some(body) = pending_body.lock().ok().and_then(|mut b| b.take()) {
            *req.body_mut() = body;
        }
        let response = handler(req);
        async move { Ok::<_, Infallible>(response.await) }
    }));

    let mut answer_size = 0;
    loop {
        let next = api.next().await?;
        // The local emulator (`cargo lambda watch`) answers 204 to keep the poll alive.
        if next.status() == StatusCode::NO_CONTENT {
            continue;
        }
        let (parts, incoming) = next.into_parts();
        let request_id = parts
            .headers
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("the Runtime API's event has no {REQUEST_ID} header"))?
            .to_owned();
        let context = Context::new(&request_id, config.clone(), &parts.headers)?;
        set_trace_id_env(&context);
        let invocation_id = parts.headers.get(INVOCATION_ID).cloned();
        let content_length = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        let span = lambda_runtime::layers::trace::request_span(&context);

        async {
            let event = read_body(incoming, content_length).await?;
            match event::read(event) {
                Ok((request, body)) => {
                    if let Ok(mut pending) = pending_body.lock() {
                        *pending = Some(body);
                    }
                    let response = adapter
                        .ready()
                        .await?
                        .call(LambdaEvent::new(request, context))
                        .await?;
                    // Sized like the last answer: answers grow a buffer by doubling, and for
                    // a long list of predictions the copies cost more than writing it.
                    let mut json = Vec::with_capacity(answer_size + 256);
                    serde_json::to_writer(&mut json, &response)?;
                    answer_size = json.len();
                    api.answer(&format!("{request_id}/response"), invocation_id.as_ref(), None, json)
                        .await
                }
                Err(e) => {
                    tracing::error!(error = %e, "the event is not an HTTP event this function can read; the handler was not called");
                    let diagnostic = Diagnostic {
                        error_type: "InvalidEvent".to_owned(),
                        error_message: e.to_string(),
                    };
                    let json = serde_json::to_vec(&diagnostic)?;
                    api.answer(&format!("{request_id}/error"), invocation_id.as_ref(), Some("unhandled"), json)
                        .await
                }
            }
        }
        .instrument(span)
        .await?;
    }
}

/// Reads an event into one buffer, allocated once when the length is known.
async fn read_body<B>(mut body: B, content_length: Option<usize>) -> Result<Vec<u8>, Error>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<Error>,
{
    let mut buf = Vec::with_capacity(content_length.unwrap_or(0).min(MAX_PREALLOCATION));
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(Into::into)?.into_data() {
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf)
}

/// Publishes the invocation's X-Ray trace id as `_X_AMZN_TRACE_ID`, where the AWS SDK reads it
/// to pass the trace on to SageMaker (as `lambda_runtime` does).
#[allow(unsafe_code)]
fn set_trace_id_env(context: &Context) {
    // SAFETY: the environment is changed between invocations, on the runtime's only thread,
    // when no request is in flight: nothing else reads it at that moment.
    unsafe {
        match &context.xray_trace_id {
            Some(id) => std::env::set_var("_X_AMZN_TRACE_ID", id),
            None => std::env::remove_var("_X_AMZN_TRACE_ID"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_api_address_may_carry_a_base_path() {
        let lambda = RuntimeApi::new("127.0.0.1:9001").unwrap();
        assert_eq!(lambda.address, "127.0.0.1:9001");
        assert_eq!(lambda.host, "127.0.0.1:9001");
        assert_eq!(lambda.path, "/2018-06-01/runtime/invocation/");
        let watch = RuntimeApi::new("http://127.0.0.1:9000/.rt/sagefront-function").unwrap();
        assert_eq!(watch.address, "127.0.0.1:9000");
        assert_eq!(watch.host, "127.0.0.1:9000");
        assert_eq!(
            watch.path,
            "/.rt/sagefront-function/2018-06-01/runtime/invocation/"
        );
        let bare = RuntimeApi::new("127.0.0.1:9000/.rt").unwrap();
        assert_eq!(bare.address, "127.0.0.1:9000");
        assert_eq!(bare.path, "/.rt/2018-06-01/runtime/invocation/");
        assert!(RuntimeApi::new("https://127.0.0.1:9000").is_err());
        let named = RuntimeApi::new("localhost/").unwrap();
        assert_eq!(named.address, "localhost:80");
        assert_eq!(named.path, "/2018-06-01/runtime/invocation/");
        assert!(RuntimeApi::new("").is_err());
    }
}

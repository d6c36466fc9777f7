//! The request handler: route, read the image, invoke the model, answer top-k as JSON; or
//! resize the image and answer it, raw or in JSON.
//!
//! [`App::handle`] never fails: every outcome, errors included, is a response with an
//! `x-request-id` header and one structured log line.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use crate::config::{self, Config, Preprocess};
use crate::endpoint::{Endpoint, to_api_error};
use crate::error::ApiError;
use crate::image_kind::ImageKind;
use crate::imaging::{self, Fit, OutputFormat, Spec};
use crate::labels::Labels;
use crate::request::{self, BodyKind, JsonBody};
use crate::routes::{self, Route};
use crate::{model_output, top_k};

const JSON: &str = "application/json";

/// The function's state, built once at init and shared by every request.
#[derive(Debug)]
pub struct App<E> {
    config: Config,
    labels: Labels,
    endpoint: E,
    warned_label_mismatch: AtomicBool,
}

/// What a request did, for its log line.
#[derive(Debug, Default)]
struct Outcome {
    k: Option<usize>,
    image_bytes: Option<usize>,
    /// Bytes sent to the model (predictions) or returned (resize), when they differ from the input.
    output_bytes: Option<usize>,
    /// Time spent decoding, resizing and encoding.
    image_ms: Option<u64>,
    model_ms: Option<u64>,
    classes: Option<usize>,
}

/// A successful response: its body and media type.
#[derive(Debug)]
struct Payload {
    body: Body,
    content_type: &'static str,
}

impl Payload {
    fn json<T: Serialize>(value: &T) -> Self {
        Self {
            body: json_body(value),
            content_type: JSON,
        }
    }
}

/// The JSON body of `POST /resize`.
#[derive(Debug, Serialize)]
struct Resized<'a> {
    image: String,
    width: u32,
    height: u32,
    format: &'a str,
}

/// The body of a successful prediction.
#[derive(Debug, Serialize)]
struct Predictions<'a> {
    predictions: Vec<Prediction<'a>>,
    classes: usize,
}

#[derive(Debug, Serialize)]
struct Prediction<'a> {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
    probability: f64,
}

impl<E: Endpoint> App<E> {
    /// Builds the app from its configuration, labels and endpoint.
    pub fn new(config: Config, labels: Labels, endpoint: E) -> Self {
        Self {
            config,
            labels,
            endpoint,
            warned_label_mismatch: AtomicBool::new(false),
        }
    }

    /// Answers one request. Never fails: errors become JSON responses.
    pub async fn handle(&self, mut req: Request) -> Response<Body> {
        let started = Instant::now();
        let request_id = request_id(&req);
        let method = req.method().clone();
        let path = routes::route_path(&req);
        let mut outcome = Outcome::default();

        let route = routes::resolve(&method, &path);
        let result = match route {
            Ok(Route::Health) => Ok(Payload::json(&serde_json::json!({"status": "ok"}))),
            Ok(Route::Predictions) => {
                let body = std::mem::take(req.body_mut());
                self.predict(&req, body, &mut outcome)
                    .await
                    .map(|body| Payload {
                        body,
                        content_type: JSON,
                    })
            }
            Ok(Route::Resize) => {
                let body = std::mem::take(req.body_mut());
                self.resize(&req, body, &mut outcome)
            }
            Err(ref e) => Err(e.clone()),
        };

        let (status, code, mut response) = match result {
            Ok(payload) => (
                200,
                None,
                self.response(http::StatusCode::OK, payload, &request_id),
            ),
            Err(err) => {
                let mut resp = self.response(err.status(), Payload::json(&err.body()), &request_id);
                for (name, value) in err.headers() {
                    if let Ok(v) = HeaderValue::from_str(&value) {
                        resp.headers_mut().insert(name, v);
                    }
                }
                (err.status().as_u16(), Some(err.code()), resp)
            }
        };
        if method == http::Method::HEAD {
            *response.body_mut() = Body::Empty;
        }
        tracing::info!(
            request_id = %request_id,
            method = %method,
            route = route.map(Route::name).unwrap_or("-"),
            status,
            code = code.unwrap_or("-"),
            k = outcome.k,
            image_bytes = outcome.image_bytes,
            output_bytes = outcome.output_bytes,
            image_ms = outcome.image_ms,
            classes = outcome.classes,
            model_ms = outcome.model_ms,
            total_ms = started.elapsed().as_millis() as u64,
            "request"
        );
        response
    }

    /// `POST /predictions`: image in, top-k out. Takes the request body, so the only copy of the
    /// image held while the model runs is the decoded one.
    async fn predict(
        &self,
        req: &Request,
        body: Body,
        outcome: &mut Outcome,
    ) -> Result<Body, ApiError> {
        // With preprocessing, an image over the model's limit may still be shrunk to fit, so
        // reading stops only at what can reach a Lambda at all.
        let limit = match self.config.preprocess {
            Preprocess::Off => self.config.max_image_bytes,
            Preprocess::Oversize | Preprocess::Always => self
                .config
                .max_image_bytes
                .max(config::MAX_IMAGE_BYTES_CEILING),
        };
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());

        let kind = request::body_kind(content_type, body.as_ref())?;
        let (image, k) = read_image(kind, body, limit, outcome, |json| {
            // `k` (or the original's `topk`) in a JSON body wins over `?k=`.
            match json.positive_int(&["k", "topk"], ApiError::InvalidK)? {
                Some(k) => Ok(Some(k)),
                None => query_param(req, "k")
                    .map(|v| request::positive_int_query("k", &v, ApiError::InvalidK))
                    .transpose(),
            }
        })?;
        if ImageKind::sniff(&image).is_none() {
            return Err(ApiError::InvalidImage(
                "the data is not a JPEG, PNG, WebP, GIF or BMP image".to_owned(),
            ));
        }
        let image = self.preprocess(image, outcome)?;

        let model_started = Instant::now();
        let invoked = self
            .endpoint
            .invoke(Bytes::from(image), &self.config.model_content_type)
            .await;
        outcome.model_ms = Some(model_started.elapsed().as_millis() as u64);
        let raw =
            invoked.map_err(|e| to_api_error(&e, self.config.invoke_timeout.as_millis() as u64))?;

        let probabilities = model_output::parse(&raw, self.config.model_output).map_err(|e| {
            tracing::error!(reason = %e, response_bytes = raw.len(), "unusable model response");
            ApiError::BadModelResponse
        })?;
        self.check_label_count(probabilities.len());

        let classes = probabilities.len();
        let k = k.map_or(self.config.default_top_k.unwrap_or(classes), |k| {
            usize::try_from(k).unwrap_or(usize::MAX)
        });
        outcome.k = Some(k.min(classes));
        outcome.classes = Some(classes);
        let predictions: Vec<Prediction<'_>> = top_k::top_k(&probabilities, k)
            .into_iter()
            .map(|r| Prediction {
                index: r.index,
                label: self.labels.get(r.index),
                probability: r.probability,
            })
            .collect();
        // Sized for the whole answer up front: each prediction is its label plus ~50 bytes.
        let capacity = predictions
            .iter()
            .map(|p| 50 + p.label.map_or(0, str::len))
            .sum::<usize>()
            + 32;
        Ok(json_body_sized(
            &Predictions {
                predictions,
                classes,
            },
            capacity,
        ))
    }

    /// Applies `PREPROCESS` to an image on its way to the model.
    ///
    /// `off`: over `MAX_IMAGE_BYTES` is 413. `oversize`: over `MAX_IMAGE_BYTES` is shrunk to
    /// `PREPROCESS_MAX_SIDE` and re-encoded as JPEG, and is 413 only when that fails or does
    /// not fit. `always`: every image is shrunk, unless that makes it no smaller; an image within
    /// the limit that cannot be shrunk goes to the model unchanged, as with `off`.
    fn preprocess(&self, image: Vec<u8>, outcome: &mut Outcome) -> Result<Vec<u8>, ApiError> {
        let limit = self.config.max_image_bytes;
        let oversize = image.len() > limit;
        let too_large = |size: usize| ApiError::PayloadTooLarge { size, limit };
        let shrink = match self.config.preprocess {
            Preprocess::Off => false,
            Preprocess::Oversize => oversize,
            Preprocess::Always => true,
        };
        if !shrink {
            return if oversize {
                Err(too_large(image.len()))
            } else {
                Ok(image)
            };
        }

        let started = Instant::now();
        let shrunk = imaging::transform(
            &image,
            &Spec::shrink_to_jpeg(self.config.preprocess_max_side),
        );
        outcome.image_ms = Some(started.elapsed().as_millis() as u64);
        match shrunk {
            Ok(small) if small.bytes.len() <= limit && small.bytes.len() < image.len() => {
                outcome.output_bytes = Some(small.bytes.len());
                Ok(small.bytes)
            }
            Ok(small) if oversize => Err(too_large(small.bytes.len())),
            Ok(_) => Ok(image),
            Err(e) => {
                tracing::info!(reason = %e, oversize, "image not preprocessed");
                if oversize {
                    Err(too_large(image.len()))
                } else {
                    Ok(image)
                }
            }
        }
    }

    /// `POST /resize`: image and size in, image out (raw for `Accept: image/*`, else JSON).
    fn resize(
        &self,
        req: &Request,
        body: Body,
        outcome: &mut Outcome,
    ) -> Result<Payload, ApiError> {
        let limit = config::MAX_IMAGE_BYTES_CEILING;
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        // GIF and BMP are read here (not by the model), so they are raw bodies too.
        let kind = match content_type.map(request::media_type).as_deref() {
            Some("image/gif" | "image/bmp") => BodyKind::Raw,
            _ => request::body_kind(content_type, body.as_ref())?,
        };
        let (image, options) = read_image(kind, body, limit, outcome, |json| {
            self.resize_options(req, json)
        })?;
        let (spec, accept) = options;

        let started = Instant::now();
        let result = imaging::transform(&image, &spec);

        outcome.image_ms = Some(started.elapsed().as_millis() as u64);
        let resized = result?;
        outcome.output_bytes = Some(resized.bytes.len());
        Ok(if accept.is_some() {
            Payload {
                content_type: resized.format.mime(),
                body: Body::Binary(resized.bytes),
            }
        } else {
            Payload::json(&Resized {
                image: base64::engine::general_purpose::STANDARD.encode(&resized.bytes),
                width: resized.width,
                height: resized.height,
                format: resized.format.name(),
            })
        })
    }

    /// The output `Spec` of a resize (JSON fields win over query parameters of the same name),
    /// and what the `Accept` header asks for.
    fn resize_options(
        &self,
        req: &Request,
        json: &JsonBody<'_>,
    ) -> Result<(Spec, Option<Option<String>>), ApiError> {
        let int = |name: &str| -> Result<Option<u64>, ApiError> {
            match json.positive_int(&[name], ApiError::InvalidSize)? {
                Some(v) => Ok(Some(v)),
                None => query_param(req, name)
                    .map(|v| request::positive_int_query(name, &v, ApiError::InvalidSize))
                    .transpose(),
            }
        };
        let text = |name: &str| -> Result<Option<String>, ApiError> {
            Ok(json
                .string(name, ApiError::InvalidSize)?
                .or_else(|| query_param(req, name)))
        };
        let side = |v: Option<u64>| v.map(|v| u32::try_from(v).unwrap_or(u32::MAX));
        let accept =
            request::accepted_image(req.headers().get(ACCEPT).and_then(|v| v.to_str().ok()));
        let format = match text("format")? {
            Some(f) => Some(OutputFormat::parse(&f)?),
            // `Accept: image/png` without a `format` asks for PNG.
            None => accept
                .as_ref()
                .and_then(|a| a.as_deref())
                .and_then(|media| OutputFormat::parse(media).ok()),
        };
        let spec = Spec {
            width: side(int("width")?),
            height: side(int("height")?),
            fit: text("fit")?
                .as_deref()
                .map(Fit::parse)
                .transpose()?
                .unwrap_or_default(),
            format,
            quality: int("quality")?.map_or(imaging::DEFAULT_JPEG_QUALITY, |q| {
                u8::try_from(q).unwrap_or(u8::MAX)
            }),
            enlarge: true,
        };

        Ok((spec, accept))
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

    fn response(
        &self,
        status: http::StatusCode,
        payload: Payload,
        request_id: &str,
    ) -> Response<Body> {
        let mut resp = Response::new(payload.body);
        *resp.status_mut() = status;
        let headers = resp.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(payload.content_type));
        if let Ok(v) = HeaderValue::from_str(request_id) {
            headers.insert("x-request-id", v);
        }
        if let Some(origin) = self
            .config
            .cors_allow_origin
            .as_deref()
            .and_then(|o| HeaderValue::from_str(o).ok())
        {
            headers.insert("access-control-allow-origin", origin);
            headers.insert(
                "access-control-expose-headers",
                HeaderValue::from_static("x-request-id"),
            );
        }
        resp
    }
}

/// The image of a request body (decoded from the JSON `image`/`data` field, or the raw bytes),
/// checked against `limit`, and what `fields` reads from the rest of the JSON (from an empty
/// object for raw bodies). Consumes the body: a raw image is moved, not copied, and base64 is
/// decoded into the body's own buffer, so a request holds one copy of its image at a time.
fn read_image<T>(
    kind: BodyKind,
    body: Body,
    limit: usize,
    outcome: &mut Outcome,
    fields: impl FnOnce(&JsonBody<'_>) -> Result<T, ApiError>,
) -> Result<(Vec<u8>, T), ApiError> {
    // Image errors come before errors in the other fields, for both kinds of body.
    match kind {
        BodyKind::Json => {
            // The fields are read while the JSON is intact; their error, if any, is reported
            // after the image's. A text body is UTF-8 already (the event was read as a string):
            // parsed as it is, not checked a second time.
            let (image, extracted, mut body) = match body {
                Body::Text(text) => {
                    let (image, extracted) =
                        locate_image(&JsonBody::parse_str(&text)?, text.as_bytes(), fields)?;
                    (image, extracted, text.into_bytes())
                }
                other => {
                    let bytes = into_bytes(other);
                    let (image, extracted) =
                        locate_image(&JsonBody::parse(&bytes)?, &bytes, fields)?;
                    (image, extracted, bytes)
                }
            };
            let image = match image {
                ImageText::InBody(text) => {
                    request::decode_base64_in_place(&mut body, text, limit)?;
                    body
                }
                ImageText::Unescaped(mut unescaped) => {
                    drop(body);
                    let len = unescaped.len();
                    request::decode_base64_in_place(&mut unescaped, 0..len, limit)?;
                    unescaped
                }
            };
            check_image_size(&image, limit, outcome)?;
            Ok((image, extracted?))
        }
        BodyKind::Raw => {
            let body = into_bytes(body);
            check_image_size(&body, limit, outcome)?;
            let extracted = fields(&JsonBody::default())?;
            Ok((body, extracted))
        }
    }
}

/// A body's bytes, moved out of it (copied only for a variant lambda_http may add later).
fn into_bytes(body: Body) -> Vec<u8> {
    match body {
        Body::Empty => Vec::new(),
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        other => other.as_ref().to_vec(),
    }
}

/// The base64 text of a JSON body's image.
enum ImageText {
    /// Where it sits in the body.
    InBody(Range<usize>),
    /// The JSON string had escapes: the unescaped copy.
    Unescaped(Vec<u8>),
}

/// The image text of `json`, parsed from `body`, and what `fields` reads from it (its error
/// is kept, to be reported after the image's).
fn locate_image<T>(
    json: &JsonBody<'_>,
    body: &[u8],
    fields: impl FnOnce(&JsonBody<'_>) -> Result<T, ApiError>,
) -> Result<(ImageText, Result<T, ApiError>), ApiError> {
    let image = match json.image()? {
        Cow::Borrowed(text) => {
            let start = text.as_ptr() as usize - body.as_ptr() as usize;
            ImageText::InBody(start..start + text.len())
        }
        Cow::Owned(text) => ImageText::Unescaped(text.into_bytes()),
    };
    Ok((image, fields(json)))
}

/// Records the image's size, and rejects an empty image or one over `limit`.
fn check_image_size(image: &[u8], limit: usize, outcome: &mut Outcome) -> Result<(), ApiError> {
    outcome.image_bytes = Some(image.len());
    if image.is_empty() {
        return Err(ApiError::MissingImage);
    }
    if image.len() > limit {
        return Err(ApiError::PayloadTooLarge {
            size: image.len(),
            limit,
        });
    }
    Ok(())
}

fn json_body<T: Serialize>(value: &T) -> Body {
    json_body_sized(value, 128)
}

/// `value` as JSON, written into a buffer of `capacity` bytes (grown if that is too small).
fn json_body_sized<T: Serialize>(value: &T, capacity: usize) -> Body {
    let mut out = Vec::with_capacity(capacity);
    // Serialising these plain structs cannot fail, and serde_json writes UTF-8; an empty object
    // is a safe fallback anyway.
    let text = serde_json::to_writer(&mut out, value)
        .ok()
        .and_then(|()| String::from_utf8(out).ok());
    Body::Text(text.unwrap_or_else(|| "{}".to_owned()))
}

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

/// A query parameter from the event, or from the URI for requests built without event data.
fn query_param(req: &Request, name: &str) -> Option<String> {
    if let Some(q) = req.query_string_parameters_ref() {
        return q.first(name).map(str::to_owned);
    }
    req.uri().query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| v.to_owned())
    })
}

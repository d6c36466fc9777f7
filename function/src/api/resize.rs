//! `POST /resize`: an image and a size in, the image out (raw for `Accept: image/*`, else JSON).

use std::time::Instant;

use base64::Engine as _;
use http::header::{ACCEPT, HeaderValue};
use lambda_http::{Body, Request};
use serde::Serialize;

use super::response::Payload;
use super::{App, Outcome};
use crate::config::LAMBDA_PAYLOAD_LIMIT;
use crate::error::ApiError;
use crate::image::spec::DEFAULT_JPEG_QUALITY;
use crate::image::{self, Fit, OutputFormat, Spec};
use crate::model::endpoint::Endpoint;
use crate::request::json::JsonBody;
use crate::request::{self, image::read_image};

/// The JSON body of `POST /resize`.
#[derive(Debug, Serialize)]
struct Resized<'a> {
    image: String,
    width: u32,
    height: u32,
    format: &'a str,
}

impl<E: Endpoint> App<E> {
    pub(super) fn resize(
        &self,
        req: &Request,
        body: Body,
        outcome: &mut Outcome,
    ) -> Result<Payload, ApiError> {
        let kind = request::body_kind(request::content_type(req), body.as_ref())?;
        let (image, (spec, accept)) = read_image(
            kind,
            body,
            LAMBDA_PAYLOAD_LIMIT,
            &mut outcome.image_bytes,
            |json| resize_options(req, json),
        )?;

        let started = Instant::now();
        let result = image::transform(&image, &spec, self.image_budget);
        outcome.image_ms = Some(started.elapsed().as_millis() as u64);
        let resized = result?;
        outcome.output_bytes = Some(resized.bytes.len());
        Ok(if accept.is_some() {
            Payload::of_type(
                Body::Binary(resized.bytes),
                HeaderValue::from_static(resized.format.mime()),
            )
        } else {
            Payload::json(&Resized {
                image: base64::engine::general_purpose::STANDARD.encode(&resized.bytes),
                width: resized.width,
                height: resized.height,
                format: resized.format.name(),
            })
        })
    }
}

/// The output `Spec` of a resize (JSON fields win over query parameters of the same name), and
/// what the `Accept` header asks for.
fn resize_options(
    req: &Request,
    json: &JsonBody<'_>,
) -> Result<(Spec, Option<Option<String>>), ApiError> {
    let int = |name: &str| request::positive_int_option(req, json, &[name], ApiError::InvalidSize);
    let text = |name: &str| request::string_option(req, json, name, ApiError::InvalidSize);
    let side = |v: Option<u64>| v.map(|v| u32::try_from(v).unwrap_or(u32::MAX));
    let accept = request::accepted_image(request::header(req, ACCEPT));
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
        quality: int("quality")?
            .map_or(DEFAULT_JPEG_QUALITY, |q| u8::try_from(q).unwrap_or(u8::MAX)),
        enlarge: true,
    };
    if spec.width.is_none() && spec.height.is_none() {
        return Err(ApiError::InvalidSize(
            "give \"width\", \"height\" or both".to_owned(),
        ));
    }
    Ok((spec, accept))
}

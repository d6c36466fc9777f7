//! `POST /predictions` (and `POST /`): an image in, the model's top-k labelled classes out.

use std::time::Instant;

use bytes::Bytes;
use lambda_http::{Body, Request};
use serde::Serialize;

use super::response::Payload;
use super::{App, Meta, Outcome};
use crate::config::{LAMBDA_PAYLOAD_LIMIT, Preprocess};
use crate::error::ApiError;
use crate::image::{self, ImageKind, OutputFormat, Spec};
use crate::model::endpoint::{Endpoint, to_api_error};
use crate::model::{output, top_k};
use crate::request::{self, image::read_image};

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
    /// Takes the request body, so the only copy of the image held while the model runs is the
    /// one sent.
    pub(super) async fn predict(
        &self,
        req: &Request,
        body: Body,
        attributes: Option<&str>,
        meta: &Meta,
        outcome: &mut Outcome,
    ) -> Result<Payload, ApiError> {
        // With preprocessing, an image over the model's limit may still be shrunk to fit, so
        // reading stops only at what can reach a Lambda at all.
        let read_limit = match self.config.preprocess {
            Preprocess::Off => self.config.max_image_bytes,
            Preprocess::Oversize | Preprocess::Always => {
                self.config.max_image_bytes.max(LAMBDA_PAYLOAD_LIMIT)
            }
        };
        let kind = request::body_kind(request::content_type(req), body.as_ref())?;
        let read = read_image(kind, body, read_limit, &mut outcome.image_bytes, |json| {
            request::positive_int_option(req, json, &["k", "topk"], ApiError::InvalidK)
        });
        let (image, k) = read.map_err(|e| self.in_model_terms(e))?;
        let kind = ImageKind::sniff(&image).ok_or_else(ImageKind::unsupported)?;
        let image = self.prepare(image, kind, outcome)?;

        let answer = self
            .call_model(
                meta,
                Bytes::from(image),
                &self.config.model_content_type,
                Some("application/json"),
                &self.config.target,
                attributes,
                outcome,
            )
            .await
            .map_err(|(e, budget)| to_api_error(&e, budget))?;

        let probabilities = output::parse(&answer.body, self.config.model_output).map_err(|e| {
            tracing::error!(reason = %e, response_bytes = answer.body.len(), "unusable model response");
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
        let mut payload = Payload::json_sized(
            &Predictions {
                predictions,
                classes,
            },
            capacity,
        );
        payload
            .headers
            .extend(super::invocations::custom_attributes_header(&answer));
        Ok(payload)
    }

    /// A 413 names the limit the model has (`MAX_IMAGE_BYTES`), whatever was read to find out:
    /// one number for callers, the one the docs give.
    fn in_model_terms(&self, err: ApiError) -> ApiError {
        match err {
            ApiError::PayloadTooLarge { what, size, .. } => ApiError::PayloadTooLarge {
                what,
                size,
                limit: self.config.max_image_bytes,
            },
            other => other,
        }
    }

    /// Makes the image something the model reads, within its size limit (`PREPROCESS`):
    ///
    /// - GIF and BMP, which image models do not read, are converted: by preprocessing's shrink
    ///   to JPEG when it applies to the image, else to PNG at their own size;
    /// - `off`: over `MAX_IMAGE_BYTES` is 413;
    /// - `oversize`: over `MAX_IMAGE_BYTES` is shrunk to `PREPROCESS_MAX_SIDE` and re-encoded as
    ///   JPEG, and is 413 only when that fails or does not fit;
    /// - `always`: every image is shrunk, unless that makes it no smaller; an image within the
    ///   limit that cannot be shrunk goes to the model unchanged, as with `off`.
    fn prepare(
        &self,
        image: Vec<u8>,
        kind: ImageKind,
        outcome: &mut Outcome,
    ) -> Result<Vec<u8>, ApiError> {
        let limit = self.config.max_image_bytes;
        let oversize = image.len() > limit;
        let too_large = |size: usize| ApiError::PayloadTooLarge {
            what: "image",
            size,
            limit,
        };
        let shrink = match self.config.preprocess {
            Preprocess::Off => false,
            Preprocess::Oversize => oversize,
            Preprocess::Always => true,
        };
        let convert = !kind.is_model_input();
        if !shrink && !convert {
            return if oversize {
                Err(too_large(image.len()))
            } else {
                Ok(image)
            };
        }

        let spec = if shrink {
            Spec::shrink_to_jpeg(self.config.preprocess_max_side)
        } else {
            Spec::convert_to(OutputFormat::Png)
        };
        let started = Instant::now();
        let transformed = image::transform(&image, &spec, self.image_budget);
        outcome.image_ms = Some(started.elapsed().as_millis() as u64);
        match transformed {
            // A converted image is sent converted, or not at all.
            Ok(done) if convert && done.bytes.len() > limit => Err(too_large(done.bytes.len())),
            Ok(done) if convert || done.bytes.len() <= limit && done.bytes.len() < image.len() => {
                outcome.output_bytes = Some(done.bytes.len());
                Ok(done.bytes)
            }
            Ok(done) if oversize => Err(too_large(done.bytes.len())),
            Ok(_) => Ok(image),
            Err(e) if convert => Err(ApiError::InvalidImage(format!(
                "the {} image could not be converted for the model: {e}",
                kind.name()
            ))),
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
}

//! `POST /invocations` and `POST /models/{name}/invocations`: any body to the endpoint, the
//! model's answer back unchanged. The model defines this route's contract: its body and
//! `Content-Type` come back as they are, and its own 4xx reaches the caller with its status and
//! message (`model_rejected_input`).

use std::borrow::Cow;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderName, HeaderValue};
use lambda_http::{Body, Request};

use super::response::Payload;
use super::{App, CUSTOM_ATTRIBUTES, Meta, Outcome};
use crate::error::ApiError;
use crate::image::pipeline::MAX_OUTPUT_BYTES;
use crate::model::endpoint::{Endpoint, InvokeError, ModelResponse, to_api_error};
use crate::request;

/// The longest model message passed on to a caller (SageMaker's `OriginalMessage` is at most
/// 2,048 characters; a caller needs the start of it).
pub const MAX_MODEL_MESSAGE: usize = 1024;

/// The media type of an answer whose model sent none.
const UNKNOWN_TYPE: &str = "application/octet-stream";

impl<E: Endpoint> App<E> {
    pub(super) async fn invocations(
        &self,
        req: &Request,
        body: Body,
        model: Option<&str>,
        attributes: Option<&str>,
        meta: &Meta,
        outcome: &mut Outcome,
    ) -> Result<Payload, ApiError> {
        // The allow-list first: an unknown name never reaches SageMaker.
        let target = match model {
            None => Cow::Borrowed(&self.config.target),
            Some(name) => {
                let chosen =
                    self.config
                        .models
                        .get(name)
                        .ok_or_else(|| ApiError::UnknownModel {
                            name: name.chars().take(64).collect(),
                        })?;
                outcome.model = Some(name.to_owned());
                Cow::Owned(chosen.or(&self.config.target))
            }
        };
        let content_type = request::sagemaker_header(req, &CONTENT_TYPE, 1024)?
            .unwrap_or(&self.config.invocations_content_type);
        let accept = request::sagemaker_header(req, &ACCEPT, 1024)?
            .or(self.config.invocations_accept.as_deref());

        let body = request::into_bytes(body);
        outcome.body_bytes = Some(body.len());
        if body.len() > self.config.max_image_bytes {
            return Err(ApiError::PayloadTooLarge {
                what: "request body",
                size: body.len(),
                limit: self.config.max_image_bytes,
            });
        }

        let answer = self
            .call_model(
                meta,
                Bytes::from(body),
                content_type,
                accept,
                &target,
                attributes,
                outcome,
            )
            .await
            .map_err(|(e, budget)| match e {
                InvokeError::ModelRejectedInput { status, message } => {
                    ApiError::ModelRejectedInput {
                        status,
                        message: model_message(message.as_deref(), status),
                    }
                }
                other => to_api_error(&other, budget),
            })?;

        outcome.output_bytes = Some(answer.body.len());
        if answer.body.len() > MAX_OUTPUT_BYTES {
            tracing::error!(
                response_bytes = answer.body.len(),
                "the model's answer is too large for a Lambda response"
            );
            return Err(ApiError::OutputTooLarge(format!(
                "the model's answer is {} bytes; at most {MAX_OUTPUT_BYTES} bytes can be returned through Lambda",
                answer.body.len()
            )));
        }
        let content_type = answer
            .content_type
            .as_deref()
            .and_then(|t| HeaderValue::from_str(t).ok())
            .unwrap_or(HeaderValue::from_static(UNKNOWN_TYPE));
        let headers = custom_attributes_header(&answer).into_iter().collect();
        // lambda_http turns the body into the Lambda response by its Content-Type: text types
        // (text/*, JSON, XML, YAML) as text in their charset, anything else base64-encoded. API
        // Gateway then hands the caller the model's bytes unchanged (a text answer that is not
        // UTF-8 is the exception: it arrives converted to UTF-8).
        Ok(Payload {
            body: Body::Binary(Vec::from(answer.body)),
            content_type,
            headers,
        })
    }
}

/// The model's `CustomAttributes` as the response header, when it set any that HTTP can carry.
pub(super) fn custom_attributes_header(
    answer: &ModelResponse,
) -> Option<(HeaderName, HeaderValue)> {
    let value = answer
        .custom_attributes
        .as_deref()
        .filter(|v| !v.is_empty())?;
    HeaderValue::from_str(value)
        .ok()
        .map(|v| (CUSTOM_ATTRIBUTES.clone(), v))
}

/// The model's own message, at most [`MAX_MODEL_MESSAGE`] bytes (cut at a character boundary).
fn model_message(message: Option<&str>, status: u16) -> String {
    let Some(message) = message.map(str::trim).filter(|m| !m.is_empty()) else {
        return format!("the model refused the request (status {status})");
    };
    if message.len() <= MAX_MODEL_MESSAGE {
        return message.to_owned();
    }
    let mut end = MAX_MODEL_MESSAGE;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_models_message_is_passed_on_bounded() {
        assert_eq!(model_message(Some(" bad input "), 400), "bad input");
        assert_eq!(
            model_message(None, 422),
            "the model refused the request (status 422)"
        );
        let long = "é".repeat(2_000);
        let cut = model_message(Some(&long), 400);
        assert!(
            cut.len() <= MAX_MODEL_MESSAGE + '…'.len_utf8(),
            "{}",
            cut.len()
        );
        assert!(cut.ends_with('…'));
    }
}

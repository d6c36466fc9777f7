//! The image of a request body: decoded from the JSON `image` (or the original's `data`) field,
//! or the raw bytes, checked against a size limit, together with the body's other fields.

use std::borrow::Cow;
use std::ops::Range;

use lambda_http::Body;

use crate::error::ApiError;
use crate::request::json::JsonBody;
use crate::request::{BodyKind, base64, into_bytes};

/// The image of a body of `kind`, checked against `limit`, and what `fields` reads from the rest
/// of the JSON (from an empty object for raw bodies). The image's size, once known, is written to
/// `size` (for the request's log line, also when the image is refused).
///
/// Consumes the body: a raw image is moved, not copied, and base64 is decoded into the body's
/// own buffer, so a request holds one copy of its image at a time. Image errors come before
/// errors in the other fields, for both kinds of body.
///
/// # Errors
/// The body's JSON, base64 or size errors; then the error `fields` returned.
pub fn read_image<T>(
    kind: BodyKind,
    body: Body,
    limit: usize,
    size: &mut Option<usize>,
    fields: impl FnOnce(&JsonBody<'_>) -> Result<T, ApiError>,
) -> Result<(Vec<u8>, T), ApiError> {
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
                    base64::decode_base64_in_place(&mut body, text, limit)?;
                    body
                }
                ImageText::Unescaped(mut unescaped) => {
                    drop(body);
                    let len = unescaped.len();
                    base64::decode_base64_in_place(&mut unescaped, 0..len, limit)?;
                    unescaped
                }
            };
            check_image_size(&image, limit, size)?;
            Ok((image, extracted?))
        }
        BodyKind::Raw => {
            let body = into_bytes(body);
            check_image_size(&body, limit, size)?;
            let extracted = fields(&JsonBody::default())?;
            Ok((body, extracted))
        }
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
fn check_image_size(image: &[u8], limit: usize, size: &mut Option<usize>) -> Result<(), ApiError> {
    *size = Some(image.len());
    if image.is_empty() {
        return Err(ApiError::MissingImage);
    }
    if image.len() > limit {
        return Err(ApiError::PayloadTooLarge {
            what: "image",
            size: image.len(),
            limit,
        });
    }
    Ok(())
}

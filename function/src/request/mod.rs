//! Reading requests: headers, query parameters and bodies, shared by every route.
//!
//! Pure functions over the request's parts; the routes decide which limits apply. The body's
//! [`json`] fields and its [`base64`] image have modules of their own, and [`image`] reads the
//! image of a body either way it may come.

pub mod base64;
pub mod image;
pub mod json;

use http::header::{CONTENT_TYPE, HeaderName};
use lambda_http::{Body, Request, RequestExt};

use crate::error::ApiError;

/// Media types accepted as a raw image body.
pub const RAW_IMAGE_TYPES: [&str; 7] = [
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "image/bmp",
    "application/x-image",
    "application/octet-stream",
];

/// How the body is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// A JSON object with a base64 image.
    Json,
    /// The image bytes themselves.
    Raw,
}

/// The media type of a `Content-Type` value, lowercased and without parameters.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Decides how to read a body from its `Content-Type` and first bytes.
///
/// JSON when the type is `application/json` (any parameters), or when it is absent,
/// `application/x-www-form-urlencoded` or `text/plain` and the body starts with `{` (what
/// `curl -d` sends); raw for the [`RAW_IMAGE_TYPES`].
///
/// # Errors
/// [`ApiError::UnsupportedMediaType`] for anything else; [`ApiError::MissingImage`] for an empty
/// body that could have been JSON.
pub fn body_kind(content_type: Option<&str>, body: &[u8]) -> Result<BodyKind, ApiError> {
    let media = content_type.map(media_type).unwrap_or_default();
    let looks_like_json = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    match media.as_str() {
        "application/json" => Ok(BodyKind::Json),
        m if RAW_IMAGE_TYPES.contains(&m) => Ok(BodyKind::Raw),
        "" | "application/x-www-form-urlencoded" | "text/plain" if looks_like_json => {
            Ok(BodyKind::Json)
        }
        "" | "application/x-www-form-urlencoded" | "text/plain"
            if body.iter().all(u8::is_ascii_whitespace) =>
        {
            Err(ApiError::MissingImage)
        }
        "" => Err(ApiError::UnsupportedMediaType("(none)".to_owned())),
        _ => Err(ApiError::UnsupportedMediaType(
            content_type.unwrap_or_default().to_owned(),
        )),
    }
}

/// Whether an `Accept` header asks for an image rather than JSON, and which format it names.
///
/// `None`: no `image/...` range (absent, `*/*`, `application/json`): answer JSON. `Some(None)`:
/// only `image/*`. `Some(Some(media))`: the first specific `image/...` type named, lowercased
/// (possibly one the caller cannot write). Ranges with `q=0` are refusals and are ignored.
pub fn accepted_image(accept: Option<&str>) -> Option<Option<String>> {
    let mut wants_image = false;
    for range in accept.unwrap_or("").split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        if refused || !media.starts_with("image/") {
            continue;
        }
        if media == "image/*" {
            wants_image = true;
        } else {
            return Some(Some(media));
        }
    }
    wants_image.then_some(None)
}

/// `?k=` (or any positive integer query parameter).
///
/// # Errors
/// `invalid(message)` when it is not a base-10 integer ≥ 1.
pub fn positive_int_query(
    name: &str,
    value: &str,
    invalid: fn(String) -> ApiError,
) -> Result<u64, ApiError> {
    let v = value.trim();
    match v.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        Err(_) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => Ok(u64::MAX),
        _ => Err(invalid(format!(
            "query parameter {name} must be an integer of at least 1, got {value:?}"
        ))),
    }
}

/// A header's value, when present and text.
pub fn header(req: &Request, name: impl http::header::AsHeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The request's `Content-Type`, as sent.
pub fn content_type(req: &Request) -> Option<&str> {
    header(req, CONTENT_TYPE)
}

/// A query parameter from the event, or from the URI for requests built without event data.
pub fn query_param(req: &Request, name: &str) -> Option<String> {
    if let Some(q) = req.query_string_parameters_ref() {
        return q.first(name).map(str::to_owned);
    }
    req.uri().query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| v.to_owned())
    })
}

/// A positive integer option: the JSON body's field (any of `names`, in order) wins over the
/// query parameter of the first name.
///
/// # Errors
/// `invalid(message)` when the value is not an integer of at least 1.
pub fn positive_int_option(
    req: &Request,
    json: &json::JsonBody<'_>,
    names: &[&str],
    invalid: fn(String) -> ApiError,
) -> Result<Option<u64>, ApiError> {
    match json.positive_int(names, invalid)? {
        Some(v) => Ok(Some(v)),
        None => query_param(req, names[0])
            .map(|v| positive_int_query(names[0], &v, invalid))
            .transpose(),
    }
}

/// A text option: the JSON body's field wins over the query parameter of the same name.
///
/// # Errors
/// `invalid(message)` when the JSON field is not a string.
pub fn string_option(
    req: &Request,
    json: &json::JsonBody<'_>,
    name: &str,
    invalid: fn(String) -> ApiError,
) -> Result<Option<String>, ApiError> {
    Ok(json
        .string(name, invalid)?
        .or_else(|| query_param(req, name)))
}

/// A body's bytes, moved out of it (copied only for a variant lambda_http may add later).
pub fn into_bytes(body: Body) -> Vec<u8> {
    match body {
        Body::Empty => Vec::new(),
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        other => other.as_ref().to_vec(),
    }
}

/// The value of a header SageMaker passes on (`Content-Type`, `Accept`, custom attributes),
/// checked as SageMaker checks it: at most `max` characters of visible US-ASCII (spaces and
/// tabs allowed between them), so a bad value is the caller's 400, not SageMaker's refusal.
///
/// # Errors
/// [`ApiError::InvalidHeader`] naming the header and the rule it breaks.
pub fn sagemaker_header<'r>(
    req: &'r Request,
    name: &HeaderName,
    max: usize,
) -> Result<Option<&'r str>, ApiError> {
    let Some(value) = req.headers().get(name) else {
        return Ok(None);
    };
    let invalid = |reason: String| ApiError::InvalidHeader {
        name: name.as_str().to_owned(),
        reason,
    };
    let text = value
        .to_str()
        .ok()
        .filter(|t| t.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)))
        .ok_or_else(|| invalid("it must be visible US-ASCII characters".to_owned()))?;
    if text.len() > max {
        return Err(invalid(format!(
            "it is {} characters long; the most SageMaker takes is {max}",
            text.len()
        )));
    }
    Ok(Some(text).filter(|t| !t.trim().is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_type_with_parameters_is_json() {
        assert_eq!(
            body_kind(Some("application/json; charset=utf-8"), b"{}"),
            Ok(BodyKind::Json)
        );
        assert_eq!(
            body_kind(Some("Application/JSON"), b"garbage"),
            Ok(BodyKind::Json)
        );
    }

    #[test]
    fn curl_d_bodies_are_json_when_they_start_with_a_brace() {
        for ct in [
            None,
            Some("application/x-www-form-urlencoded"),
            Some("text/plain"),
        ] {
            assert_eq!(
                body_kind(ct, b"  {\"image\":\"x\"}"),
                Ok(BodyKind::Json),
                "{ct:?}"
            );
        }
        assert!(matches!(
            body_kind(Some("text/plain"), b"hello"),
            Err(ApiError::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            body_kind(None, b"\xFF\xD8\xFF"),
            Err(ApiError::UnsupportedMediaType(_))
        ));
    }

    #[test]
    fn the_image_types_are_raw() {
        for ct in RAW_IMAGE_TYPES {
            assert_eq!(
                body_kind(Some(ct), b"\xFF\xD8\xFF"),
                Ok(BodyKind::Raw),
                "{ct}"
            );
        }
        assert!(matches!(
            body_kind(Some("image/tiff"), b"II*\0"),
            Err(ApiError::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            body_kind(Some("text/csv"), b"{"),
            Err(ApiError::UnsupportedMediaType(_))
        ));
    }

    #[test]
    fn empty_body_is_missing_image() {
        assert_eq!(body_kind(None, b""), Err(ApiError::MissingImage));
    }

    #[test]
    fn accept_asks_for_an_image_only_with_an_image_range() {
        for json_accept in [
            None,
            Some("*/*"),
            Some("application/json"),
            Some("image/png;q=0, application/json"),
            Some("image/*; q=0.0"),
        ] {
            assert_eq!(accepted_image(json_accept), None, "{json_accept:?}");
        }
        assert_eq!(accepted_image(Some("image/*")), Some(None));
        assert_eq!(
            accepted_image(Some("application/json;q=0.5, Image/WebP, image/png")),
            Some(Some("image/webp".to_owned()))
        );
        assert_eq!(
            accepted_image(Some("image/*;q=0.8, image/jpeg")),
            Some(Some("image/jpeg".to_owned()))
        );
    }

    #[test]
    fn query_k_is_a_positive_integer() {
        assert_eq!(positive_int_query("k", "7", ApiError::InvalidK), Ok(7));
        assert_eq!(
            positive_int_query("k", "99999999999999999999999", ApiError::InvalidK),
            Ok(u64::MAX)
        );
        for bad in ["0", "-2", "5.0", "abc", ""] {
            assert!(
                matches!(
                    positive_int_query("k", bad, ApiError::InvalidK),
                    Err(ApiError::InvalidK(_))
                ),
                "{bad}"
            );
        }
    }

    fn with_header(name: &str, value: &[u8]) -> Request {
        http::Request::builder()
            .header(name, http::HeaderValue::from_bytes(value).unwrap())
            .body(Body::Empty)
            .unwrap()
    }

    #[test]
    fn sagemaker_headers_are_checked_as_sagemaker_checks_them() {
        let name = HeaderName::from_static("x-amzn-sagemaker-custom-attributes");
        let ok = with_header(name.as_str(), b"trace=abc; session=\"x y\"");
        assert_eq!(
            sagemaker_header(&ok, &name, 1024),
            Ok(Some("trace=abc; session=\"x y\""))
        );
        let none = http::Request::builder().body(Body::Empty).unwrap();
        assert_eq!(sagemaker_header(&none, &name, 1024), Ok(None));
        let long = with_header(name.as_str(), "a".repeat(1025).as_bytes());
        assert!(matches!(
            sagemaker_header(&long, &name, 1024),
            Err(ApiError::InvalidHeader { reason, .. }) if reason.contains("1025")
        ));
        let non_ascii = with_header(name.as_str(), "caf\u{e9}".as_bytes());
        assert!(matches!(
            sagemaker_header(&non_ascii, &name, 1024),
            Err(ApiError::InvalidHeader { name, .. }) if name == "x-amzn-sagemaker-custom-attributes"
        ));
    }

    #[test]
    fn a_json_field_wins_over_the_query_parameter() {
        let req: Request = http::Request::builder()
            .uri("/resize?width=10&fit=cover")
            .body(Body::Empty)
            .unwrap();
        let json = json::JsonBody::parse(br#"{"width": 20}"#).unwrap();
        assert_eq!(
            positive_int_option(&req, &json, &["width"], ApiError::InvalidSize),
            Ok(Some(20))
        );
        let empty = json::JsonBody::default();
        assert_eq!(
            positive_int_option(&req, &empty, &["width"], ApiError::InvalidSize),
            Ok(Some(10))
        );
        assert_eq!(
            string_option(&req, &empty, "fit", ApiError::InvalidSize),
            Ok(Some("cover".to_owned()))
        );
    }
}

//! Reading request bodies: JSON or raw image, base64 in its common variants, and `k`.
//!
//! Pure functions over bytes and header values, shared by `/predictions` and `/resize`; the
//! handler decides which limits apply.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Media types accepted as a raw image body.
pub const RAW_IMAGE_TYPES: [&str; 5] = [
    "image/jpeg",
    "image/png",
    "image/webp",
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
/// `curl -d` sends); raw for the five image types.
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

/// Parses a body as a JSON object.
///
/// # Errors
/// [`ApiError::InvalidJson`] when it is not JSON or not an object.
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ApiError::InvalidJson(format!(
            "expected a JSON object, got {}",
            json_type(&other)
        ))),
        Err(e) => Err(ApiError::InvalidJson(e.to_string())),
    }
}

/// The base64 image of a JSON request: `image`, or the original API's `data` (`image` wins).
///
/// # Errors
/// [`ApiError::MissingImage`] when neither is present (or both are null or empty);
/// [`ApiError::InvalidBase64`] when the field is not a string.
pub fn image_field(obj: &Map<String, Value>) -> Result<&str, ApiError> {
    let (name, value) = ["image", "data"]
        .iter()
        .find_map(|name| obj.get(*name).filter(|v| !v.is_null()).map(|v| (*name, v)))
        .ok_or(ApiError::MissingImage)?;
    match value {
        Value::String(s) if s.trim().is_empty() => Err(ApiError::MissingImage),
        Value::String(s) => Ok(s),
        other => Err(ApiError::InvalidBase64(format!(
            "\"{name}\" must be a base64 string, got {}",
            json_type(other)
        ))),
    }
}

/// A positive integer field of a JSON request, looked up under each of `names` in order
/// (`k` then the original's `topk`). `null` counts as absent.
///
/// # Errors
/// `invalid(message)` when the value is not a JSON integer ≥ 1 (`5.0`, `"5"`, `true` are not).
pub fn positive_int_field(
    obj: &Map<String, Value>,
    names: &[&str],
    invalid: fn(String) -> ApiError,
) -> Result<Option<u64>, ApiError> {
    let Some((name, value)) = names
        .iter()
        .find_map(|n| obj.get(*n).filter(|v| !v.is_null()).map(|v| (*n, v)))
    else {
        return Ok(None);
    };
    match value {
        Value::Number(n) if n.as_u64().is_some_and(|v| v >= 1) => Ok(n.as_u64()),
        // Larger than u64: still a valid "more than every class" request.
        // serde_json reads integers beyond u64 as floats; `5.0`-style floats stay invalid.
        Value::Number(n)
            if n.as_f64()
                .is_some_and(|f| f >= 18_446_744_073_709_551_615.0 && f.fract() == 0.0) =>
        {
            Ok(Some(u64::MAX))
        }
        other => Err(invalid(format!(
            "\"{name}\" must be an integer of at least 1, got {}",
            describe(other)
        ))),
    }
}

/// A string field of a JSON request (`fit`, `format`); `null` counts as absent.
///
/// # Errors
/// `invalid(message)` when the value is not a JSON string.
pub fn string_field<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    invalid: fn(String) -> ApiError,
) -> Result<Option<&'a str>, ApiError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(invalid(format!(
            "\"{name}\" must be a string, got {}",
            describe(other)
        ))),
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

/// Decodes base64 as clients send it: standard or URL-safe alphabet, padded or not, with line
/// breaks or spaces (the `base64` CLI wraps at 76 columns), optionally as a `data:` URL.
/// Rejects before decoding when the decoded size would clearly exceed `max_bytes`.
///
/// # Errors
/// [`ApiError::InvalidBase64`] for malformed input, [`ApiError::PayloadTooLarge`] when too large.
pub fn decode_base64(input: &str, max_bytes: usize) -> Result<Vec<u8>, ApiError> {
    let payload = strip_data_url(input.trim())?;
    let cleaned: Vec<u8> = payload
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if cleaned.is_empty() {
        return Err(ApiError::MissingImage);
    }
    // Every 4 characters make 3 bytes; allow for up to 2 bytes of padding.
    let lower_bound = (cleaned.len() / 4 * 3).saturating_sub(2);
    if lower_bound > max_bytes {
        return Err(ApiError::PayloadTooLarge {
            size: lower_bound,
            limit: max_bytes,
        });
    }
    let url_safe = cleaned.iter().any(|b| *b == b'-' || *b == b'_');
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let engine = if url_safe {
        GeneralPurpose::new(&base64::alphabet::URL_SAFE, config)
    } else {
        GeneralPurpose::new(&base64::alphabet::STANDARD, config)
    };
    engine
        .decode(&cleaned)
        .map_err(|e| ApiError::InvalidBase64(e.to_string()))
}

/// `data:image/png;base64,AAAA` → `AAAA`; other strings unchanged.
fn strip_data_url(s: &str) -> Result<&str, ApiError> {
    if !s.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("data:")) {
        return Ok(s);
    }
    let (meta, data) = s.split_once(',').ok_or_else(|| {
        ApiError::InvalidBase64("the data: URL has no comma before its data".to_owned())
    })?;
    if !meta.to_ascii_lowercase().ends_with(";base64") {
        return Err(ApiError::InvalidBase64(
            "the data: URL is not base64-encoded (it lacks \";base64\")".to_owned(),
        ));
    }
    Ok(data)
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A short description of a value for error messages (never echoes long input).
fn describe(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) if s.len() <= 20 => format!("the string {s:?}"),
        other => json_type(other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

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
    fn the_five_image_types_are_raw() {
        for ct in RAW_IMAGE_TYPES {
            assert_eq!(
                body_kind(Some(ct), b"\xFF\xD8\xFF"),
                Ok(BodyKind::Raw),
                "{ct}"
            );
        }
        assert!(matches!(
            body_kind(Some("image/gif"), b"GIF89a"),
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
    fn image_wins_over_data_and_data_is_accepted() {
        assert_eq!(
            image_field(&obj(json!({"image": "AAA", "data": "BBB"}))),
            Ok("AAA")
        );
        assert_eq!(image_field(&obj(json!({"data": "BBB"}))), Ok("BBB"));
        assert_eq!(
            image_field(&obj(json!({"image": null, "data": "BBB"}))),
            Ok("BBB")
        );
        assert_eq!(
            image_field(&obj(json!({"k": 1}))),
            Err(ApiError::MissingImage)
        );
        assert_eq!(
            image_field(&obj(json!({"image": ""}))),
            Err(ApiError::MissingImage)
        );
        assert!(matches!(
            image_field(&obj(json!({"image": 5}))),
            Err(ApiError::InvalidBase64(_))
        ));
    }

    #[test]
    fn k_must_be_a_json_integer_of_at_least_one() {
        let k = |v: Value| positive_int_field(&obj(v), &["k", "topk"], ApiError::InvalidK);
        assert_eq!(k(json!({"k": 5})), Ok(Some(5)));
        assert_eq!(k(json!({"topk": 3})), Ok(Some(3)));
        assert_eq!(k(json!({"k": 2, "topk": 3})), Ok(Some(2)));
        assert_eq!(k(json!({})), Ok(None));
        assert_eq!(k(json!({"k": null})), Ok(None));
        assert_eq!(k(json!({"k": 18446744073709551615u64})), Ok(Some(u64::MAX)));
        for bad in [
            json!({"k": 0}),
            json!({"k": -1}),
            json!({"k": 5.0}),
            json!({"k": 2.5}),
            json!({"k": "5"}),
            json!({"k": true}),
            json!({"k": [5]}),
        ] {
            assert!(
                matches!(k(bad.clone()), Err(ApiError::InvalidK(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn huge_integer_k_means_all_classes() {
        let map: Map<String, Value> =
            serde_json::from_str(r#"{"k": 100000000000000000000000}"#).unwrap();
        assert_eq!(
            positive_int_field(&map, &["k"], ApiError::InvalidK),
            Ok(Some(u64::MAX))
        );
    }

    #[test]
    fn string_fields_must_be_strings() {
        let f = |v: Value| {
            string_field(&obj(v), "fit", ApiError::InvalidSize).map(|s| s.map(str::to_owned))
        };
        assert_eq!(f(json!({"fit": "cover"})), Ok(Some("cover".to_owned())));
        assert_eq!(f(json!({"fit": null})), Ok(None));
        assert_eq!(f(json!({})), Ok(None));
        assert!(matches!(
            f(json!({"fit": 3})),
            Err(ApiError::InvalidSize(_))
        ));
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

    #[test]
    fn base64_variants_all_decode() {
        let data = b"\xFF\xD8\xFF\xE0 some image bytes \xFE\xFF";
        let std = base64::engine::general_purpose::STANDARD.encode(data);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data);
        let wrapped: String = std
            .as_bytes()
            .chunks(8)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\r\n");
        for input in [
            std.clone(),
            std.trim_end_matches('=').to_owned(),
            url,
            wrapped,
            format!("data:image/jpeg;base64,{std}"),
            format!("  DATA:image/jpeg;BASE64,{std}\n"),
        ] {
            assert_eq!(
                decode_base64(&input, 1000).as_deref(),
                Ok(&data[..]),
                "{input}"
            );
        }
    }

    #[test]
    fn malformed_base64_is_rejected_with_a_reason() {
        for bad in [
            "not base64!",
            "QUJD=QUJD",
            "data:image/png,AAAA",
            "data:image/png;base64",
        ] {
            assert!(
                matches!(decode_base64(bad, 1000), Err(ApiError::InvalidBase64(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn oversize_base64_is_rejected_before_decoding() {
        let big = "A".repeat(4000);
        assert_eq!(
            decode_base64(&big, 1000),
            Err(ApiError::PayloadTooLarge {
                size: 2998,
                limit: 1000
            })
        );
        assert_eq!(
            decode_base64(&"A".repeat(1336), 1000).map(|v| v.len()),
            Ok(1002)
        );
    }

    proptest! {
        #[test]
        fn any_bytes_round_trip_through_any_encoding(data in proptest::collection::vec(any::<u8>(), 1..300), wrap in 1usize..100) {
            let enc = base64::engine::general_purpose::STANDARD.encode(&data);
            let wrapped: String = enc.as_bytes().chunks(wrap).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join("\n");
            prop_assert_eq!(decode_base64(&wrapped, 10_000).unwrap(), data);
        }

        #[test]
        fn decoding_never_panics(s in ".{0,200}") {
            let _ = decode_base64(&s, 100);
        }
    }
}

//! Reading request bodies: JSON or raw image, base64 in its common variants, and `k`.
//!
//! Pure functions over bytes and header values, shared by `/predictions` and `/resize`; the
//! handler decides which limits apply.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

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

/// A JSON request body, read without copying it: each field the API knows is kept as its raw
/// JSON text, borrowed from the body, and interpreted only when asked for. The image string is
/// by far the largest part of a request (5.3 MB of base64 for a 4 MB photo), so not building a
/// `serde_json::Value` tree saves a copy of it in time and in peak memory.
///
/// `null` counts as absent everywhere. Unknown fields are ignored; a field given twice is
/// `invalid_json`.
#[derive(Debug, Default, Deserialize)]
pub struct JsonBody<'a> {
    #[serde(borrow, default)]
    image: Option<&'a RawValue>,
    /// The original API's name for `image`.
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    k: Option<&'a RawValue>,
    /// The original API's name for `k`.
    #[serde(borrow, default)]
    topk: Option<&'a RawValue>,
    #[serde(borrow, default)]
    width: Option<&'a RawValue>,
    #[serde(borrow, default)]
    height: Option<&'a RawValue>,
    #[serde(borrow, default)]
    fit: Option<&'a RawValue>,
    #[serde(borrow, default)]
    format: Option<&'a RawValue>,
    #[serde(borrow, default)]
    quality: Option<&'a RawValue>,
}

impl<'a> JsonBody<'a> {
    /// Parses a body as a JSON object.
    ///
    /// # Errors
    /// [`ApiError::InvalidJson`] when it is not JSON or not an object.
    pub fn parse(body: &'a [u8]) -> Result<Self, ApiError> {
        // JSON is UTF-8. Checked up front (a fast, vectorised pass) because skipping an unknown
        // field does not look inside its strings.
        let text = std::str::from_utf8(body).map_err(|e| {
            ApiError::InvalidJson(format!(
                "the body is not UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ))
        })?;
        Self::parse_str(text)
    }

    /// [`JsonBody::parse`] for a body already known to be UTF-8 (a text body of the event),
    /// without checking it again.
    ///
    /// # Errors
    /// [`ApiError::InvalidJson`] when it is not JSON or not an object.
    pub fn parse_str(text: &'a str) -> Result<Self, ApiError> {
        // serde reads a struct from an array too: only an object may get that far. Anything
        // else is parsed in full, for the message naming what it is.
        if text.trim_start().starts_with('{') {
            return serde_json::from_str(text).map_err(|e| ApiError::InvalidJson(e.to_string()));
        }
        Err(match serde_json::from_str::<Value>(text) {
            Ok(other) => {
                ApiError::InvalidJson(format!("expected a JSON object, got {}", json_type(&other)))
            }
            Err(e) => ApiError::InvalidJson(e.to_string()),
        })
    }

    /// A known field's raw JSON, `None` when absent or `null`.
    fn field(&self, name: &str) -> Option<&'a RawValue> {
        let raw = match name {
            "image" => self.image,
            "data" => self.data,
            "k" => self.k,
            "topk" => self.topk,
            "width" => self.width,
            "height" => self.height,
            "fit" => self.fit,
            "format" => self.format,
            "quality" => self.quality,
            _ => None,
        };
        raw.filter(|r| r.get().trim() != "null")
    }

    /// A field as a `serde_json::Value` (small fields only: `k`, sizes, names).
    fn value(&self, name: &str) -> Option<Value> {
        self.field(name)
            .map(|raw| serde_json::from_str(raw.get()).unwrap_or(Value::Null))
    }

    /// The base64 image: `image`, or the original API's `data` (`image` wins). Borrowed from
    /// the body unless the JSON string has escapes to undo.
    ///
    /// # Errors
    /// [`ApiError::MissingImage`] when neither is present (or both are null or empty);
    /// [`ApiError::InvalidBase64`] when the field is not a string.
    pub fn image(&self) -> Result<Cow<'a, str>, ApiError> {
        let (name, raw) = ["image", "data"]
            .iter()
            .find_map(|name| self.field(name).map(|raw| (*name, raw)))
            .ok_or(ApiError::MissingImage)?;
        let text = match serde_json::from_str::<&'a str>(raw.get()) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => match serde_json::from_str::<Value>(raw.get()) {
                Ok(Value::String(s)) => Cow::Owned(s),
                other => {
                    let got = other.as_ref().map_or("invalid JSON", json_type);
                    return Err(ApiError::InvalidBase64(format!(
                        "\"{name}\" must be a base64 string, got {got}"
                    )));
                }
            },
        };
        if text.trim().is_empty() {
            return Err(ApiError::MissingImage);
        }
        Ok(text)
    }

    /// A positive integer field, looked up under each of `names` in order (`k` then the
    /// original's `topk`).
    ///
    /// # Errors
    /// `invalid(message)` when the value is not a JSON integer ≥ 1 (`5.0`, `"5"`, `true` are not).
    pub fn positive_int(
        &self,
        names: &[&str],
        invalid: fn(String) -> ApiError,
    ) -> Result<Option<u64>, ApiError> {
        let Some((name, value)) = names.iter().find_map(|n| self.value(n).map(|v| (*n, v))) else {
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
                describe(&other)
            ))),
        }
    }

    /// A string field (`fit`, `format`).
    ///
    /// # Errors
    /// `invalid(message)` when the value is not a JSON string.
    pub fn string(
        &self,
        name: &str,
        invalid: fn(String) -> ApiError,
    ) -> Result<Option<String>, ApiError> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(invalid(format!(
                "\"{name}\" must be a string, got {}",
                describe(&other)
            ))),
        }
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
/// A copy of `input` is decoded in place; the handler decodes request bodies with
/// [`decode_base64_in_place`], which needs no copy.
///
/// # Errors
/// [`ApiError::InvalidBase64`] for malformed input, [`ApiError::PayloadTooLarge`] when too large.
pub fn decode_base64(input: &str, max_bytes: usize) -> Result<Vec<u8>, ApiError> {
    let mut buf = input.as_bytes().to_vec();
    let len = buf.len();
    decode_base64_in_place(&mut buf, 0..len, max_bytes)?;
    Ok(buf)
}

/// Decodes the base64 text at `buf[text]` (any form [`decode_base64`] accepts) into the start of
/// `buf`, and truncates `buf` to the decoded bytes.
///
/// Why in place: the text is part of a request body that is already in memory, and the decoded
/// image is 3/4 of its size. Decoding into the same allocation keeps one buffer alive instead of
/// two, which for a 4 MB photo is the difference between ~6 MB and ~10 MB at the peak. Every
/// byte is written at or before the position it is read from, so nothing unread is overwritten.
///
/// # Errors
/// As [`decode_base64`]; messages and offsets are those of decoding the text as a whole. On
/// error, `buf` holds unspecified bytes.
pub fn decode_base64_in_place(
    buf: &mut Vec<u8>,
    text: std::ops::Range<usize>,
    max_bytes: usize,
) -> Result<(), ApiError> {
    let payload = strip_data_url(buf[text.clone()].trim_ascii())?;
    // `payload` is a sub-slice of `buf[text]`: where it starts and ends in `buf`.
    let start = text.start + (payload.as_ptr() as usize - buf[text.clone()].as_ptr() as usize);
    let end = start + payload.len();

    // One pass over the input, in chunks the compiler vectorises: is there whitespace to drop,
    // and is it the URL-safe alphabet? Most clients send one unbroken line.
    let (mut has_space, mut url_safe) = (false, false);
    for chunk in buf[start..end].chunks(64) {
        let (s, u) = chunk.iter().fold((false, false), |(s, u), &b| {
            (s | b.is_ascii_whitespace(), u | (b == b'-') | (b == b'_'))
        });
        has_space |= s;
        url_safe |= u;
    }
    // Line-wrapped input: move the runs between the breaks to the front, then decode from there.
    let (start, end) = if has_space {
        let mut written = 0;
        let mut read = start;
        while read < end {
            let run_end = buf[read..end]
                .iter()
                .position(u8::is_ascii_whitespace)
                .map_or(end, |i| read + i);
            buf.copy_within(read..run_end, written);
            written += run_end - read;
            read = run_end + 1;
        }
        (0, written)
    } else {
        (start, end)
    };
    if start == end {
        return Err(ApiError::MissingImage);
    }
    // Every 4 characters make 3 bytes; allow for up to 2 bytes of padding.
    let lower_bound = ((end - start) / 4 * 3).saturating_sub(2);
    if lower_bound > max_bytes {
        return Err(ApiError::PayloadTooLarge {
            size: lower_bound,
            limit: max_bytes,
        });
    }
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let alphabet = if url_safe {
        &base64::alphabet::URL_SAFE
    } else {
        &base64::alphabet::STANDARD
    };
    let engine = GeneralPurpose::new(alphabet, config);
    let written = decode_chunks_in_place(&engine, buf, start..end)
        .map_err(|e| ApiError::InvalidBase64(e.to_string()))?;
    buf.truncate(written);
    Ok(())
}

/// Characters of base64 decoded per step of [`decode_chunks_in_place`]: a multiple of 4, so
/// every step but the last is whole quads, and small enough to sit in L1 cache.
const DECODE_CHUNK: usize = 4096;

/// Decodes `buf[text]` into `buf[0..]` a chunk at a time and returns the decoded length.
///
/// The base64 crate decodes from one slice into another, which cannot alias, so each chunk is
/// copied to the stack first. Output never overtakes input: after `n` characters at most `3n/4`
/// bytes are written, from position 0, while the next unread character is at `text.start + n`.
pub(crate) fn decode_chunks_in_place(
    engine: &GeneralPurpose,
    buf: &mut [u8],
    text: std::ops::Range<usize>,
) -> Result<usize, base64::DecodeError> {
    let mut chunk = [0u8; DECODE_CHUNK];
    let (mut read, mut written) = (text.start, 0);
    while read < text.end {
        let n = DECODE_CHUNK.min(text.end - read);
        let last = read + n == text.end;
        chunk[..n].copy_from_slice(&buf[read..read + n]);
        // A chunk that is not the last may not end in padding: that would accept `=` in the
        // middle of the text. Such input, and any error, is decoded again as a whole from here,
        // so the error names the same position as decoding all the text at once would.
        let decoded = if last || chunk[n - 1] != b'=' {
            engine.decode_slice(&chunk[..n], &mut buf[written..read + n])
        } else {
            Err(base64::DecodeSliceError::OutputSliceTooSmall)
        };
        match decoded {
            Ok(bytes) => written += bytes,
            Err(_) => {
                // This chunk's own text is in `chunk`: its place in `buf` may be overwritten.
                let mut rest = chunk[..n].to_vec();
                rest.extend_from_slice(&buf[read + n..text.end]);
                let consumed = read - text.start;
                return Err(match engine.decode(&rest) {
                    Err(e) => shift_decode_error(e, consumed),
                    // Unreachable in practice: the rest decoded whole where its chunks did not.
                    Ok(_) => base64::DecodeError::InvalidPadding,
                });
            }
        }
        read += n;
    }
    Ok(written)
}

/// An error from decoding the text after its first `consumed` characters, as decoding the whole
/// text reports it.
fn shift_decode_error(e: base64::DecodeError, consumed: usize) -> base64::DecodeError {
    use base64::DecodeError::{InvalidByte, InvalidLastSymbol, InvalidLength, InvalidPadding};
    match e {
        InvalidByte(at, b) => InvalidByte(at + consumed, b),
        InvalidLastSymbol {
            offset,
            symbol,
            symbol_value,
        } => InvalidLastSymbol {
            offset: offset + consumed,
            symbol,
            symbol_value,
        },
        InvalidLength(n) => InvalidLength(n + consumed),
        InvalidPadding => InvalidPadding,
    }
}

/// `data:image/png;base64,AAAA` → `AAAA`; other text unchanged.
fn strip_data_url(s: &[u8]) -> Result<&[u8], ApiError> {
    if !s.get(..5).is_some_and(|p| p.eq_ignore_ascii_case(b"data:")) {
        return Ok(s);
    }
    let comma = s.iter().position(|&b| b == b',').ok_or_else(|| {
        ApiError::InvalidBase64("the data: URL has no comma before its data".to_owned())
    })?;
    let meta = &s[..comma];
    if !meta.to_ascii_lowercase().ends_with(b";base64") {
        return Err(ApiError::InvalidBase64(
            "the data: URL is not base64-encoded (it lacks \";base64\")".to_owned(),
        ));
    }
    Ok(&s[comma + 1..])
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

    fn image_of(v: Value) -> Result<String, ApiError> {
        let text = v.to_string();
        JsonBody::parse(text.as_bytes())?
            .image()
            .map(Cow::into_owned)
    }

    fn int_of(v: Value, names: &[&str]) -> Result<Option<u64>, ApiError> {
        let text = v.to_string();
        JsonBody::parse(text.as_bytes())?.positive_int(names, ApiError::InvalidK)
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
            image_of(json!({"image": "AAA", "data": "BBB"})),
            Ok("AAA".to_owned())
        );
        assert_eq!(image_of(json!({"data": "BBB"})), Ok("BBB".to_owned()));
        assert_eq!(
            image_of(json!({"image": null, "data": "BBB"})),
            Ok("BBB".to_owned())
        );
        assert_eq!(image_of(json!({"k": 1})), Err(ApiError::MissingImage));
        assert_eq!(image_of(json!({"image": ""})), Err(ApiError::MissingImage));
        assert_eq!(
            image_of(json!({"image": " \n"})),
            Err(ApiError::MissingImage)
        );
        assert_eq!(
            image_of(json!({"image": 5})),
            Err(ApiError::InvalidBase64(
                "\"image\" must be a base64 string, got a number".to_owned()
            ))
        );
        assert!(matches!(
            image_of(json!({"data": {"b64": "AAA"}})),
            Err(ApiError::InvalidBase64(m)) if m.contains("\"data\"") && m.contains("an object")
        ));
    }

    #[test]
    fn the_image_is_borrowed_from_the_body_unless_it_has_escapes() {
        let plain = br#"{"image": "QUJD+/=="}"#;
        let body = JsonBody::parse(plain).unwrap();
        assert!(matches!(body.image(), Ok(Cow::Borrowed("QUJD+/=="))));
        // Some encoders (PHP's json_encode) escape every slash.
        let escaped = br#"{"image": "QUJD+\/==\n"}"#;
        let body = JsonBody::parse(escaped).unwrap();
        assert_eq!(body.image(), Ok(Cow::Owned("QUJD+/==\n".to_owned())));
    }

    #[test]
    fn only_an_object_is_a_json_body() {
        for (input, message) in [
            (&b"[1, 2]"[..], "expected a JSON object, got an array"),
            (b"\"abc\"", "expected a JSON object, got a string"),
            (b" 5 ", "expected a JSON object, got a number"),
            (b"null", "expected a JSON object, got null"),
        ] {
            assert_eq!(
                JsonBody::parse(input).map(|_| ()),
                Err(ApiError::InvalidJson(message.to_owned())),
                "{input:?}"
            );
        }
        assert_eq!(
            JsonBody::parse(b"{\"a\": \"\xFF\", \"image\": \"AAA\"}").map(|_| ()),
            Err(ApiError::InvalidJson(
                "the body is not UTF-8 (invalid byte at offset 7)".to_owned()
            ))
        );
        for broken in [&b"{"[..], b"{\"image\": }", b"{} x", b"", b"{\"a\": 1,}"] {
            assert!(
                matches!(JsonBody::parse(broken), Err(ApiError::InvalidJson(_))),
                "{broken:?}"
            );
        }
        assert!(matches!(
            JsonBody::parse(br#"{"image": "AAA", "image": "BBB"}"#),
            Err(ApiError::InvalidJson(m)) if m.contains("duplicate field `image`")
        ));
        // Unknown fields are ignored, whatever they hold.
        let body = JsonBody::parse(br#"{"x": [1, {"y": null}], "image": "AAA", "z": 1e400}"#);
        assert_eq!(
            body.and_then(|b| b.image().map(Cow::into_owned)),
            Ok("AAA".to_owned())
        );
    }

    #[test]
    fn k_must_be_a_json_integer_of_at_least_one() {
        let k = |v: Value| int_of(v, &["k", "topk"]);
        assert_eq!(k(json!({"k": 5})), Ok(Some(5)));
        assert_eq!(k(json!({"topk": 3})), Ok(Some(3)));
        assert_eq!(k(json!({"k": 2, "topk": 3})), Ok(Some(2)));
        assert_eq!(k(json!({"k": null, "topk": 3})), Ok(Some(3)));
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
        assert_eq!(
            k(json!({"topk": "5"})),
            Err(ApiError::InvalidK(
                "\"topk\" must be an integer of at least 1, got the string \"5\"".to_owned()
            ))
        );
    }

    #[test]
    fn huge_integer_k_means_all_classes() {
        let body = JsonBody::parse(br#"{"k": 100000000000000000000000}"#).unwrap();
        assert_eq!(
            body.positive_int(&["k"], ApiError::InvalidK),
            Ok(Some(u64::MAX))
        );
    }

    #[test]
    fn string_fields_must_be_strings() {
        let f = |v: Value| {
            let text = v.to_string();
            JsonBody::parse(text.as_bytes())?.string("fit", ApiError::InvalidSize)
        };
        assert_eq!(f(json!({"fit": "cover"})), Ok(Some("cover".to_owned())));
        assert_eq!(f(json!({"fit": "a\"b"})), Ok(Some("a\"b".to_owned())));
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
    fn whitespace_is_counted_out_of_the_size_bound_and_mixed_alphabets_fail() {
        // 1336 characters decode to 1002 bytes: over 1000 with or without line breaks.
        let wrapped: String = "A"
            .repeat(1336)
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(decode_base64(&wrapped, 2000).map(|v| v.len()), Ok(1002));
        assert_eq!(
            decode_base64(&"A".repeat(1340), 1000),
            Err(ApiError::PayloadTooLarge {
                size: 1003,
                limit: 1000
            })
        );
        assert_eq!(decode_base64(" \r\n\t ", 10), Err(ApiError::MissingImage));
        // '+' and '_' together are neither alphabet.
        assert!(matches!(
            decode_base64("ab+_", 10),
            Err(ApiError::InvalidBase64(_))
        ));
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

        /// The in-place, chunked decoder gives what decoding the whole text at once gives
        /// (bytes, or the same error at the same offset), across chunk boundaries, for either
        /// alphabet, wrapped or not, damaged or not.
        #[test]
        fn decoding_in_place_matches_decoding_the_whole_text(
            data in proptest::collection::vec(any::<u8>(), 0..10_000),
            url_safe in any::<bool>(),
            wrap in proptest::option::of(1usize..200),
            damage in proptest::collection::vec((any::<proptest::sample::Index>(), prop_oneof![Just(b'='), Just(b'!'), Just(b'A'), Just(b'\n')]), 0..3),
            prefix in 0usize..3,
        ) {
            let alphabet = if url_safe { &base64::alphabet::URL_SAFE } else { &base64::alphabet::STANDARD };
            let config = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
            let engine = GeneralPurpose::new(alphabet, config);
            let mut text = engine.encode(&data).into_bytes();
            if let Some(wrap) = wrap {
                text = text.chunks(wrap).collect::<Vec<_>>().join(&b'\n');
            }
            for (at, byte) in damage {
                if !text.is_empty() {
                    let i = at.index(text.len());
                    text[i] = byte;
                }
            }
            // The whole-text reference: drop whitespace, then decode it all at once.
            let unwrapped: Vec<u8> = text.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
            let is_url_safe = unwrapped.iter().any(|&b| b == b'-' || b == b'_');
            let reference_engine = GeneralPurpose::new(
                if is_url_safe { &base64::alphabet::URL_SAFE } else { &base64::alphabet::STANDARD },
                config,
            );
            let expected = if unwrapped.is_empty() {
                Err(ApiError::MissingImage)
            } else {
                reference_engine.decode(&unwrapped).map_err(|e| ApiError::InvalidBase64(e.to_string()))
            };
            // Decoded from the middle of a larger buffer, as from a JSON body.
            let mut buf = b"{\"image\": \"".repeat(prefix);
            let start = buf.len();
            buf.extend_from_slice(&text);
            let end = buf.len();
            buf.extend_from_slice(b"\"}");
            let got = decode_base64_in_place(&mut buf, start..end, usize::MAX).map(|()| buf);
            prop_assert_eq!(got, expected);
        }
    }
}

//! The JSON body of a request, read without copying it: each field the API knows is kept as its
//! raw JSON text, borrowed from the body, and interpreted only when asked for.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::ApiError;

/// Longest raw JSON accepted for a field other than the image. An integer or a name fits many
/// times over; anything longer is refused before it is parsed, so a 6 MB `"k": [1, 1, …]` never
/// becomes millions of values. (Unknown fields are skipped by the parser without being built.)
pub const MAX_FIELD_JSON_BYTES: usize = 64;

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

    /// A small field (`k`, sizes, names) as a `serde_json::Value`, refused by its raw length
    /// before it is parsed.
    fn value(
        &self,
        name: &str,
        invalid: fn(String) -> ApiError,
    ) -> Result<Option<Value>, ApiError> {
        let Some(raw) = self.field(name) else {
            return Ok(None);
        };
        let text = raw.get();
        if text.len() > MAX_FIELD_JSON_BYTES {
            return Err(invalid(format!(
                "\"{name}\" is {} bytes of JSON; at most {MAX_FIELD_JSON_BYTES} are accepted for this field",
                text.len()
            )));
        }
        Ok(Some(serde_json::from_str(text).unwrap_or(Value::Null)))
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
        let mut found = None;
        for name in names {
            if let Some(value) = self.value(name, invalid)? {
                found = Some((*name, value));
                break;
            }
        }
        let Some((name, value)) = found else {
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
        match self.value(name, invalid)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(invalid(format!(
                "\"{name}\" must be a string, got {}",
                describe(&other)
            ))),
        }
    }
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
    fn small_fields_are_refused_by_their_raw_length_before_parsing() {
        let ones = vec!["1"; 3_000_000].join(",");
        let body = format!(
            r#"{{"image": "AAAA", "k": [{ones}], "fit": "{}"}}"#,
            "x".repeat(100)
        );
        let json = JsonBody::parse(body.as_bytes()).unwrap();
        let started = std::time::Instant::now();
        let err = json
            .positive_int(&["k", "topk"], ApiError::InvalidK)
            .unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
        let expected = format!("\"k\" is {} bytes of JSON", ones.len() + 2);
        assert!(
            matches!(&err, ApiError::InvalidK(m) if m.contains(&expected)),
            "{err:?}"
        );
        assert!(matches!(
            json.string("fit", ApiError::InvalidSize),
            Err(ApiError::InvalidSize(m)) if m.contains("at most 64")
        ));
        // A value that fits is read as before.
        let json = JsonBody::parse(br#"{"k": 100000000000000000000000, "fit": "cover"}"#).unwrap();
        assert_eq!(
            json.positive_int(&["k"], ApiError::InvalidK),
            Ok(Some(u64::MAX))
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
}

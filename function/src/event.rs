//! Reading a Lambda HTTP event (API Gateway REST or HTTP API, ALB) without copying its body.
//!
//! `lambda_http` reads the whole event into a `String` per field, so a 4 MB photo sent as JSON
//! is held as the event's bytes and again as the body string. Here everything except the body
//! is read by `lambda_http`'s own event types (from a small copy of the event with the body left
//! out), and the body's JSON escapes and base64 are undone in the event's own buffer.

use std::ops::Range;

use lambda_http::Body;
use lambda_http::request::LambdaRequest;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::request;

/// Why an event could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// Not JSON, or not an event `lambda_http` knows.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// The body string has an escape JSON does not allow.
    #[error("the event's body has an invalid JSON escape at byte {0}")]
    Escape(usize),
    /// `isBase64Encoded` is true but the body is not base64.
    #[error("the event's body is marked base64 but is not: {0}")]
    Base64(#[from] base64::DecodeError),
}

/// The two fields of any HTTP event that concern the body, the body borrowed as raw JSON.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    body: Option<&'a RawValue>,
    #[serde(rename = "isBase64Encoded", default)]
    is_base64_encoded: Option<bool>,
}

/// Splits an event into `lambda_http`'s request (with no body) and the body, decoded in the
/// event's buffer: text for a plain body, bytes for one marked `isBase64Encoded`.
///
/// # Errors
/// [`EventError`] when the event is not an HTTP event or its body is malformed.
pub fn read(mut event: Vec<u8>) -> Result<(LambdaRequest, Body), EventError> {
    let (body, base64) = {
        let envelope: Envelope<'_> = serde_json::from_slice(&event)?;
        let body = envelope
            .body
            .map(RawValue::get)
            .filter(|raw| raw.starts_with('"'))
            .map(|raw| {
                let start = raw.as_ptr() as usize - event.as_ptr() as usize;
                start..start + raw.len()
            });
        (body, envelope.is_base64_encoded.unwrap_or(false))
    };
    let Some(body) = body else {
        // No body (null or absent): nothing large to keep out of lambda_http's way.
        return Ok((serde_json::from_slice(&event)?, Body::Empty));
    };

    // Everything but the body: a few KB of headers and request context.
    let mut rest = Vec::with_capacity(event.len() - body.len() + 4);
    rest.extend_from_slice(&event[..body.start]);
    rest.extend_from_slice(b"null");
    rest.extend_from_slice(&event[body.end..]);
    let request: LambdaRequest = serde_json::from_slice(&rest)?;
    drop(rest);

    let len = unescape_in_place(&mut event, body.start + 1..body.end - 1)?;
    event.truncate(len);
    let body = if base64 {
        let len = decode_base64_in_place(&mut event)?;
        event.truncate(len);
        Body::Binary(event)
    } else {
        match String::from_utf8(event) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    Ok((request, body))
}

/// Undoes the escapes of the JSON string whose contents (between the quotes) are
/// `buf[string]`, writing the text to the start of `buf`; returns its length.
///
/// Every escape is longer than what it stands for, so the write position never passes the read
/// position.
fn unescape_in_place(buf: &mut [u8], string: Range<usize>) -> Result<usize, EventError> {
    let (mut read, mut written) = (string.start, 0);
    while read < string.end {
        let run = memchr::memchr(b'\\', &buf[read..string.end]).unwrap_or(string.end - read);
        buf.copy_within(read..read + run, written);
        written += run;
        read += run;
        if read == string.end {
            break;
        }
        let bad = || EventError::Escape(read);
        let (ch, len) = match buf.get(read + 1).ok_or_else(bad)? {
            b'"' => ('"', 2),
            b'\\' => ('\\', 2),
            b'/' => ('/', 2),
            b'b' => ('\u{8}', 2),
            b'f' => ('\u{c}', 2),
            b'n' => ('\n', 2),
            b'r' => ('\r', 2),
            b't' => ('\t', 2),
            b'u' => {
                let unit = |at: usize| {
                    buf.get(at..at + 4)
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u16::from_str_radix(h, 16).ok())
                };
                let first = unit(read + 2).ok_or_else(bad)?;
                match first {
                    0xD800..=0xDBFF => {
                        let second = (buf.get(read + 6..read + 8) == Some(b"\\u"))
                            .then(|| unit(read + 8))
                            .flatten()
                            .filter(|u| (0xDC00..=0xDFFF).contains(u))
                            .ok_or_else(bad)?;
                        let code = 0x10000
                            + ((u32::from(first) - 0xD800) << 10)
                            + (u32::from(second) - 0xDC00);
                        (char::from_u32(code).ok_or_else(bad)?, 12)
                    }
                    0xDC00..=0xDFFF => return Err(bad()),
                    _ => (char::from_u32(u32::from(first)).ok_or_else(bad)?, 6),
                }
            }
            _ => return Err(bad()),
        };
        let mut utf8 = [0; 4];
        let encoded = ch.encode_utf8(&mut utf8).as_bytes();
        buf[written..written + encoded.len()].copy_from_slice(encoded);
        written += encoded.len();
        read += len;
    }
    Ok(written)
}

/// Decodes the standard base64 that API Gateway and ALB use for binary bodies, in place. Strict
/// (padded, standard alphabet, no line breaks), unlike a client's base64: the service encodes it.
fn decode_base64_in_place(buf: &mut [u8]) -> Result<usize, EventError> {
    let len = buf.len();
    Ok(request::decode_chunks_in_place(
        &base64::engine::general_purpose::STANDARD,
        buf,
        0..len,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use lambda_http::request::RequestOrigin;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn rest_event(body: Value, base64: bool) -> Vec<u8> {
        json!({
            "resource": "/predictions",
            "path": "/predictions",
            "httpMethod": "POST",
            "headers": {"content-type": "application/json"},
            "multiValueHeaders": {"content-type": ["application/json"]},
            "queryStringParameters": {"k": "3"},
            "multiValueQueryStringParameters": {"k": ["3"]},
            "requestContext": {
                "resourcePath": "/predictions",
                "httpMethod": "POST",
                "path": "/prod/predictions",
                "stage": "prod",
                "requestId": "r-1",
                "accountId": "123456789012",
                "apiId": "api",
                "identity": {"sourceIp": "127.0.0.1"}
            },
            "body": body,
            "isBase64Encoded": base64
        })
        .to_string()
        .into_bytes()
    }

    /// What lambda_http itself makes of the event: the reference for `read`.
    fn reference(event: &[u8]) -> http::Request<Body> {
        serde_json::from_slice::<LambdaRequest>(event)
            .unwrap()
            .into()
    }

    fn assert_same_as_lambda_http(event: Vec<u8>) {
        let expected = reference(&event);
        let (request, body) = read(event).unwrap();
        let origin = request.request_origin();
        let request: http::Request<Body> = request.into();
        assert_eq!(request.method(), expected.method());
        assert_eq!(request.uri(), expected.uri());
        assert_eq!(request.headers(), expected.headers());
        assert_eq!(body.as_ref(), expected.body().as_ref());
        assert_eq!(
            matches!(body, Body::Binary(_)),
            matches!(expected.body(), Body::Binary(_))
        );
        assert!(matches!(origin, RequestOrigin::ApiGatewayV1));
    }

    #[test]
    fn a_json_body_with_escapes_reads_as_lambda_http_reads_it() {
        let body = json!({"image": "AAAA/+==", "note": "tab\t \"q\" \\ é ☃ 😀 \u{1}"});
        assert_same_as_lambda_http(rest_event(Value::String(body.to_string()), false));
        // Escapes written out in full (`\/`, `\u00e9`, a surrogate pair), as some encoders do.
        let event = String::from_utf8(rest_event(json!("PLACEHOLDER"), false))
            .unwrap()
            .replace(
                "PLACEHOLDER",
                r#"{\"a\":\"\/x\u00e9\ud83d\ude00\b\f\n\r\"}"#,
            );
        assert_same_as_lambda_http(event.into_bytes());
    }

    /// Every recorded event shape in `tests/data` (REST API, HTTP API, Function URL; JSON, raw
    /// and base64 bodies) reads exactly as lambda_http reads it.
    #[test]
    fn recorded_events_read_as_lambda_http_reads_them() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let expected = reference(&bytes);
            let expected_origin = serde_json::from_slice::<LambdaRequest>(&bytes)
                .unwrap()
                .request_origin();
            let (request, body) = read(bytes).unwrap();
            assert_eq!(
                std::mem::discriminant(&request.request_origin()),
                std::mem::discriminant(&expected_origin),
                "{path:?}"
            );
            let request: http::Request<Body> = request.into();
            assert_eq!(request.method(), expected.method(), "{path:?}");
            // lambda_http rebuilds the query from a hash map: compare it as a set of pairs.
            let query = |uri: &http::Uri| {
                let mut pairs: Vec<String> = uri
                    .query()
                    .unwrap_or("")
                    .split('&')
                    .map(str::to_owned)
                    .collect();
                pairs.sort();
                (
                    uri.scheme().cloned(),
                    uri.authority().cloned(),
                    uri.path().to_owned(),
                    pairs,
                )
            };
            assert_eq!(query(request.uri()), query(expected.uri()), "{path:?}");
            assert_eq!(request.headers(), expected.headers(), "{path:?}");
            assert_eq!(body.as_ref(), expected.body().as_ref(), "{path:?}");
            seen += 1;
        }
        assert!(seen >= 5, "only {seen} events in {dir:?}");
    }

    #[test]
    fn a_base64_body_is_decoded_to_bytes() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
        assert_same_as_lambda_http(rest_event(json!(encoded), true));
        let (_, body) = read(rest_event(json!(encoded), true)).unwrap();
        assert_eq!(body.as_ref(), &bytes[..]);
    }

    #[test]
    fn no_body_and_an_empty_body_are_empty() {
        let (_, body) = read(rest_event(Value::Null, false)).unwrap();
        assert!(matches!(body, Body::Empty));
        let (_, body) = read(rest_event(json!(""), false)).unwrap();
        assert!(body.as_ref().is_empty());
    }

    #[test]
    fn http_api_and_alb_events_keep_their_origin() {
        let v2 = json!({
            "version": "2.0",
            "routeKey": "POST /predictions",
            "rawPath": "/predictions",
            "rawQueryString": "k=2",
            "headers": {"content-type": "image/jpeg"},
            "requestContext": {
                "accountId": "123456789012", "apiId": "api", "domainName": "x.example",
                "domainPrefix": "x", "requestId": "r-2", "routeKey": "POST /predictions",
                "stage": "$default", "time": "26/Nov/2026:10:00:00 +0000", "timeEpoch": 0,
                "http": {"method": "POST", "path": "/predictions", "protocol": "HTTP/1.1",
                         "sourceIp": "127.0.0.1", "userAgent": "curl"}
            },
            "body": "/9j/",
            "isBase64Encoded": true
        });
        let (request, body) = read(v2.to_string().into_bytes()).unwrap();
        assert!(matches!(
            request.request_origin(),
            RequestOrigin::ApiGatewayV2
        ));
        assert_eq!(body.as_ref(), b"\xff\xd8\xff");
        let alb = json!({
            "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/t/1"}},
            "httpMethod": "POST", "path": "/predictions", "queryStringParameters": {},
            "headers": {"content-type": "application/json"}, "body": "{}", "isBase64Encoded": false
        });
        let (request, body) = read(alb.to_string().into_bytes()).unwrap();
        assert!(matches!(request.request_origin(), RequestOrigin::Alb));
        assert_eq!(body.as_ref(), b"{}");
    }

    #[test]
    fn malformed_events_are_errors_not_panics() {
        let events: [&[u8]; 4] = [
            b"not json",
            b"{\"body\": \"x\"}",
            b"[1,2]",
            b"{\"httpMethod\": 5}",
        ];
        for event in events {
            let shown = String::from_utf8_lossy(event).into_owned();
            assert!(read(Vec::from(event)).is_err(), "{shown}");
        }
        let bad_base64 = rest_event(json!("not base64!"), true);
        assert!(matches!(read(bad_base64), Err(EventError::Base64(_))));
        // A lone surrogate is not text.
        let event = String::from_utf8(rest_event(json!("PLACEHOLDER"), false))
            .unwrap()
            .replace("PLACEHOLDER", r"\ud800x");
        assert!(read(event.into_bytes()).is_err());
    }

    proptest! {
        #[test]
        fn unescaping_in_place_matches_serde_json(s in "\\PC*|[\"\\\\/\\x00-\\x1f\u{e9}\u{1F600}a-z]{0,200}") {
            let quoted = serde_json::to_string(&s).unwrap();
            let mut buf = quoted.clone().into_bytes();
            let len = unescape_in_place(&mut buf, 1..quoted.len() - 1).unwrap();
            prop_assert_eq!(&buf[..len], s.as_bytes());
        }

        #[test]
        fn decoding_base64_in_place_matches_the_base64_crate(
            data in proptest::collection::vec(any::<u8>(), 0..13_000),
            damage in proptest::option::of((any::<proptest::sample::Index>(), prop_oneof![Just(b'='), Just(b'!'), Just(b'A')])),
        ) {
            let engine = &base64::engine::general_purpose::STANDARD;
            let mut text = engine.encode(&data).into_bytes();
            if let Some((at, byte)) = damage.filter(|_| !text.is_empty()) {
                let i = at.index(text.len());
                text[i] = byte;
            }
            let expected = engine.decode(&text);
            let mut buf = text.clone();
            let got = decode_base64_in_place(&mut buf).map(|n| buf[..n].to_vec());
            match (got, expected) {
                (Ok(got), Ok(expected)) => prop_assert_eq!(got, expected),
                (Err(EventError::Base64(got)), Err(expected)) => prop_assert_eq!(got, expected),
                (got, expected) => prop_assert!(false, "in place {:?}, whole {:?}", got.map(|v| v.len()), expected.map(|v| v.len())),
            }
        }
    }
}

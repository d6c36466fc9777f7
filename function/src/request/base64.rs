//! Base64 as clients send it, decoded in one place: standard or URL-safe alphabet, padded or not,
//! line-wrapped or not, bare or as a `data:` URL, and decoded in the buffer that holds it.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::error::ApiError;

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
            what: "image",
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
fn decode_chunks_in_place(
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
                what: "image",
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
                what: "image",
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

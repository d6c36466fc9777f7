//! Parsing the model's response into class scores, without `eval`.
//!
//! Accepted: a JSON array of numbers (SageMaker's built-in image-classification format) and the
//! JSON Lines form `{"prediction": [...]}`. Everything else is a [`ModelOutputError`], whose text
//! never quotes the response: it is logged, and a model's output must not reach the logs.

use serde::Deserialize;

use crate::config::ModelOutput;

/// Why a model response cannot be used. Logged, never returned to clients.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelOutputError {
    /// Not a JSON array of numbers, nor `{"prediction": [...]}`; where parsing stopped.
    #[error("not a JSON array of numbers or {{\"prediction\": [...]}}: {0}")]
    Malformed(String),
    /// The array is empty.
    #[error("the model returned no classes")]
    Empty,
    /// A value is NaN or infinite.
    #[error("class {index} has a non-finite score")]
    NonFinite {
        /// The offending class.
        index: usize,
    },
    /// A probability is negative (set `MODEL_OUTPUT=logits` for models that return raw scores).
    #[error(
        "class {index} has a negative probability {value} (set MODEL_OUTPUT=logits for raw scores)"
    )]
    Negative {
        /// The offending class.
        index: usize,
        /// Its value.
        value: f64,
    },
}

#[derive(Deserialize)]
struct JsonLines {
    prediction: Vec<f64>,
}

/// Parses and validates the model's output; for [`ModelOutput::Logits`], applies a softmax.
///
/// # Errors
/// A [`ModelOutputError`] describing the first problem found.
pub fn parse(body: &[u8], kind: ModelOutput) -> Result<Vec<f64>, ModelOutputError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let scores = match first {
        Some(b'{') => {
            // JSON Lines: one object per record; one image gives one record.
            let line = body
                .split(|b| *b == b'\n')
                .find(|l| l.iter().any(|b| !b.is_ascii_whitespace()));
            serde_json::from_slice::<JsonLines>(line.unwrap_or(body))
                .map(|j| j.prediction)
                .map_err(malformed)?
        }
        _ => serde_json::from_slice::<Vec<f64>>(body).map_err(malformed)?,
    };
    if scores.is_empty() {
        return Err(ModelOutputError::Empty);
    }
    if let Some(index) = scores.iter().position(|v| !v.is_finite()) {
        return Err(ModelOutputError::NonFinite { index });
    }
    match kind {
        ModelOutput::Probabilities => {
            if let Some(index) = scores.iter().position(|v| *v < 0.0) {
                return Err(ModelOutputError::Negative {
                    index,
                    value: scores[index],
                });
            }
            Ok(scores)
        }
        ModelOutput::Logits => Ok(softmax(scores)),
    }
}

/// Where and how parsing failed, without serde's description: its messages quote the input
/// (`invalid type: string "…"`), and this one is logged.
fn malformed(err: serde_json::Error) -> ModelOutputError {
    let kind = match err.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "not an array of numbers",
        serde_json::error::Category::Eof => "truncated",
    };
    ModelOutputError::Malformed(format!(
        "{kind} at line {} column {}",
        err.line(),
        err.column()
    ))
}

/// A numerically stable softmax: subtracting the maximum keeps every `exp` in (0, 1].
pub fn softmax(mut scores: Vec<f64>) -> Vec<f64> {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for v in &mut scores {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in &mut scores {
        *v /= sum;
    }
    scores
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_builtin_algorithm_array() {
        let body = b"[1.4174277566780802e-05, 0.9, 2.5e-3, 0]";
        assert_eq!(
            parse(body, ModelOutput::Probabilities),
            Ok(vec![1.4174277566780802e-05, 0.9, 0.0025, 0.0])
        );
    }

    #[test]
    fn parses_json_lines_prediction() {
        assert_eq!(
            parse(
                b"{\"prediction\": [0.25, 0.75]}\n",
                ModelOutput::Probabilities
            ),
            Ok(vec![0.25, 0.75])
        );
        assert_eq!(
            parse(b"\n{\"prediction\":[1]}", ModelOutput::Probabilities),
            Ok(vec![1.0])
        );
    }

    #[test]
    fn rejects_unusable_output() {
        let p = |b: &[u8]| parse(b, ModelOutput::Probabilities);
        assert_eq!(p(b"[]"), Err(ModelOutputError::Empty));
        assert_eq!(p(b"{\"prediction\": []}"), Err(ModelOutputError::Empty));
        for bad in [
            &b""[..],
            b"[NaN, 1]",
            b"[Infinity]",
            b"[\"0.5\"]",
            b"[0.5, null]",
            b"[[0.5]]",
            b"{\"predictions\": [1]}",
            b"__import__('os')",
            b"<html>",
        ] {
            assert!(
                matches!(p(bad), Err(ModelOutputError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(matches!(
            p(b"[1e999]"),
            Err(ModelOutputError::Malformed(_) | ModelOutputError::NonFinite { .. })
        ));
        assert_eq!(
            p(b"[0.5, -0.1]"),
            Err(ModelOutputError::Negative {
                index: 1,
                value: -0.1
            })
        );
    }

    #[test]
    fn logits_mode_accepts_negatives_and_applies_softmax() {
        let probs = parse(b"[-1000.0, 0.0, 1000.0]", ModelOutput::Logits).unwrap();
        assert!(probs.iter().all(|p| p.is_finite()));
        assert!((probs[2] - 1.0).abs() < 1e-12);
        let probs = parse(b"[0.0, 0.0]", ModelOutput::Logits).unwrap();
        assert_eq!(probs, vec![0.5, 0.5]);
    }

    #[test]
    fn errors_never_quote_the_response() {
        for body in [
            &br#"["SECRET-OUTPUT", 1]"#[..],
            br#"{"prediction": "SECRET-OUTPUT"}"#,
            br#"{"prediction": [1], "SECRET-OUTPUT": x}"#,
            b"SECRET-OUTPUT",
            br#"[1, 2, {"SECRET-OUTPUT": 3}]"#,
        ] {
            let err = parse(body, ModelOutput::Probabilities).unwrap_err();
            assert!(!err.to_string().contains("SECRET"), "{err}");
            assert!(err.to_string().contains("line 1 column"), "{err}");
        }
    }

    proptest! {
        #[test]
        fn softmax_sums_to_one_and_keeps_order(v in proptest::collection::vec(-1e6f64..1e6, 1..200)) {
            let p = softmax(v.clone());
            let sum: f64 = p.iter().sum();
            prop_assert!((sum - 1.0).abs() < 1e-9);
            for i in 0..v.len() {
                for j in 0..v.len() {
                    if v[i] > v[j] { prop_assert!(p[i] >= p[j]); }
                }
            }
        }

        #[test]
        fn parsing_arbitrary_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(&b, ModelOutput::Probabilities);
            let _ = parse(&b, ModelOutput::Logits);
        }
    }
}

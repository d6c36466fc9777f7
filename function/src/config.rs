//! Configuration: every environment variable the function reads, read once at init.
//!
//! Nothing else in the crate calls `std::env`. A missing or malformed variable fails init with an
//! error that names it, so a bad deployment shows up in the first log line, not in a request.

use std::time::Duration;

/// SageMaker's real-time endpoint payload limit (6 MiB).
pub const DEFAULT_MAX_IMAGE_BYTES: usize = 6 * 1024 * 1024;
/// Below API Gateway's 29 s integration timeout, so the function's own 504 comes first.
pub const DEFAULT_INVOKE_TIMEOUT_MS: u64 = 25_000;
/// Largest accepted `MAX_IMAGE_BYTES`: Lambda's synchronous payload limit. No larger image can
/// reach the function, so it is also the input cap of `/resize` and of preprocessing.
pub const MAX_IMAGE_BYTES_CEILING: usize = 6 * 1024 * 1024 + 512 * 1024;
/// Largest accepted `INVOKE_TIMEOUT_MS`: Lambda's 15-minute maximum.
const INVOKE_TIMEOUT_CEILING_MS: u64 = 900_000;

/// How to read the model's output numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelOutput {
    /// Non-negative probabilities, used as they are.
    Probabilities,
    /// Raw scores; the function applies a softmax.
    Logits,
}

/// When to shrink an image before sending it to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preprocess {
    /// Never: images over `MAX_IMAGE_BYTES` get 413.
    Off,
    /// Only images over `MAX_IMAGE_BYTES` are downscaled and re-encoded as JPEG.
    Oversize,
    /// Every image is downscaled first, to cut payload and model latency.
    Always,
}

/// The function's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `ENDPOINT_NAME`: the SageMaker endpoint to invoke.
    pub endpoint_name: String,
    /// `LABELS_PATH`: optional label file, read once at init.
    pub labels_path: Option<String>,
    /// `DEFAULT_TOP_K`: `k` when a request gives none; `None` returns all classes.
    pub default_top_k: Option<usize>,
    /// `MAX_IMAGE_BYTES`: largest image sent to the model.
    pub max_image_bytes: usize,
    /// `MODEL_CONTENT_TYPE`: the `ContentType` of `InvokeEndpoint`.
    pub model_content_type: String,
    /// `INVOKE_TIMEOUT_MS`: the whole `InvokeEndpoint` call, retries included.
    pub invoke_timeout: Duration,
    /// `MODEL_OUTPUT`: `probabilities` (default) or `logits`.
    pub model_output: ModelOutput,
    /// `PREPROCESS`: `off`, `oversize` (default) or `always`.
    pub preprocess: Preprocess,
    /// `PREPROCESS_MAX_SIDE`: longest side after downscaling (default 512).
    pub preprocess_max_side: u32,
    /// `CORS_ALLOW_ORIGIN`: when set, sent as `Access-Control-Allow-Origin` on every response.
    pub cors_allow_origin: Option<String>,
}

/// A configuration variable that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {variable} {problem}")]
pub struct ConfigError {
    /// The environment variable's name.
    pub variable: &'static str,
    /// What is wrong with it, in words.
    pub problem: String,
}

impl ConfigError {
    fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }
}

impl Config {
    /// Reads the configuration from the process environment.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing or malformed variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    /// Empty values count as unset.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing or malformed variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let endpoint_name = get("ENDPOINT_NAME").ok_or_else(|| {
            ConfigError::new(
                "ENDPOINT_NAME",
                "is required (the SageMaker endpoint's name)",
            )
        })?;
        validate_endpoint_name(&endpoint_name)?;

        let default_top_k = match get("DEFAULT_TOP_K") {
            None => None,
            Some(v) if v.eq_ignore_ascii_case("all") => None,
            Some(v) => Some(parse_positive("DEFAULT_TOP_K", &v, usize::MAX as u64)? as usize),
        };
        let max_image_bytes = match get("MAX_IMAGE_BYTES") {
            None => DEFAULT_MAX_IMAGE_BYTES,
            Some(v) => {
                parse_positive("MAX_IMAGE_BYTES", &v, MAX_IMAGE_BYTES_CEILING as u64)? as usize
            }
        };
        let invoke_timeout_ms = match get("INVOKE_TIMEOUT_MS") {
            None => DEFAULT_INVOKE_TIMEOUT_MS,
            Some(v) => parse_positive("INVOKE_TIMEOUT_MS", &v, INVOKE_TIMEOUT_CEILING_MS)?,
        };
        let model_content_type =
            get("MODEL_CONTENT_TYPE").unwrap_or_else(|| "application/x-image".to_owned());
        if http::HeaderValue::from_str(&model_content_type).is_err()
            || !model_content_type.contains('/')
        {
            return Err(ConfigError::new(
                "MODEL_CONTENT_TYPE",
                format!(
                    "must be a media type such as application/x-image, got {model_content_type:?}"
                ),
            ));
        }
        let model_output = match get("MODEL_OUTPUT")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("probabilities") => ModelOutput::Probabilities,
            Some("logits") => ModelOutput::Logits,
            Some(other) => {
                return Err(ConfigError::new(
                    "MODEL_OUTPUT",
                    format!("must be \"probabilities\" or \"logits\", got {other:?}"),
                ));
            }
        };
        let preprocess = match get("PREPROCESS")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("oversize") => Preprocess::Oversize,
            Some("off") => Preprocess::Off,
            Some("always") => Preprocess::Always,
            Some(other) => {
                return Err(ConfigError::new(
                    "PREPROCESS",
                    format!("must be \"off\", \"oversize\" or \"always\", got {other:?}"),
                ));
            }
        };
        let preprocess_max_side = match get("PREPROCESS_MAX_SIDE") {
            None => 512,
            Some(v) => parse_positive("PREPROCESS_MAX_SIDE", &v, 8192)? as u32,
        };
        let cors_allow_origin = get("CORS_ALLOW_ORIGIN");
        if cors_allow_origin
            .as_deref()
            .is_some_and(|o| http::HeaderValue::from_str(o).is_err())
        {
            return Err(ConfigError::new(
                "CORS_ALLOW_ORIGIN",
                "must be a valid header value such as https://example.com or *",
            ));
        }

        Ok(Self {
            endpoint_name,
            labels_path: get("LABELS_PATH"),
            default_top_k,
            max_image_bytes,
            model_content_type,
            invoke_timeout: Duration::from_millis(invoke_timeout_ms),
            model_output,
            preprocess,
            preprocess_max_side,
            cors_allow_origin,
        })
    }
}

/// SageMaker endpoint names: 1–63 alphanumerics and hyphens, no leading or trailing hyphen.
fn validate_endpoint_name(name: &str) -> Result<(), ConfigError> {
    let ok = name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            "ENDPOINT_NAME",
            format!(
                "must be a SageMaker endpoint name (1-63 letters, digits and hyphens), got {name:?}"
            ),
        ))
    }
}

fn parse_positive(variable: &'static str, value: &str, max: u64) -> Result<u64, ConfigError> {
    match value.parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(ConfigError::new(
            variable,
            format!("must be an integer from 1 to {max}, got {value:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_only_the_endpoint_is_set() {
        let c = config(&[("ENDPOINT_NAME", "my-endpoint")]).unwrap();
        assert_eq!(c.endpoint_name, "my-endpoint");
        assert_eq!(c.default_top_k, None);
        assert_eq!(c.max_image_bytes, 6_291_456);
        assert_eq!(c.invoke_timeout, Duration::from_millis(25_000));
        assert_eq!(c.model_content_type, "application/x-image");
        assert_eq!(c.model_output, ModelOutput::Probabilities);
        assert_eq!(c.preprocess, Preprocess::Oversize);
        assert_eq!(c.preprocess_max_side, 512);
        assert_eq!(c.labels_path, None);
    }

    #[test]
    fn missing_endpoint_name_is_named_in_the_error() {
        let err = config(&[]).unwrap_err();
        assert_eq!(err.variable, "ENDPOINT_NAME");
        assert!(
            err.to_string().contains("ENDPOINT_NAME is required"),
            "{err}"
        );
        assert_eq!(
            config(&[("ENDPOINT_NAME", "  ")]).unwrap_err().variable,
            "ENDPOINT_NAME"
        );
    }

    #[test]
    fn malformed_endpoint_name_is_rejected() {
        for bad in [
            "has space",
            "-lead",
            "trail-",
            "under_score",
            &"a".repeat(64),
        ] {
            assert_eq!(
                config(&[("ENDPOINT_NAME", bad)]).unwrap_err().variable,
                "ENDPOINT_NAME",
                "{bad}"
            );
        }
    }

    #[test]
    fn each_malformed_number_names_its_variable() {
        for (var, bad) in [
            ("DEFAULT_TOP_K", "0"),
            ("DEFAULT_TOP_K", "five"),
            ("MAX_IMAGE_BYTES", "-1"),
            ("MAX_IMAGE_BYTES", "99999999999"),
            ("INVOKE_TIMEOUT_MS", "1.5"),
            ("INVOKE_TIMEOUT_MS", "0"),
            ("PREPROCESS_MAX_SIDE", "100000"),
        ] {
            let err = config(&[("ENDPOINT_NAME", "e"), (var, bad)]).unwrap_err();
            assert_eq!(err.variable, var, "{var}={bad}");
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn enumerations_parse_case_insensitively_and_reject_unknown_values() {
        let c = config(&[
            ("ENDPOINT_NAME", "e"),
            ("MODEL_OUTPUT", "Logits"),
            ("PREPROCESS", "ALWAYS"),
        ])
        .unwrap();
        assert_eq!(c.model_output, ModelOutput::Logits);
        assert_eq!(c.preprocess, Preprocess::Always);
        assert_eq!(
            config(&[("ENDPOINT_NAME", "e"), ("MODEL_OUTPUT", "softmax")])
                .unwrap_err()
                .variable,
            "MODEL_OUTPUT"
        );
        assert_eq!(
            config(&[("ENDPOINT_NAME", "e"), ("PREPROCESS", "yes")])
                .unwrap_err()
                .variable,
            "PREPROCESS"
        );
    }

    #[test]
    fn default_top_k_accepts_all_and_integers() {
        assert_eq!(
            config(&[("ENDPOINT_NAME", "e"), ("DEFAULT_TOP_K", "all")])
                .unwrap()
                .default_top_k,
            None
        );
        assert_eq!(
            config(&[("ENDPOINT_NAME", "e"), ("DEFAULT_TOP_K", "5")])
                .unwrap()
                .default_top_k,
            Some(5)
        );
    }

    #[test]
    fn bad_model_content_type_is_rejected() {
        let err = config(&[("ENDPOINT_NAME", "e"), ("MODEL_CONTENT_TYPE", "jpeg")]).unwrap_err();
        assert_eq!(err.variable, "MODEL_CONTENT_TYPE");
    }
}

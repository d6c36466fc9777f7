//! Configuration: every environment variable the function reads for its own settings, read once
//! at init into [`Config`].
//!
//! `main.rs` passes [`Config::from_env`] the process environment; everything else gets the
//! struct. (The Lambda runtime and the AWS SDK read their own variables, such as
//! `AWS_LAMBDA_RUNTIME_API` and `AWS_REGION`.) A missing or malformed variable fails init with an
//! error that names it, so a bad deployment shows up in the first log line, not in a request.
//! Every default lives here: the CDK stack sets a variable only when its stage configures it.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::endpoint::Target;

/// SageMaker's real-time endpoint payload limit (6 MiB).
pub const DEFAULT_MAX_IMAGE_BYTES: usize = 6 * 1024 * 1024;
/// Below API Gateway's 29 s integration timeout, so the function's own 504 comes first.
pub const DEFAULT_INVOKE_TIMEOUT_MS: u64 = 25_000;
/// Lambda's synchronous payload limit (6,291,456 bytes). No larger request can reach the
/// function, so it is the largest accepted `MAX_IMAGE_BYTES` and the input cap of `/resize` and
/// of preprocessing.
pub const LAMBDA_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;
/// `Content-Type` sent for an `/invocations` request that has none.
pub const DEFAULT_INVOCATIONS_CONTENT_TYPE: &str = "application/json";
/// `Content-Type` of the image routes' calls.
pub const DEFAULT_MODEL_CONTENT_TYPE: &str = "application/x-image";
/// `PREPROCESS_MAX_SIDE` when unset.
pub const DEFAULT_PREPROCESS_MAX_SIDE: u32 = 512;
/// The memory assumed outside Lambda, where `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` is unset: the
/// smallest the stack deploys, so local runs refuse what the smallest stage would.
pub const DEFAULT_FUNCTION_MEMORY_MB: u32 = 512;
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

/// Which routes a stage serves (`ROUTES`); `GET /health` is always on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routes {
    /// `POST /predictions` and `POST /`.
    pub predictions: bool,
    /// `POST /resize`.
    pub resize: bool,
    /// `POST /invocations` and `POST /models/{name}/invocations`.
    pub invocations: bool,
}

impl Default for Routes {
    fn default() -> Self {
        Self {
            predictions: true,
            resize: true,
            invocations: true,
        }
    }
}

impl Routes {
    /// The routes on, as a sentence fragment for messages.
    pub fn describe(&self) -> String {
        let mut served = vec!["GET /health"];
        if self.predictions {
            served.push("POST /predictions");
        }
        if self.resize {
            served.push("POST /resize");
        }
        if self.invocations {
            served.push("POST /invocations");
        }
        served.join(", ")
    }
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
    /// `ROUTES`: which routes are on (default: all).
    pub routes: Routes,
    /// `INVOCATIONS_CONTENT_TYPE`: `ContentType` for `/invocations` requests without one.
    pub invocations_content_type: String,
    /// `INVOCATIONS_ACCEPT`: `Accept` for `/invocations` requests without one (default: none).
    pub invocations_accept: Option<String>,
    /// `TARGET_INFERENCE_COMPONENT`, `TARGET_MODEL`, `TARGET_VARIANT`,
    /// `TARGET_CONTAINER_HOSTNAME`: where every call goes on the endpoint.
    pub target: Target,
    /// `MODELS`: the models `POST /models/{name}/invocations` may name, by public name.
    pub models: BTreeMap<String, Target>,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`: the function's memory in MB, which bounds image work.
    pub memory_mb: u32,
    /// `FAULT_INJECTION`: when `on`, a request with `x-sagefront-fault: panic` panics in the
    /// handler, so tests can prove a panic ends only its own request. Off unless set; the stack
    /// never sets it.
    pub fault_injection: bool,
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
            Some(v) => parse_positive("MAX_IMAGE_BYTES", &v, LAMBDA_PAYLOAD_LIMIT as u64)? as usize,
        };
        let invoke_timeout_ms = match get("INVOKE_TIMEOUT_MS") {
            None => DEFAULT_INVOKE_TIMEOUT_MS,
            Some(v) => parse_positive("INVOKE_TIMEOUT_MS", &v, INVOKE_TIMEOUT_CEILING_MS)?,
        };
        let model_content_type = media_type_var("MODEL_CONTENT_TYPE", get("MODEL_CONTENT_TYPE"))?
            .unwrap_or_else(|| DEFAULT_MODEL_CONTENT_TYPE.to_owned());
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
            None => DEFAULT_PREPROCESS_MAX_SIDE,
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

        let memory_mb = match get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") {
            None => DEFAULT_FUNCTION_MEMORY_MB,
            Some(v) => parse_positive("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", &v, 10_240)? as u32,
        };
        let fault_injection = match get("FAULT_INJECTION")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("off") => false,
            Some("on") => true,
            Some(other) => {
                return Err(ConfigError::new(
                    "FAULT_INJECTION",
                    format!("must be \"on\" or \"off\", got {other:?}"),
                ));
            }
        };

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
            routes: parse_routes(get("ROUTES"))?,
            invocations_content_type: media_type_var(
                "INVOCATIONS_CONTENT_TYPE",
                get("INVOCATIONS_CONTENT_TYPE"),
            )?
            .unwrap_or_else(|| DEFAULT_INVOCATIONS_CONTENT_TYPE.to_owned()),
            invocations_accept: media_type_var("INVOCATIONS_ACCEPT", get("INVOCATIONS_ACCEPT"))?,
            target: Target {
                inference_component: target_var(
                    "TARGET_INFERENCE_COMPONENT",
                    get("TARGET_INFERENCE_COMPONENT"),
                    TargetField::InferenceComponent,
                )?,
                target_model: target_var(
                    "TARGET_MODEL",
                    get("TARGET_MODEL"),
                    TargetField::TargetModel,
                )?,
                target_variant: target_var(
                    "TARGET_VARIANT",
                    get("TARGET_VARIANT"),
                    TargetField::Name,
                )?,
                target_container_hostname: target_var(
                    "TARGET_CONTAINER_HOSTNAME",
                    get("TARGET_CONTAINER_HOSTNAME"),
                    TargetField::Name,
                )?,
            },
            models: parse_models(get("MODELS"))?,
            memory_mb,
            fault_injection,
        })
    }
}

/// `ROUTES`: a comma-separated subset of `predictions`, `resize` and `invocations`.
fn parse_routes(value: Option<String>) -> Result<Routes, ConfigError> {
    let Some(value) = value else {
        return Ok(Routes::default());
    };
    let mut routes = Routes {
        predictions: false,
        resize: false,
        invocations: false,
    };
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name.to_ascii_lowercase().as_str() {
            "predictions" => routes.predictions = true,
            "resize" => routes.resize = true,
            "invocations" => routes.invocations = true,
            other => {
                return Err(ConfigError::new(
                    "ROUTES",
                    format!(
                        "must list routes among predictions, resize and invocations, got {other:?}"
                    ),
                ));
            }
        }
    }
    Ok(routes)
}

/// A media type (`MODEL_CONTENT_TYPE`, `INVOCATIONS_*`), as SageMaker takes it in a header.
fn media_type_var(
    variable: &'static str,
    value: Option<String>,
) -> Result<Option<String>, ConfigError> {
    match value {
        None => Ok(None),
        Some(v)
            if v.len() <= 1024
                && v.contains('/')
                && v.bytes().all(|b| (b' '..=b'~').contains(&b)) =>
        {
            Ok(Some(v))
        }
        Some(v) => Err(ConfigError::new(
            variable,
            format!("must be a media type such as application/json, got {v:?}"),
        )),
    }
}

/// Which of SageMaker's naming rules a target field follows.
#[derive(Debug, Clone, Copy)]
enum TargetField {
    /// `InferenceComponentName`: letters, digits and inner hyphens, at most 63.
    InferenceComponent,
    /// `TargetModel`: 1–1024 printable characters, not starting with a space.
    TargetModel,
    /// `TargetVariant`, `TargetContainerHostname`: like an endpoint name.
    Name,
}

impl TargetField {
    fn check(self, value: &str) -> Result<(), String> {
        let alnum_hyphen = |v: &str, max: usize| {
            !v.is_empty()
                && v.len() <= max
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !v.starts_with('-')
                && !v.ends_with('-')
        };
        let ok = match self {
            Self::InferenceComponent | Self::Name => alnum_hyphen(value, 63),
            Self::TargetModel => {
                value.len() <= 1024
                    && !value.starts_with(|c: char| c.is_whitespace())
                    && value.bytes().all(|b| (b' '..=b'~').contains(&b))
            }
        };
        if ok {
            Ok(())
        } else {
            Err(match self {
                Self::InferenceComponent | Self::Name => {
                    "must be 1-63 letters, digits and hyphens (not first or last)".to_owned()
                }
                Self::TargetModel => "must be 1-1024 printable ASCII characters".to_owned(),
            })
        }
    }
}

fn target_var(
    variable: &'static str,
    value: Option<String>,
    field: TargetField,
) -> Result<Option<String>, ConfigError> {
    match value {
        None => Ok(None),
        Some(v) => match field.check(&v) {
            Ok(()) => Ok(Some(v)),
            Err(problem) => Err(ConfigError::new(variable, format!("{problem}, got {v:?}"))),
        },
    }
}

/// Whether `name` may be a public model name (a path segment of `/models/{name}/invocations`).
pub fn is_model_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `MODELS`: `{"name": {"inferenceComponent": "...", ...}, ...}`.
fn parse_models(value: Option<String>) -> Result<BTreeMap<String, Target>, ConfigError> {
    let Some(value) = value else {
        return Ok(BTreeMap::new());
    };
    let models: BTreeMap<String, Target> = serde_json::from_str(&value).map_err(|e| {
        ConfigError::new(
            "MODELS",
            format!(
                "must be a JSON object of name → {{\"inferenceComponent\", \"targetModel\", \"targetVariant\", \"targetContainerHostname\"}}: {e}"
            ),
        )
    })?;
    for (name, target) in &models {
        if !is_model_name(name) {
            return Err(ConfigError::new(
                "MODELS",
                format!(
                    "model name {name:?} must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"
                ),
            ));
        }
        if target.is_empty() {
            return Err(ConfigError::new(
                "MODELS",
                format!(
                    "model {name:?} names no target (inferenceComponent, targetModel, targetVariant or targetContainerHostname)"
                ),
            ));
        }
        let fields = [
            (&target.inference_component, TargetField::InferenceComponent),
            (&target.target_model, TargetField::TargetModel),
            (&target.target_variant, TargetField::Name),
            (&target.target_container_hostname, TargetField::Name),
        ];
        for (value, field) in fields {
            if let Some(v) = value {
                field.check(v).map_err(|problem| {
                    ConfigError::new("MODELS", format!("model {name:?}: {v:?} {problem}"))
                })?;
            }
        }
    }
    Ok(models)
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
        assert_eq!(c.routes, Routes::default());
        assert_eq!(c.invocations_content_type, "application/json");
        assert_eq!(c.invocations_accept, None);
        assert!(c.target.is_empty());
        assert!(c.models.is_empty());
        assert_eq!(c.memory_mb, 512);
        assert!(!c.fault_injection);
    }

    #[test]
    fn routes_targets_and_models_are_read() {
        let c = config(&[
            ("ENDPOINT_NAME", "e"),
            ("ROUTES", " invocations , Predictions"),
            ("INVOCATIONS_CONTENT_TYPE", "text/csv"),
            ("INVOCATIONS_ACCEPT", "application/jsonlines"),
            ("TARGET_INFERENCE_COMPONENT", "default-ic"),
            ("TARGET_VARIANT", "AllTraffic"),
            (
                "MODELS",
                r#"{"llama": {"inferenceComponent": "llama-3-ic"}, "xgb.v2": {"targetModel": "xgb/v2.tar.gz"}}"#,
            ),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
            ("FAULT_INJECTION", "on"),
        ])
        .unwrap();
        assert_eq!(
            c.routes,
            Routes {
                predictions: true,
                resize: false,
                invocations: true
            }
        );
        assert_eq!(
            c.routes.describe(),
            "GET /health, POST /predictions, POST /invocations"
        );
        assert_eq!(c.invocations_content_type, "text/csv");
        assert_eq!(
            c.invocations_accept.as_deref(),
            Some("application/jsonlines")
        );
        assert_eq!(c.target.inference_component.as_deref(), Some("default-ic"));
        assert_eq!(c.target.target_variant.as_deref(), Some("AllTraffic"));
        assert_eq!(
            c.models["llama"].inference_component.as_deref(),
            Some("llama-3-ic")
        );
        assert_eq!(
            c.models["xgb.v2"].target_model.as_deref(),
            Some("xgb/v2.tar.gz")
        );
        assert_eq!(c.memory_mb, 1024);
        assert!(c.fault_injection);
    }

    #[test]
    fn bad_routes_targets_and_models_name_their_variable() {
        for (var, bad) in [
            ("ROUTES", "predictions,health"),
            ("TARGET_INFERENCE_COMPONENT", "under_score"),
            ("TARGET_VARIANT", "-lead"),
            ("TARGET_CONTAINER_HOSTNAME", &"a".repeat(64)),
            ("TARGET_MODEL", "tab\tin-name"),
            ("INVOCATIONS_CONTENT_TYPE", "json"),
            ("INVOCATIONS_ACCEPT", "caf\u{e9}/x"),
            ("MODELS", "[1, 2]"),
            ("MODELS", r#"{"a": {}}"#),
            ("MODELS", r#"{"a b": {"targetModel": "m"}}"#),
            ("MODELS", r#"{"a": {"inferenceComponent": "bad_name"}}"#),
            ("MODELS", r#"{"a": {"component": "x"}}"#),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots"),
            ("FAULT_INJECTION", "yes"),
        ] {
            let err = config(&[("ENDPOINT_NAME", "e"), (var, bad)]).unwrap_err();
            assert_eq!(err.variable, var, "{var}={bad}: {err}");
        }
    }

    #[test]
    fn an_empty_routes_list_serves_only_health() {
        let c = config(&[("ENDPOINT_NAME", "e"), ("ROUTES", ",")]).unwrap();
        assert_eq!(c.routes.describe(), "GET /health");
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

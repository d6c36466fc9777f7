//! SageMaker's per-invocation headers: read, checked against the service model's constraints,
//! and matched against what this server serves.
//!
//! `InvokeEndpoint` carries its optional members as headers (botocore's `sagemaker-runtime`
//! service model, `InvokeEndpointInput`): `X-Amzn-SageMaker-Inference-Component`,
//! `-Target-Model`, `-Target-Variant`, `-Target-Container-Hostname`, `-Inference-Id` and
//! `-Custom-Attributes`. SageMaker validates each against its shape's constraints before it
//! looks at the endpoint ([`InvocationHeaders::parse`]), then refuses a target the endpoint does
//! not have ([`Served::check`]). Both failures are `ValidationError`s; their messages are built
//! in [`crate::error`].

use axum::http::{HeaderMap, HeaderName, HeaderValue};

/// The variant name of a one-variant endpoint unless `--variant-name` says otherwise.
pub const DEFAULT_VARIANT: &str = "AllTraffic";

/// `InferenceComponentName`.
pub const INFERENCE_COMPONENT: HeaderName =
    HeaderName::from_static("x-amzn-sagemaker-inference-component");
/// `TargetModel`.
pub const TARGET_MODEL: HeaderName = HeaderName::from_static("x-amzn-sagemaker-target-model");
/// `TargetVariant`.
pub const TARGET_VARIANT: HeaderName = HeaderName::from_static("x-amzn-sagemaker-target-variant");
/// `TargetContainerHostname`.
pub const TARGET_CONTAINER_HOSTNAME: HeaderName =
    HeaderName::from_static("x-amzn-sagemaker-target-container-hostname");
/// `InferenceId`.
pub const INFERENCE_ID: HeaderName = HeaderName::from_static("x-amzn-sagemaker-inference-id");
/// `CustomAttributes`, in the request and (echoed) in the response.
pub const CUSTOM_ATTRIBUTES: HeaderName =
    HeaderName::from_static("x-amzn-sagemaker-custom-attributes");

/// The constraints of one member, from the service model's shapes.
struct Member {
    /// The header that carries it.
    header: HeaderName,
    /// The member's name as SageMaker's validation messages spell it (lower camel case).
    name: &'static str,
    /// Shortest valid length, when the shape has a `min`.
    min: Option<usize>,
    /// Longest valid length (`max`).
    max: usize,
    /// The shape's `pattern`, as the message quotes it.
    pattern: &'static str,
    /// Whether a value matches the pattern.
    matches: fn(&str) -> bool,
    /// A `sensitive` shape: messages never quote its value.
    sensitive: bool,
}

/// `[a-zA-Z0-9]`.
fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// `^[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?$`: alphanumerics and inner hyphens.
fn component_name(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            alnum(first) && alnum(last) && b.iter().all(|&c| alnum(c) || c == b'-')
        }
        _ => false,
    }
}

/// `^[a-zA-Z0-9](-*[a-zA-Z0-9])*` (whole value): the same language as [`component_name`].
fn endpoint_style_name(s: &str) -> bool {
    component_name(s)
}

/// `\A\S[\p{Print}]*\z`: printable ASCII, the first character not a space.
fn printable_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.first().is_some_and(u8::is_ascii_graphic) && b.iter().all(|&c| (0x20..=0x7e).contains(&c))
}

/// `\p{ASCII}*`, read with the documentation's "visible US-ASCII characters": printable ASCII,
/// spaces and tabs (the characters an HTTP field value may hold), no other control characters.
fn visible_ascii(s: &str) -> bool {
    s.bytes().all(|c| c == b'\t' || (0x20..=0x7e).contains(&c))
}

const INFERENCE_COMPONENT_MEMBER: Member = Member {
    header: INFERENCE_COMPONENT,
    name: "inferenceComponentName",
    min: None,
    max: 63,
    pattern: r"^[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?$",
    matches: component_name,
    sensitive: false,
};
const TARGET_MODEL_MEMBER: Member = Member {
    header: TARGET_MODEL,
    name: "targetModel",
    min: Some(1),
    max: 1024,
    pattern: r"\A\S[\p{Print}]*\z",
    matches: printable_id,
    sensitive: false,
};
const TARGET_VARIANT_MEMBER: Member = Member {
    header: TARGET_VARIANT,
    name: "targetVariant",
    min: None,
    max: 63,
    pattern: r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*",
    matches: endpoint_style_name,
    sensitive: false,
};
const TARGET_CONTAINER_HOSTNAME_MEMBER: Member = Member {
    header: TARGET_CONTAINER_HOSTNAME,
    name: "targetContainerHostname",
    min: None,
    max: 63,
    pattern: r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*",
    matches: endpoint_style_name,
    sensitive: false,
};
const INFERENCE_ID_MEMBER: Member = Member {
    header: INFERENCE_ID,
    name: "inferenceId",
    min: Some(1),
    max: 64,
    pattern: r"\A\S[\p{Print}]*\z",
    matches: printable_id,
    sensitive: false,
};
const CUSTOM_ATTRIBUTES_MEMBER: Member = Member {
    header: CUSTOM_ATTRIBUTES,
    name: "customAttributes",
    min: None,
    max: 1024,
    pattern: r"\p{ASCII}*",
    matches: visible_ascii,
    sensitive: true,
};

/// One failed constraint, worded as SageMaker words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(String);

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every constraint a request's headers failed (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violations(Vec<Violation>);

impl std::fmt::Display for Violations {
    /// AWS's validation message: `1 validation error detected: Value 'x' at 'inferenceId'
    /// failed to satisfy constraint: Member must have length less than or equal to 64`, the
    /// violations joined by `; ` when there are several (the form SageMaker Runtime answers
    /// for the body, e.g. aws/aws-sdk-js#4203).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.len();
        let noun = if n == 1 { "error" } else { "errors" };
        write!(f, "{n} validation {noun} detected: ")?;
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

impl Member {
    /// The value of this member's header, or the constraint it fails.
    fn read(&self, headers: &HeaderMap) -> Result<Option<String>, Violation> {
        let Some(raw) = headers.get(&self.header) else {
            return Ok(None);
        };
        let text = raw.to_str().ok();
        let shown = text.map_or_else(
            || String::from_utf8_lossy(raw.as_bytes()).into_owned(),
            str::to_owned,
        );
        let len = shown.chars().count();
        let constraint = if let Some(min) = self.min.filter(|&min| len < min) {
            format!("Member must have length greater than or equal to {min}")
        } else if len > self.max {
            format!("Member must have length less than or equal to {}", self.max)
        } else if !text.is_some_and(self.matches) {
            format!(
                "Member must satisfy regular expression pattern: {}",
                self.pattern
            )
        } else {
            return Ok(Some(shown));
        };
        let value = if self.sensitive {
            String::new()
        } else {
            format!(" '{shown}'")
        };
        Err(Violation(format!(
            "Value{value} at '{}' failed to satisfy constraint: {constraint}",
            self.name
        )))
    }
}

/// The SageMaker headers of one request, each within its shape's constraints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvocationHeaders {
    /// `X-Amzn-SageMaker-Inference-Component`.
    pub inference_component: Option<String>,
    /// `X-Amzn-SageMaker-Target-Model`.
    pub target_model: Option<String>,
    /// `X-Amzn-SageMaker-Target-Variant`.
    pub target_variant: Option<String>,
    /// `X-Amzn-SageMaker-Target-Container-Hostname`.
    pub target_container_hostname: Option<String>,
    /// `X-Amzn-SageMaker-Inference-Id`.
    pub inference_id: Option<String>,
    /// `X-Amzn-SageMaker-Custom-Attributes`.
    pub custom_attributes: Option<String>,
}

impl InvocationHeaders {
    /// Reads the headers, checking each against its shape's length and pattern.
    ///
    /// # Errors
    /// Every constraint that failed, as SageMaker lists them.
    pub fn parse(headers: &HeaderMap) -> Result<Self, Violations> {
        let mut violations = Vec::new();
        let mut read = |member: &Member| {
            member.read(headers).unwrap_or_else(|v| {
                violations.push(v);
                None
            })
        };
        let parsed = Self {
            inference_component: read(&INFERENCE_COMPONENT_MEMBER),
            target_model: read(&TARGET_MODEL_MEMBER),
            target_variant: read(&TARGET_VARIANT_MEMBER),
            target_container_hostname: read(&TARGET_CONTAINER_HOSTNAME_MEMBER),
            inference_id: read(&INFERENCE_ID_MEMBER),
            custom_attributes: read(&CUSTOM_ATTRIBUTES_MEMBER),
        };
        if violations.is_empty() {
            Ok(parsed)
        } else {
            Err(Violations(violations))
        }
    }

    /// The `X-Amzn-SageMaker-Custom-Attributes` response header echoing the request's.
    #[must_use]
    pub fn echo(&self) -> Option<(HeaderName, HeaderValue)> {
        let value = HeaderValue::from_str(self.custom_attributes.as_deref()?).ok()?;
        Some((CUSTOM_ATTRIBUTES, value))
    }
}

/// A target the endpoint does not have, or a target it requires and the request lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// An inference component was named, but the endpoint has none.
    #[error("inference component header on an endpoint without inference components")]
    ComponentNotAllowed,
    /// A target model was named, but the endpoint is not a multi-model endpoint.
    #[error("target model header on an endpoint that is not a multi-model endpoint")]
    TargetModelNotSupported,
    /// The endpoint serves named models and the request names none.
    #[error("no inference component or target model named")]
    ModelMissing,
    /// The named inference component is not served.
    #[error("unknown inference component {0}")]
    UnknownComponent(String),
    /// The named target model is not served.
    #[error("unknown target model {0}")]
    UnknownTargetModel(String),
    /// The named variant is not the endpoint's.
    #[error("unknown variant {0}")]
    UnknownVariant(String),
    /// A container hostname was named, but the endpoint has no direct invocation.
    #[error("target container hostname header on an endpoint without direct invocation")]
    HostnameNotSupported,
    /// The endpoint uses direct invocation and the request names no container.
    #[error("no target container hostname named")]
    HostnameMissing,
    /// The named container is not served.
    #[error("unknown target container hostname {0}")]
    UnknownHostname(String),
}

/// What every endpoint of this server serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// The inference components and target models (`--model-name`). Empty: a plain endpoint,
    /// where naming either is refused. Otherwise every request names one of these.
    pub models: Vec<String>,
    /// The one production variant (`--variant-name`).
    pub variant: String,
    /// The containers of a direct-invocation endpoint (`--container-hostname`). Empty: the
    /// header is refused. Otherwise every request names one of these.
    pub container_hostnames: Vec<String>,
}

impl Default for Served {
    fn default() -> Self {
        Self {
            models: Vec::new(),
            variant: DEFAULT_VARIANT.to_owned(),
            container_hostnames: Vec::new(),
        }
    }
}

impl Served {
    /// Whether the request's targets are served.
    ///
    /// # Errors
    /// The first target the endpoint refuses, in this order: inference component, target
    /// model, a missing model name, variant, container hostname.
    pub fn check(&self, h: &InvocationHeaders) -> Result<(), TargetError> {
        let known = |name: &String| self.models.contains(name);
        if let Some(ic) = &h.inference_component {
            if self.models.is_empty() {
                return Err(TargetError::ComponentNotAllowed);
            }
            if !known(ic) {
                return Err(TargetError::UnknownComponent(ic.clone()));
            }
        }
        if let Some(tm) = &h.target_model {
            if self.models.is_empty() {
                return Err(TargetError::TargetModelNotSupported);
            }
            if !known(tm) {
                return Err(TargetError::UnknownTargetModel(tm.clone()));
            }
        }
        if !self.models.is_empty() && h.inference_component.is_none() && h.target_model.is_none() {
            return Err(TargetError::ModelMissing);
        }
        if let Some(variant) = &h.target_variant
            && *variant != self.variant
        {
            return Err(TargetError::UnknownVariant(variant.clone()));
        }
        match (
            &h.target_container_hostname,
            self.container_hostnames.is_empty(),
        ) {
            (Some(_), true) => Err(TargetError::HostnameNotSupported),
            (None, false) => Err(TargetError::HostnameMissing),
            (Some(host), false) if !self.container_hostnames.contains(host) => {
                Err(TargetError::UnknownHostname(host.clone()))
            }
            _ => Ok(()),
        }
    }
}

/// Whether `name` can be served as a model: a valid `TargetModel` (1–1024 printable ASCII, no
/// leading space) without a comma (the flag's separator). Names that are also valid inference
/// component names (alphanumerics and inner hyphens, at most 63) answer to both headers.
#[must_use]
pub fn valid_model_name(name: &str) -> bool {
    (1..=1024).contains(&name.len()) && printable_id(name) && !name.contains(',')
}

/// Whether `name` is a valid variant or container hostname (alphanumerics and inner hyphens,
/// at most 63).
#[must_use]
pub fn valid_variant_name(name: &str) -> bool {
    name.len() <= 63 && endpoint_style_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(HeaderName, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    fn parse(pairs: &[(HeaderName, &[u8])]) -> Result<InvocationHeaders, String> {
        InvocationHeaders::parse(&headers(pairs)).map_err(|v| v.to_string())
    }

    #[test]
    fn absent_headers_parse_to_nothing() {
        assert_eq!(parse(&[]), Ok(InvocationHeaders::default()));
    }

    #[test]
    fn valid_values_are_kept() {
        let h = parse(&[
            (INFERENCE_COMPONENT, b"ic-1"),
            (TARGET_MODEL, b"models/a.tar.gz"),
            (TARGET_VARIANT, b"AllTraffic"),
            (TARGET_CONTAINER_HOSTNAME, b"container-2"),
            (INFERENCE_ID, b"req 42/x"),
            (CUSTOM_ATTRIBUTES, b"accept_eula=true; trace=\"a b\""),
        ])
        .unwrap();
        assert_eq!(h.inference_component.as_deref(), Some("ic-1"));
        assert_eq!(h.target_model.as_deref(), Some("models/a.tar.gz"));
        assert_eq!(h.target_variant.as_deref(), Some("AllTraffic"));
        assert_eq!(h.target_container_hostname.as_deref(), Some("container-2"));
        assert_eq!(h.inference_id.as_deref(), Some("req 42/x"));
        assert_eq!(
            h.echo().unwrap().1,
            HeaderValue::from_static("accept_eula=true; trace=\"a b\"")
        );
    }

    #[test]
    fn inference_id_is_1_to_64_printable_characters() {
        assert!(parse(&[(INFERENCE_ID, &[b'a'; 64])]).is_ok());
        assert_eq!(
            parse(&[(INFERENCE_ID, &[b'a'; 65])]),
            Err(format!(
                "1 validation error detected: Value '{}' at 'inferenceId' failed to satisfy \
                 constraint: Member must have length less than or equal to 64",
                "a".repeat(65)
            ))
        );
        assert_eq!(
            parse(&[(INFERENCE_ID, b"")]),
            Err(
                "1 validation error detected: Value '' at 'inferenceId' failed to satisfy \
                 constraint: Member must have length greater than or equal to 1"
                    .to_owned()
            )
        );
        let non_ascii = parse(&[(INFERENCE_ID, "caf\u{e9}".as_bytes())]).unwrap_err();
        assert!(
            non_ascii
                .ends_with(r"Member must satisfy regular expression pattern: \A\S[\p{Print}]*\z"),
            "{non_ascii}"
        );
        assert!(parse(&[(INFERENCE_ID, b"a\tb")]).is_err());
    }

    #[test]
    fn custom_attributes_are_at_most_1024_visible_ascii_and_never_quoted() {
        assert!(parse(&[(CUSTOM_ATTRIBUTES, &[b'x'; 1024])]).is_ok());
        assert!(parse(&[(CUSTOM_ATTRIBUTES, b"")]).is_ok());
        assert_eq!(
            parse(&[(CUSTOM_ATTRIBUTES, &[b'x'; 1025])]),
            Err(
                "1 validation error detected: Value at 'customAttributes' failed to satisfy \
                 constraint: Member must have length less than or equal to 1024"
                    .to_owned()
            )
        );
        let err = parse(&[(CUSTOM_ATTRIBUTES, "secret \u{e9}".as_bytes())]).unwrap_err();
        assert!(!err.contains("secret"), "{err}");
        assert!(err.ends_with(r"pattern: \p{ASCII}*"), "{err}");
    }

    #[test]
    fn names_follow_their_patterns() {
        for bad in [&b"-ic"[..], b"ic-", b"ic_1", b""] {
            assert!(parse(&[(INFERENCE_COMPONENT, bad)]).is_err(), "{bad:?}");
            assert!(parse(&[(TARGET_VARIANT, bad)]).is_err(), "{bad:?}");
            assert!(
                parse(&[(TARGET_CONTAINER_HOSTNAME, bad)]).is_err(),
                "{bad:?}"
            );
        }
        assert!(parse(&[(INFERENCE_COMPONENT, &[b'a'; 64])]).is_err());
        assert!(parse(&[(TARGET_MODEL, &[b'm'; 1025])]).is_err());
        assert!(parse(&[(TARGET_MODEL, b" leading-space")]).is_err());
    }

    #[test]
    fn every_violation_is_listed() {
        let err = parse(&[(INFERENCE_COMPONENT, b"bad_name"), (INFERENCE_ID, b"")]).unwrap_err();
        assert!(
            err.starts_with(
                "2 validation errors detected: Value 'bad_name' at 'inferenceComponentName'"
            ),
            "{err}"
        );
        assert!(err.contains("; Value '' at 'inferenceId'"), "{err}");
    }

    fn served(models: &[&str], hosts: &[&str]) -> Served {
        Served {
            models: models.iter().map(|s| (*s).to_owned()).collect(),
            container_hostnames: hosts.iter().map(|s| (*s).to_owned()).collect(),
            ..Served::default()
        }
    }

    fn targets(ic: Option<&str>, tm: Option<&str>) -> InvocationHeaders {
        InvocationHeaders {
            inference_component: ic.map(str::to_owned),
            target_model: tm.map(str::to_owned),
            ..InvocationHeaders::default()
        }
    }

    #[test]
    fn a_plain_endpoint_refuses_components_and_target_models() {
        let plain = served(&[], &[]);
        assert_eq!(plain.check(&targets(None, None)), Ok(()));
        assert_eq!(
            plain.check(&targets(Some("a"), None)),
            Err(TargetError::ComponentNotAllowed)
        );
        assert_eq!(
            plain.check(&targets(None, Some("a"))),
            Err(TargetError::TargetModelNotSupported)
        );
    }

    #[test]
    fn an_endpoint_with_models_requires_a_served_name() {
        let named = served(&["a", "b"], &[]);
        assert_eq!(named.check(&targets(Some("a"), None)), Ok(()));
        assert_eq!(named.check(&targets(None, Some("b"))), Ok(()));
        assert_eq!(named.check(&targets(Some("a"), Some("b"))), Ok(()));
        assert_eq!(
            named.check(&targets(None, None)),
            Err(TargetError::ModelMissing)
        );
        assert_eq!(
            named.check(&targets(Some("c"), None)),
            Err(TargetError::UnknownComponent("c".to_owned()))
        );
        assert_eq!(
            named.check(&targets(Some("a"), Some("c"))),
            Err(TargetError::UnknownTargetModel("c".to_owned()))
        );
    }

    #[test]
    fn only_the_endpoints_variant_is_served() {
        let plain = served(&[], &[]);
        let with = |v: &str| InvocationHeaders {
            target_variant: Some(v.to_owned()),
            ..InvocationHeaders::default()
        };
        assert_eq!(plain.check(&with("AllTraffic")), Ok(()));
        assert_eq!(
            plain.check(&with("Canary")),
            Err(TargetError::UnknownVariant("Canary".to_owned()))
        );
    }

    #[test]
    fn container_hostnames_are_refused_or_required() {
        let with = |h: Option<&str>| InvocationHeaders {
            target_container_hostname: h.map(str::to_owned),
            ..InvocationHeaders::default()
        };
        assert_eq!(
            served(&[], &[]).check(&with(Some("c1"))),
            Err(TargetError::HostnameNotSupported)
        );
        let direct = served(&[], &["c1", "c2"]);
        assert_eq!(direct.check(&with(Some("c2"))), Ok(()));
        assert_eq!(direct.check(&with(None)), Err(TargetError::HostnameMissing));
        assert_eq!(
            direct.check(&with(Some("c3"))),
            Err(TargetError::UnknownHostname("c3".to_owned()))
        );
    }

    #[test]
    fn flag_values_are_checked() {
        assert!(valid_model_name("model.tar.gz"));
        assert!(!valid_model_name(""));
        assert!(!valid_model_name("a,b"));
        assert!(!valid_model_name(" a"));
        assert!(valid_variant_name("AllTraffic"));
        assert!(!valid_variant_name("All_Traffic"));
    }
}

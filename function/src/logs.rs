//! The function's log output: one JSON object per line when Lambda's log format is JSON, at
//! Lambda's application log level.
//!
//! The format is exactly `lambda_http::tracing::init_default_subscriber`'s (tracing-subscriber's
//! formatter, no target, no timestamp: Lambda adds one), which the stack's metric filters read.
//! It is set up here instead because that function builds an `EnvFilter`, whose regex engine
//! is ~250 KB of the binary, for a level that Lambda gives as one word; here `RUST_LOG` is a
//! level too, not a list of directives.

use std::str::FromStr;

use tracing_subscriber::filter::LevelFilter;

/// How the process logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    /// `AWS_LAMBDA_LOG_LEVEL` (set from the function's application log level), else
    /// `RUST_LOG`, else `INFO`. Lambda's `FATAL` is `ERROR`.
    pub level: LevelFilter,
    /// `AWS_LAMBDA_LOG_FORMAT=JSON`.
    pub json: bool,
}

impl LogSettings {
    /// Reads the settings through `lookup` (the environment in `main`).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let level = lookup("AWS_LAMBDA_LOG_LEVEL")
            .or_else(|| lookup("RUST_LOG"))
            .map(|v| v.trim().to_ascii_lowercase())
            .map(|v| match v.as_str() {
                "fatal" => LevelFilter::ERROR,
                other => LevelFilter::from_str(other).unwrap_or(LevelFilter::INFO),
            })
            .unwrap_or(LevelFilter::INFO);
        let json = lookup("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
        Self { level, json }
    }

    /// Installs the process's subscriber, writing to stdout.
    pub fn init(self) {
        // No ANSI colours: CloudWatch shows escape codes as text, and the stack's metric filters
        // match the plain line (tracing-subscriber colours by default, terminal or not).
        let subscriber = tracing_subscriber::fmt()
            .with_target(false)
            .without_time()
            .with_ansi(false)
            .with_max_level(self.level);
        if self.json {
            subscriber.json().init();
        } else {
            subscriber.init();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> LogSettings {
        LogSettings::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn lambdas_level_and_format_are_honoured() {
        assert_eq!(
            settings(&[]),
            LogSettings {
                level: LevelFilter::INFO,
                json: false
            }
        );
        let s = settings(&[
            ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
            ("RUST_LOG", "error"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ]);
        assert_eq!((s.level, s.json), (LevelFilter::DEBUG, true));
        assert_eq!(settings(&[("RUST_LOG", "warn")]).level, LevelFilter::WARN);
        assert_eq!(
            settings(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]).level,
            LevelFilter::ERROR
        );
        // A directive list is not a level: the default applies.
        assert_eq!(
            settings(&[("RUST_LOG", "hyper=debug,info")]).level,
            LevelFilter::INFO
        );
        assert!(!settings(&[("AWS_LAMBDA_LOG_FORMAT", "Text")]).json);
    }
}

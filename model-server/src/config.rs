//! The command line, read once at start-up (flags, with environment variables as defaults).
//!
//! `sagefront-model-server [serve] [--model-dir DIR] [--bind ADDR] [--port PORT]
//! [--endpoint-name NAME]... [--model-name NAME]... [--variant-name NAME]
//! [--container-hostname NAME]...` — SageMaker starts containers as `docker run IMAGE serve`, so
//! the `serve` word is accepted and also implied. Two tool subcommands serve tests and benchmarks:
//! `logits` (reference comparison) and `bench`.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::invocation::{DEFAULT_VARIANT, valid_model_name, valid_variant_name};

/// SageMaker-compatible inference server for EfficientNet-Lite0 (ImageNet-1k).
#[derive(Debug, Parser)]
#[command(
    name = "sagefront-model-server",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Server options when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

impl Cli {
    /// The command to run, `serve` when none was named.
    #[must_use]
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Serve(self.serve))
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve HTTP (what SageMaker runs).
    Serve(ServeArgs),
    /// Write the preprocessed input and logits of one image to a safetensors file (for the
    /// float64 reference tests).
    Logits(LogitsArgs),
    /// Measure model load time, per-image latency and peak memory.
    Bench(BenchArgs),
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (CloudWatch).
    Json,
    /// Human-readable text.
    Text,
}

/// Options of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Directory holding model.safetensors (SageMaker unpacks model data to /opt/ml/model).
    #[arg(long, env = "SAGEFRONT_MODEL_DIR", default_value = "/opt/ml/model")]
    pub model_dir: PathBuf,
    /// Address to listen on (SageMaker needs 0.0.0.0; local scripts pass 127.0.0.1).
    #[arg(long, env = "SAGEFRONT_BIND", default_value = "0.0.0.0")]
    pub bind: IpAddr,
    /// Port to listen on; 0 picks a free one (the log line "listening" names it).
    #[arg(long, env = "SAGEMAKER_BIND_TO_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Endpoint name served on /endpoints/{name}/invocations (repeatable, or comma-separated
    /// in the variable).
    #[arg(
        long = "endpoint-name",
        env = "SAGEFRONT_ENDPOINT_NAMES",
        value_delimiter = ',',
        default_value = "sagefront-local"
    )]
    pub endpoint_names: Vec<String>,
    /// Inference components / target models every endpoint serves (repeatable, or
    /// comma-separated). None: a plain endpoint, where both headers are refused. Some: every
    /// invocation must name one of them in either header.
    #[arg(
        long = "model-name",
        env = "SAGEFRONT_MODEL_NAMES",
        value_delimiter = ',',
        value_parser = model_name
    )]
    pub model_names: Vec<String>,
    /// The endpoints' one production variant: the only `TargetVariant` served, and the
    /// `InvokedProductionVariant` answered.
    #[arg(long, env = "SAGEFRONT_VARIANT_NAME", default_value = DEFAULT_VARIANT, value_parser = variant_name)]
    pub variant_name: String,
    /// Containers of a direct-invocation endpoint (repeatable, or comma-separated). None: the
    /// `TargetContainerHostname` header is refused. Some: every invocation must name one.
    #[arg(
        long = "container-hostname",
        env = "SAGEFRONT_CONTAINER_HOSTNAMES",
        value_delimiter = ',',
        value_parser = variant_name
    )]
    pub container_hostnames: Vec<String>,
    /// Most inferences at once (default: the number of CPUs).
    #[arg(long, env = "SAGEFRONT_MAX_CONCURRENCY", value_parser = clap::value_parser!(u16).range(1..))]
    pub max_concurrency: Option<u16>,
    /// Log format.
    #[arg(long, env = "SAGEFRONT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// Test only: serve `GET`/`PUT /faults` and inject the fault set there into runtime
    /// invocations. A flag with no environment variable, so nothing turns it on by accident.
    #[arg(long)]
    pub fault_injection: bool,
}

/// A `--model-name` value: a valid `TargetModel` (1–1024 printable ASCII characters, not
/// starting with a space).
fn model_name(value: &str) -> Result<String, String> {
    if valid_model_name(value) {
        Ok(value.to_owned())
    } else {
        Err(
            "a model name is 1 to 1024 printable ASCII characters, not starting with a space \
             (names that should answer to X-Amzn-SageMaker-Inference-Component: letters, digits \
             and inner hyphens, at most 63)"
                .to_owned(),
        )
    }
}

/// A `--variant-name` or `--container-hostname` value (SageMaker's name pattern).
fn variant_name(value: &str) -> Result<String, String> {
    if valid_variant_name(value) {
        Ok(value.to_owned())
    } else {
        Err("letters, digits and inner hyphens, at most 63 characters".to_owned())
    }
}

/// Options of `logits`.
#[derive(Debug, Clone, Args)]
pub struct LogitsArgs {
    /// Directory holding model.safetensors.
    #[arg(long, env = "SAGEFRONT_MODEL_DIR", default_value = "/opt/ml/model")]
    pub model_dir: PathBuf,
    /// Output safetensors file with tensors `input` (3, 224, 224), `logits` and `probabilities`.
    #[arg(long)]
    pub out: PathBuf,
    /// The image file (JPEG, PNG or WebP).
    pub image: PathBuf,
}

/// Options of `bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Directory holding model.safetensors.
    #[arg(long, env = "SAGEFRONT_MODEL_DIR", default_value = "/opt/ml/model")]
    pub model_dir: PathBuf,
    /// Timed iterations per measurement.
    #[arg(long, default_value_t = 200)]
    pub iterations: usize,
    /// Threads for the concurrent measurement.
    #[arg(long, default_value_t = 2)]
    pub concurrency: usize,
    /// Image to classify end to end (default: a synthetic 640x480 JPEG).
    pub image: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_args(argv: &[&str]) -> ServeArgs {
        match Cli::try_parse_from(argv).unwrap().into_command() {
            Command::Serve(args) => args,
            other => panic!("expected serve, got {other:?}"),
        }
    }

    #[test]
    fn serve_is_the_default_and_accepted_as_a_word() {
        let bare = serve_args(&["sagefront-model-server", "--port", "9000"]);
        let word = serve_args(&["sagefront-model-server", "serve", "--port", "9000"]);
        assert_eq!(bare.port, 9000);
        assert_eq!(word.port, 9000);
        assert_eq!(word.endpoint_names, vec!["sagefront-local"]);
    }

    #[test]
    fn endpoint_names_repeat() {
        let args = serve_args(&["x", "--endpoint-name", "a", "--endpoint-name", "b,c"]);
        assert_eq!(args.endpoint_names, vec!["a", "b", "c"]);
    }

    #[test]
    fn targets_default_to_a_plain_one_variant_endpoint() {
        let args = serve_args(&["x"]);
        assert!(args.model_names.is_empty());
        assert!(args.container_hostnames.is_empty());
        assert_eq!(args.variant_name, "AllTraffic");
    }

    #[test]
    fn model_names_and_hostnames_repeat_or_split_on_commas() {
        let args = serve_args(&[
            "x",
            "--model-name",
            "ic-a,ic-b",
            "--model-name",
            "models/c.tar.gz",
            "--container-hostname",
            "c1,c2",
            "--variant-name",
            "Blue",
        ]);
        assert_eq!(args.model_names, vec!["ic-a", "ic-b", "models/c.tar.gz"]);
        assert_eq!(args.container_hostnames, vec!["c1", "c2"]);
        assert_eq!(args.variant_name, "Blue");
    }

    #[test]
    fn malformed_target_names_are_refused() {
        for argv in [
            ["x", "--model-name", ""],
            ["x", "--model-name", "a,,b"],
            ["x", "--variant-name", "all_traffic"],
            ["x", "--container-hostname", "-c1"],
        ] {
            assert!(Cli::try_parse_from(argv).is_err(), "{argv:?}");
        }
    }

    #[test]
    fn zero_concurrency_is_refused() {
        assert!(Cli::try_parse_from(["x", "--max-concurrency", "0"]).is_err());
    }
}

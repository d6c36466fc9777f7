//! sagefront-model-server: a SageMaker-compatible inference server for EfficientNet-Lite0
//! (ImageNet-1k) on the CPU with candle.
//!
//! - [`model`] and [`kernels`]: the network and its hand-written kernels.
//! - [`preprocess`]: image bytes to the input tensor, with decoding limits.
//! - [`classifier`]: the seam between HTTP and the model.
//! - [`server`] and [`error`]: routes, and errors shaped as SageMaker's; [`invocation`]: the
//!   SageMaker request headers (targets, inference id, custom attributes).
//! - [`config`]: the command line; [`tools`]: the `logits` and `bench` subcommands.

pub mod classifier;
pub mod config;
pub mod error;
pub mod faults;
pub mod invocation;
pub mod kernels;
pub mod model;
pub mod preprocess;
pub mod server;
pub mod tools;

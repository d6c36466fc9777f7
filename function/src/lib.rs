//! sagefront's Lambda function: an HTTP API in front of a SageMaker endpoint.
//!
//! `main.rs` wires the pieces and hands [`api::App`] to `lambda_http`, which owns the Lambda
//! Runtime API. Everything testable lives here:
//!
//! - [`api`]: routing, the routes (predictions, resize, invocations), responses, panics;
//! - [`request`]: reading headers, query parameters and bodies (JSON, base64, raw images);
//! - [`image`]: formats, resize specs, the memory budget, the decode–resize–encode pipeline;
//! - [`model`]: the endpoint seam and its SageMaker adapter, model output, top-k, labels;
//! - [`config`] (environment, read once), [`error`] (the contract's errors) and [`logs`] (the
//!   log format);
//! - [`fuzzing`]: the entry points the fuzz targets and their corpus test share.

pub mod api;
pub mod config;
pub mod error;
pub mod fuzzing;
pub mod image;
pub mod logs;
pub mod model;
pub mod request;

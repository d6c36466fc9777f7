//! sagefront's Lambda function: an HTTP API in front of a SageMaker image classifier.
//!
//! `main.rs` wires the pieces; everything testable lives here:
//! [`config`] (environment, read once), [`routes`] (stage-independent routing), [`request`]
//! (JSON, base64 and raw bodies), [`image_kind`] (magic bytes), [`imaging`] (decode, resize,
//! encode for `/resize` and preprocessing), [`endpoint`] (the trait seam to
//! the model), [`sagemaker`] (the AWS SDK adapter), [`model_output`] (parsing without eval),
//! [`top_k`] (partial selection), [`labels`], [`error`] (the contract's errors), [`handler`], and
//! the Lambda side: [`runtime`] (the Runtime API loop), [`event`] (events read without
//! copying their body) and [`memory`] (malloc settings).

pub mod config;
pub mod endpoint;
pub mod error;
pub mod event;
pub mod fuzzing;
pub mod handler;
pub mod image_kind;
pub mod imaging;
pub mod labels;
pub mod memory;
pub mod model_output;
pub mod request;
pub mod routes;
pub mod runtime;
pub mod sagemaker;
pub mod top_k;

//! The model side: the [`endpoint::Endpoint`] seam and its SageMaker adapter, and what the image
//! routes make of a model's answer (parsed scores, top-k, labels).

pub mod endpoint;
pub mod labels;
pub mod output;
pub mod sagemaker;
pub mod top_k;

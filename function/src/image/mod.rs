//! Images: what a body's bytes are ([`kind`]), what a request asks to make of them ([`spec`]),
//! the memory that takes ([`budget`]), and the decode–resize–encode [`pipeline`].

pub mod budget;
pub mod kind;
pub mod pipeline;
pub mod spec;

pub use budget::MemoryBudget;
pub use kind::ImageKind;
pub use pipeline::{Encoded, transform};
pub use spec::{Fit, OutputFormat, Spec};

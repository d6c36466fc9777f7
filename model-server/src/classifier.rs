//! The seam between the HTTP layer and the model: image bytes in, class probabilities out.
//!
//! The server only knows the [`Classifier`] trait, so router tests run against a hand-written
//! fake without weights, and the real [`ImageClassifier`] joins preprocessing and the network.

use std::path::{Path, PathBuf};

use candle_core::Tensor;

use crate::model::{EfficientNetLite0, ModelError, softmax};
use crate::preprocess::{ImageError, ImageLimits, image_to_tensor};

/// File name of the converted weights inside the model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// File name of the class names inside the model directory (one per line).
pub const LABELS_FILE: &str = "labels.txt";

/// Why an image could not be classified.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// The image is unusable: the client's fault.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The model failed on a valid image: a bug or resource problem.
    #[error("inference failed: {0}")]
    Inference(#[from] ModelError),
}

/// Something that turns encoded image bytes into one probability per class.
pub trait Classifier: Send + Sync + 'static {
    /// Classifies one encoded image (JPEG, PNG or WebP).
    ///
    /// # Errors
    /// [`ClassifyError::Image`] for unusable input, [`ClassifyError::Inference`] otherwise.
    fn classify(&self, image: &[u8]) -> Result<Vec<f32>, ClassifyError>;
}

/// EfficientNet-Lite0 with its preprocessing.
#[derive(Debug)]
pub struct ImageClassifier {
    model: EfficientNetLite0,
    limits: ImageLimits,
}

impl ImageClassifier {
    /// Loads the weights from `model_dir`/[`WEIGHTS_FILE`].
    ///
    /// # Errors
    /// [`ModelError`] when the weights are missing or do not fit the architecture.
    pub fn load(model_dir: &Path, limits: ImageLimits) -> Result<Self, ModelError> {
        let model = EfficientNetLite0::load(&weights_path(model_dir))?;
        Ok(Self { model, limits })
    }

    /// The model itself, for benchmarks and tests that bypass preprocessing.
    #[must_use]
    pub fn model(&self) -> &EfficientNetLite0 {
        &self.model
    }

    /// Preprocesses `image` and returns the input tensor with the logits (for reference tests).
    ///
    /// # Errors
    /// As [`Classifier::classify`].
    pub fn input_and_logits(&self, image: &[u8]) -> Result<(Tensor, Vec<f32>), ClassifyError> {
        let input = image_to_tensor(image, self.limits)?;
        let logits = self.model.forward(&input)?;
        Ok((input, logits))
    }
}

impl Classifier for ImageClassifier {
    fn classify(&self, image: &[u8]) -> Result<Vec<f32>, ClassifyError> {
        let (_, logits) = self.input_and_logits(image)?;
        Ok(softmax(&logits))
    }
}

/// The weights file inside a model directory.
#[must_use]
pub fn weights_path(model_dir: &Path) -> PathBuf {
    model_dir.join(WEIGHTS_FILE)
}

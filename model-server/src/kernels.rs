//! Hand-written CPU kernels that candle lacks or runs slowly, as candle custom ops.
//!
//! - [`Depthwise`]: a fused depthwise convolution (TensorFlow "SAME" padding, per-channel bias,
//!   optional ReLU6). candle's grouped `conv2d` runs one tiny convolution per channel, about
//!   twenty times slower than this loop for EfficientNet's depthwise layers.
//! - [`Im2col`]: patch extraction with SAME padding, so a dense convolution becomes one matrix
//!   product (used by the stem).
//! - [`BiasAct`]: in-place per-row bias and optional ReLU6 after a matrix product.
//!
//! All three work on contiguous `f32` tensors laid out as (channels, height, width), which is how
//! the model keeps its activations (batch size 1).

use candle_core::{CpuStorage, CustomOp1, InplaceOp1, Layout, Shape};

/// TensorFlow "SAME" padding along one axis: `(output size, padding before)`.
///
/// The total padding is `max((ceil(size / stride) - 1) * stride + kernel - size, 0)`; half of
/// it (rounded down) goes before, the rest after, so stride-2 layers pad asymmetrically.
#[must_use]
pub fn same_padding(size: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let out = size.div_ceil(stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(size);
    (out, total / 2)
}

/// Borrows the contiguous `f32` data and (channels, height, width) of a custom op's input.
fn chw_input<'a>(
    op: &str,
    storage: &'a CpuStorage,
    layout: &Layout,
) -> candle_core::Result<(&'a [f32], usize, usize, usize)> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("{op}: expected f32 input")
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{op}: expected a contiguous input")
    };
    let &[c, h, w] = layout.dims() else {
        candle_core::bail!(
            "{op}: expected a (channels, height, width) input, got {:?}",
            layout.dims()
        )
    };
    Ok((&data[start..end], c, h, w))
}

/// Elements of the output plane processed per pass over the kernel taps (8 KiB of f32).
const WIDE_CHUNK: usize = 2048;

/// A depthwise convolution fused with its (folded batch-norm) bias and activation.
#[derive(Debug, Clone)]
pub struct Depthwise {
    /// Weights, `channels × kernel × kernel`, row-major per channel.
    weight: Vec<f32>,
    /// One bias per channel.
    bias: Vec<f32>,
    kernel: usize,
    stride: usize,
    relu6: bool,
}

impl Depthwise {
    /// Builds the op from per-channel `kernel × kernel` weights and biases.
    ///
    /// # Panics
    /// When the weight count is not `bias.len() * kernel * kernel` (a programming error: the
    /// loader checks shapes first).
    #[must_use]
    pub fn new(
        weight: Vec<f32>,
        bias: Vec<f32>,
        kernel: usize,
        stride: usize,
        relu6: bool,
    ) -> Self {
        assert_eq!(
            weight.len(),
            bias.len() * kernel * kernel,
            "depthwise weight shape"
        );
        assert!(
            kernel > 0 && stride > 0,
            "depthwise kernel and stride must be positive"
        );
        Self {
            weight,
            bias,
            kernel,
            stride,
            relu6,
        }
    }

    /// Runs the convolution on one (channels, height, width) image.
    /// Returns the output and its height and width.
    ///
    /// Each channel is copied once into `stride²` zero-padded "phase" planes (rows and
    /// columns split by their index modulo the stride). In those, every kernel tap reads one
    /// contiguous run, so a tap is a single long multiply-add over the whole output plane
    /// (rows computed `phase width` wide, the extra columns discarded), which the compiler
    /// vectorises; short rows (7 or 14 pixels) would otherwise be all loop overhead.
    #[must_use]
    pub fn run(&self, input: &[f32], h: usize, w: usize) -> (Vec<f32>, usize, usize) {
        let (k, s) = (self.kernel, self.stride);
        let (oh, pad_top) = same_padding(h, k, s);
        let (ow, pad_left) = same_padding(w, k, s);
        // Padded extent, and the size of each phase plane.
        let (hp, wp) = ((oh - 1) * s + k, (ow - 1) * s + k);
        let (hq, wq) = (hp.div_ceil(s), wp.div_ceil(s));
        // Padding positions are the same for every channel: zero once, overwrite the interior.
        let mut phases = vec![0f32; s * s * hq * wq];
        let wide_len = (oh - 1) * wq + ow;
        let mut wide = vec![0f32; wide_len];
        let mut out = vec![0f32; self.bias.len() * oh * ow];
        let channels = input
            .chunks_exact(h * w)
            .zip(out.chunks_exact_mut(oh * ow))
            .zip(self.weight.chunks_exact(k * k).zip(&self.bias));
        for ((plane, out_plane), (wk, &bias)) in channels {
            for (iy, row) in plane.chunks_exact(w).enumerate() {
                let y = iy + pad_top;
                let row_start = (y % s) * s * hq * wq + (y / s) * wq;
                for px in 0..s {
                    // The first padded column x >= pad_left with x % s == px.
                    let x0 = pad_left + (px + s - pad_left % s) % s;
                    let Some(src) = row.get(x0 - pad_left..) else {
                        continue;
                    };
                    let dst_start = row_start + px * hq * wq + x0 / s;
                    for (d, &v) in phases[dst_start..].iter_mut().zip(src.iter().step_by(s)) {
                        *d = v;
                    }
                }
            }
            wide.fill(bias);
            // The multiply-adds are element-wise along the wide plane, so work through it in
            // chunks that stay in L1 cache across all k² taps.
            for c0 in (0..wide_len).step_by(WIDE_CHUNK) {
                let c1 = (c0 + WIDE_CHUNK).min(wide_len);
                let acc = &mut wide[c0..c1];
                for ky in 0..k {
                    for kx in 0..k {
                        let phase = (ky % s) * s + kx % s;
                        let from = phase * hq * wq + (ky / s) * wq + kx / s + c0;
                        let src = &phases[from..from + (c1 - c0)];
                        let wv = wk[ky * k + kx];
                        for (o, &i) in acc.iter_mut().zip(src) {
                            *o += wv * i;
                        }
                    }
                }
            }
            for (oy, dst) in out_plane.chunks_exact_mut(ow).enumerate() {
                let src = &wide[oy * wq..oy * wq + ow];
                if self.relu6 {
                    for (d, &v) in dst.iter_mut().zip(src) {
                        *d = v.clamp(0.0, 6.0);
                    }
                } else {
                    dst.copy_from_slice(src);
                }
            }
        }
        (out, oh, ow)
    }
}

impl CustomOp1 for Depthwise {
    fn name(&self) -> &'static str {
        "depthwise-conv"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (input, c, h, w) = chw_input(self.name(), storage, layout)?;
        if c != self.bias.len() {
            candle_core::bail!(
                "depthwise-conv: {c} input channels, {} expected",
                self.bias.len()
            )
        }
        let (out, oh, ow) = self.run(input, h, w);
        Ok((CpuStorage::F32(out), Shape::from((c, oh, ow))))
    }
}

/// Patch extraction for a dense `kernel × kernel` convolution with SAME padding.
///
/// Turns a (channels, height, width) input into a matrix of shape
/// (channels·kernel·kernel, out_height·out_width) whose row order matches a PyTorch weight of
/// shape (out, channels, kernel, kernel) flattened to (out, channels·kernel·kernel).
#[derive(Debug, Clone, Copy)]
pub struct Im2col {
    /// Kernel side.
    pub kernel: usize,
    /// Stride on both axes.
    pub stride: usize,
}

impl CustomOp1 for Im2col {
    fn name(&self) -> &'static str {
        "im2col-same"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (input, c, h, w) = chw_input(self.name(), storage, layout)?;
        let (k, s) = (self.kernel, self.stride);
        let (oh, pad_top) = same_padding(h, k, s);
        let (ow, pad_left) = same_padding(w, k, s);
        let mut out = vec![0f32; c * k * k * oh * ow];
        for (row_index, row) in out.chunks_exact_mut(oh * ow).enumerate() {
            let (ch, ky, kx) = (row_index / (k * k), row_index / k % k, row_index % k);
            let plane = &input[ch * h * w..(ch + 1) * h * w];
            for (oy, out_row) in row.chunks_exact_mut(ow).enumerate() {
                let Some(iy) = (oy * s + ky).checked_sub(pad_top).filter(|&iy| iy < h) else {
                    continue;
                };
                for (ox, o) in out_row.iter_mut().enumerate() {
                    if let Some(ix) = (ox * s + kx).checked_sub(pad_left).filter(|&ix| ix < w) {
                        *o = plane[iy * w + ix];
                    }
                }
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((c * k * k, oh * ow))))
    }
}

/// Adds one bias per row of a contiguous (rows, columns) tensor, then optionally clamps to
/// [0, 6] (ReLU6), in place.
#[derive(Debug, Clone)]
pub struct BiasAct<'a> {
    /// One bias per row.
    pub bias: &'a [f32],
    /// Whether to apply ReLU6 after the bias.
    pub relu6: bool,
}

impl InplaceOp1 for BiasAct<'_> {
    fn name(&self) -> &'static str {
        "bias-act"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("bias-act: expected f32 input")
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("bias-act: expected a contiguous input")
        };
        let data = &mut data[start..end];
        if self.bias.is_empty() || data.len() % self.bias.len() != 0 {
            candle_core::bail!(
                "bias-act: {} values for {} rows",
                data.len(),
                self.bias.len()
            )
        }
        let cols = data.len() / self.bias.len();
        for (row, &b) in data.chunks_exact_mut(cols).zip(self.bias) {
            if self.relu6 {
                for v in row.iter_mut() {
                    *v = (*v + b).clamp(0.0, 6.0);
                }
            } else {
                for v in row.iter_mut() {
                    *v += b;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    /// Deterministic pseudo-random values in [-1, 1) (no rand dependency needed).
    fn noise(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// The textbook definition, in f64, with explicit zero padding.
    fn naive_depthwise(
        input: &[f32],
        weight: &[f32],
        bias: &[f32],
        (c, h, w): (usize, usize, usize),
        k: usize,
        s: usize,
    ) -> Vec<f64> {
        let (oh, pt) = same_padding(h, k, s);
        let (ow, pl) = same_padding(w, k, s);
        let mut out = Vec::with_capacity(c * oh * ow);
        for ch in 0..c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = f64::from(bias[ch]);
                    for ky in 0..k {
                        for kx in 0..k {
                            let iy = (oy * s + ky) as isize - pt as isize;
                            let ix = (ox * s + kx) as isize - pl as isize;
                            if (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix) {
                                acc += f64::from(weight[(ch * k + ky) * k + kx])
                                    * f64::from(input[(ch * h + iy as usize) * w + ix as usize]);
                            }
                        }
                    }
                    out.push(acc);
                }
            }
        }
        out
    }

    #[test]
    fn same_padding_matches_tensorflow() {
        // 224 → 112 with a 3×3 stride-2 kernel: one pixel of padding, all of it after.
        assert_eq!(same_padding(224, 3, 2), (112, 0));
        // 5×5 stride 2 on 56: total 3, one before and two after.
        assert_eq!(same_padding(56, 5, 2), (28, 1));
        assert_eq!(same_padding(14, 5, 1), (14, 2));
        assert_eq!(same_padding(7, 1, 1), (7, 0));
        // Odd sizes at stride 2.
        assert_eq!(same_padding(7, 3, 2), (4, 1));
    }

    #[test]
    fn depthwise_matches_the_definition_for_all_block_shapes() {
        for &(k, s) in &[(3, 1), (3, 2), (5, 1), (5, 2)] {
            for &(h, w) in &[(7, 7), (8, 8), (9, 6), (1, 1), (2, 3)] {
                let c = 3;
                let input = noise(c * h * w, (k * 100 + s * 10 + h) as u64);
                let weight = noise(c * k * k, 7);
                let bias = noise(c, 9);
                let op = Depthwise::new(weight.clone(), bias.clone(), k, s, false);
                let (got, oh, ow) = op.run(&input, h, w);
                let want = naive_depthwise(&input, &weight, &bias, (c, h, w), k, s);
                assert_eq!(got.len(), want.len(), "k={k} s={s} {h}x{w}");
                assert_eq!((oh, ow), (same_padding(h, k, s).0, same_padding(w, k, s).0));
                for (g, w) in got.iter().zip(&want) {
                    assert!((f64::from(*g) - w).abs() < 1e-5, "k={k} s={s}: {g} vs {w}");
                }
            }
        }
    }

    #[test]
    fn depthwise_agrees_with_candle_grouped_conv_after_explicit_padding() {
        let (c, h, w, k, s) = (4, 9, 9, 5, 2);
        let input = noise(c * h * w, 1);
        let weight = noise(c * k * k, 2);
        let op = Depthwise::new(weight.clone(), vec![0.0; c], k, s, false);
        let x = Tensor::from_vec(input, (c, h, w), &Device::Cpu).unwrap();
        let got = x.apply_op1_no_bwd(&op).unwrap();

        // candle pads symmetrically only, so pad by hand (SAME: 1 before, 2 after here).
        let (_, pad) = same_padding(h, k, s);
        let total = ((h.div_ceil(s) - 1) * s + k).saturating_sub(h);
        let padded = x
            .unsqueeze(0)
            .unwrap()
            .pad_with_zeros(2, pad, total - pad)
            .unwrap()
            .pad_with_zeros(3, pad, total - pad)
            .unwrap();
        let kernel = Tensor::from_vec(weight, (c, 1, k, k), &Device::Cpu).unwrap();
        let want = padded
            .conv2d(&kernel, 0, s, 1, c)
            .unwrap()
            .squeeze(0)
            .unwrap();
        assert_eq!(got.dims(), want.dims());
        let diff: f32 = (got - want)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar()
            .unwrap();
        assert!(diff < 1e-5, "max difference {diff}");
    }

    #[test]
    fn depthwise_relu6_clamps() {
        let op = Depthwise::new(vec![10.0], vec![0.0], 1, 1, true);
        let (out, _, _) = op.run(&[-1.0, 0.3, 2.0], 1, 3);
        assert_eq!(out, vec![0.0, 3.0, 6.0]);
    }

    #[test]
    fn im2col_product_equals_a_padded_convolution() {
        let (c, h, w, k, s, o) = (3, 10, 7, 3, 2, 4);
        let input = noise(c * h * w, 3);
        let weight = noise(o * c * k * k, 4);
        let x = Tensor::from_vec(input, (c, h, w), &Device::Cpu).unwrap();
        let cols = x
            .apply_op1_no_bwd(&Im2col {
                kernel: k,
                stride: s,
            })
            .unwrap();
        let wm = Tensor::from_vec(weight.clone(), (o, c * k * k), &Device::Cpu).unwrap();
        let got = wm.matmul(&cols).unwrap();

        let (oh, pt) = same_padding(h, k, s);
        let (ow, pl) = same_padding(w, k, s);
        let th = ((oh - 1) * s + k).saturating_sub(h);
        let tw = ((ow - 1) * s + k).saturating_sub(w);
        let padded = x
            .unsqueeze(0)
            .unwrap()
            .pad_with_zeros(2, pt, th - pt)
            .unwrap()
            .pad_with_zeros(3, pl, tw - pl)
            .unwrap();
        let kernel = Tensor::from_vec(weight, (o, c, k, k), &Device::Cpu).unwrap();
        let want = padded
            .conv2d(&kernel, 0, s, 1, 1)
            .unwrap()
            .reshape((o, oh * ow))
            .unwrap();
        let diff: f32 = (got - want)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar()
            .unwrap();
        assert!(diff < 1e-5, "max difference {diff}");
    }

    #[test]
    fn bias_act_adds_per_row_and_clamps() {
        let t = Tensor::from_vec(vec![-1f32, 1.0, 5.0, 7.0], (2, 2), &Device::Cpu).unwrap();
        t.inplace_op1(&BiasAct {
            bias: &[0.5, 0.5],
            relu6: true,
        })
        .unwrap();
        assert_eq!(
            t.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            vec![0.0, 1.5, 5.5, 6.0]
        );
    }
}

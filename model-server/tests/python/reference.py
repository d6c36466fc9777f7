"""An independent float64 numpy implementation of EfficientNet-Lite0 (test-only code).

Written from the architecture description, not from the Rust code: batch norm is applied as
its own step (not folded into the convolutions), every convolution is a plain im2col product,
and TensorFlow "SAME" padding is computed per layer. The Rust model's logits must match these
within 1e-4.
"""

from __future__ import annotations

import math

import numpy as np

BN_EPS = 1e-3
# (kernel, stride, expand ratio, input channels, output channels, repeats), as EfficientNet-B0.
STAGES = [
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
]


def same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow SAME padding: (before, after), the extra pixel going after."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv2d(x: np.ndarray, w: np.ndarray, stride: int, groups: int = 1) -> np.ndarray:
    """x: (C, H, W); w: (O, C/groups, k, k); SAME padding; returns (O, H', W')."""
    c, h, wd = x.shape
    o, cg, k, _ = w.shape
    top, bottom = same_pad(h, k, stride)
    left, right = same_pad(wd, k, stride)
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right)))
    oh = (xp.shape[1] - k) // stride + 1
    ow = (xp.shape[2] - k) // stride + 1
    # patches[c, i, j, y, x] = xp[c, y*stride + i, x*stride + j]
    patches = np.empty((c, k, k, oh, ow), dtype=np.float64)
    for i in range(k):
        for j in range(k):
            patches[:, i, j] = xp[:, i : i + stride * oh : stride, j : j + stride * ow : stride]
    if groups == 1:
        return np.einsum("ocij,cijyx->oyx", w, patches, optimize=True)
    assert groups == c == o and cg == 1
    return np.einsum("cij,cijyx->cyx", w[:, 0], patches, optimize=True)


def batch_norm(x: np.ndarray, p: dict[str, np.ndarray], name: str) -> np.ndarray:
    g, b = p[f"{name}.weight"], p[f"{name}.bias"]
    m, v = p[f"{name}.running_mean"], p[f"{name}.running_var"]
    scale = g / np.sqrt(v + BN_EPS)
    return (x - m[:, None, None]) * scale[:, None, None] + b[:, None, None]


def relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 6.0)


def forward(params: dict[str, np.ndarray], image: np.ndarray) -> np.ndarray:
    """Logits (1000,) for one normalised image (3, H, W)."""
    p = {k: v.astype(np.float64) for k, v in params.items()}
    x = image.astype(np.float64)
    x = relu6(batch_norm(conv2d(x, p["_conv_stem.weight"], 2), p, "_bn0"))
    block = 0
    for kernel, stride, expand, cin, cout, repeats in STAGES:
        for r in range(repeats):
            s, i = (stride, cin) if r == 0 else (1, cout)
            pre = f"_blocks.{block}"
            inp = x
            if expand != 1:
                x = relu6(batch_norm(conv2d(x, p[f"{pre}._expand_conv.weight"], 1), p, f"{pre}._bn0"))
            x = conv2d(x, p[f"{pre}._depthwise_conv.weight"], s, groups=x.shape[0])
            x = relu6(batch_norm(x, p, f"{pre}._bn1"))
            x = batch_norm(conv2d(x, p[f"{pre}._project_conv.weight"], 1), p, f"{pre}._bn2")
            if s == 1 and i == cout:
                x = x + inp
            block += 1
    x = relu6(batch_norm(conv2d(x, p["_conv_head.weight"], 1), p, "_bn1"))
    pooled = x.mean(axis=(1, 2))
    return p["_fc.weight"] @ pooled + p["_fc.bias"]


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()

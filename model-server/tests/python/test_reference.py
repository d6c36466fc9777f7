"""The Rust model's logits against the independent float64 numpy implementation."""

from __future__ import annotations

import io
import subprocess

import numpy as np
import pytest
from PIL import Image
from safetensors.numpy import load_file

import reference

TOLERANCE = 1e-4


def _synthetic(kind: str) -> tuple[bytes, str]:
    rng = np.random.default_rng(20240611)
    if kind == "noise":
        pixels = rng.integers(0, 256, size=(300, 260, 3), dtype=np.uint8)
        fmt = "PNG"
    elif kind == "gradient":
        y, x = np.mgrid[0:480, 0:640]
        pixels = np.stack([x * 255 // 639, y * 255 // 479, (x + y) % 256], axis=-1).astype(np.uint8)
        fmt = "JPEG"
    else:  # a small WebP, upscaled by preprocessing
        pixels = np.zeros((60, 90, 3), dtype=np.uint8)
        pixels[10:50, 20:70] = (250, 30, 30)
        fmt = "WEBP"
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt)
    return buf.getvalue(), fmt.lower()


@pytest.fixture(scope="module")
def weights(model_dir):
    return load_file(str(model_dir / "model.safetensors"))


def _rust_outputs(server_bin, model_dir, image_path, tmp_path):
    out = tmp_path / "out.safetensors"
    subprocess.run(
        [str(server_bin), "logits", "--model-dir", str(model_dir), "--out", str(out), str(image_path)],
        check=True,
    )
    return load_file(str(out))


def _independent_input(path) -> np.ndarray:
    """Shorter side to 256, centre 224 crop, (x - 127) / 128, with Pillow instead of Rust."""
    im = Image.open(path).convert("RGB")
    w, h = im.size
    s = 256 / min(w, h)
    im = im.resize((max(224, round(w * s)), max(224, round(h * s))), Image.BILINEAR)
    w, h = im.size
    left, top = (w - 224) // 2, (h - 224) // 2
    im = im.crop((left, top, left + 224, top + 224))
    return (np.asarray(im, dtype=np.float64).transpose(2, 0, 1) - 127.0) / 128.0


def _check(weights, rust, tmp_path):
    x = rust["input"].astype(np.float64)
    assert x.shape == (3, 224, 224)
    want = reference.forward(weights, x)
    got = rust["logits"].astype(np.float64)
    diff = np.abs(got - want).max()
    assert diff <= TOLERANCE, f"logits differ from the float64 reference by {diff}"
    probs = rust["probabilities"].astype(np.float64)
    # The Rust softmax is exact for its own logits, and close for the reference's.
    assert np.abs(probs - reference.softmax(got)).max() <= 1e-6
    assert np.abs(probs - reference.softmax(want)).max() <= TOLERANCE
    assert abs(probs.sum() - 1.0) < 1e-5
    return want


@pytest.mark.parametrize("name, index, label", [("china.jpg", 698, "palace"), ("flower.jpg", 985, "daisy")])
def test_sample_photo_matches_reference_and_label(
    name, index, label, weights, server_bin, model_dir, sample_images, labels, tmp_path
):
    path = sample_images / name
    rust = _rust_outputs(server_bin, model_dir, path, tmp_path)
    want = _check(weights, rust, tmp_path)
    assert int(np.argmax(rust["logits"])) == index == int(np.argmax(want))
    assert labels[index] == label
    # Geometry, channel order and normalisation agree with an independent Pillow pipeline
    # (resampling filters differ, so only on average).
    independent = _independent_input(path)
    assert np.abs(rust["input"] - independent).mean() < 0.05


@pytest.mark.parametrize("kind", ["noise", "gradient", "small-webp"])
def test_synthetic_image_matches_reference(kind, weights, server_bin, model_dir, tmp_path):
    data, ext = _synthetic(kind)
    path = tmp_path / f"image.{ext}"
    path.write_bytes(data)
    _check(weights, _rust_outputs(server_bin, model_dir, path, tmp_path), tmp_path)


def test_reference_detects_wrong_padding(weights, server_bin, model_dir, sample_images, tmp_path):
    """The tolerance is meaningful: symmetric padding (a plausible bug) is far outside it."""
    rust = _rust_outputs(server_bin, model_dir, sample_images / "china.jpg", tmp_path)
    original = reference.same_pad
    try:
        reference.same_pad = lambda size, k, s: ((k - 1) // 2, (k - 1) // 2)
        wrong = reference.forward(weights, rust["input"].astype(np.float64))
    finally:
        reference.same_pad = original
    assert np.abs(rust["logits"] - wrong).max() > 100 * TOLERANCE

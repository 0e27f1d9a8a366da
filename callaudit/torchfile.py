"""Tensors out of a PyTorch checkpoint (.pt) without torch.

Speaker models on PyPI ship their weights as torch checkpoints, and torch is no dependency of
callaudit (PyPI's Linux torch is the CUDA build: GBs for a 17 MB model). A checkpoint is pickles
plus raw little-endian storages, in one of two layouts: the legacy stream (torch < 1.6: magic
number, protocol, system info, the object pickle, the storage keys, then each storage's bytes) or
a zip (`NAME/data.pkl` and `NAME/data/KEY`). The pickle is read by an unpickler that knows only
the handful of names a state dict needs, so a checkpoint cannot run code while it is converted.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from callaudit.errors import CallauditError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
          "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
          "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}


@dataclass(frozen=True)
class _Storage:
    key: str
    dtype: type


@dataclass(frozen=True)
class _Tensor:
    """A tensor whose storage is read later (the legacy layout puts the bytes after the pickle)."""

    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage, offset, size, stride, *_):
    return _Tensor(storage, int(offset), tuple(size), tuple(stride))


def _rebuild_parameter(data, *_):
    return data


class _Unpickler(pickle.Unpickler):
    """Knows OrderedDict, tensors and storages; any other global in the file is refused."""

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in DTYPES:
            return name  # a storage type: only its name matters
        raise CallauditError(f"checkpoint refers to {module}.{name}, which a plain state dict does not: "
                             "refusing to load it")

    def persistent_load(self, pid):
        # ('storage', type, key, location, size[, view metadata])
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise CallauditError(f"checkpoint has an unknown persistent object {pid!r:.60}")
        kind = pid[1] if isinstance(pid[1], str) else getattr(pid[1], "__name__", str(pid[1]))
        return _Storage(str(pid[2]), DTYPES[kind])


def _resolve(obj, storages: dict[str, np.ndarray]):
    if isinstance(obj, _Tensor):
        flat = storages[obj.storage.key]
        item = flat.itemsize
        view = np.lib.stride_tricks.as_strided(flat[obj.offset:], obj.size, [s * item for s in obj.stride])
        return np.array(view)  # a copy: contiguous, and no longer tied to the file's buffer
    if isinstance(obj, dict):
        return {k: _resolve(v, storages) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve(v, storages) for v in obj)
    return obj


def _tensors_in(obj, found: list[_Tensor]) -> None:
    if isinstance(obj, _Tensor):
        found.append(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            _tensors_in(v, found)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _tensors_in(v, found)


def _legacy(data: bytes):
    f = io.BytesIO(data)
    if pickle.Unpickler(f).load() != LEGACY_MAGIC:
        raise CallauditError("not a PyTorch checkpoint (no magic number)")
    pickle.Unpickler(f).load()  # protocol version
    info = pickle.Unpickler(f).load()
    if not info.get("little_endian", True):
        raise CallauditError("big-endian checkpoints are not supported")
    obj = _Unpickler(f).load()
    keys = pickle.Unpickler(f).load()
    found: list[_Tensor] = []
    _tensors_in(obj, found)
    dtype = {t.storage.key: t.storage.dtype for t in found}
    storages = {}
    for key in keys:
        (count,) = struct.unpack("<q", f.read(8))
        kind = np.dtype(dtype.get(key, np.uint8))
        storages[key] = np.frombuffer(f.read(count * kind.itemsize), kind)
    return _resolve(obj, storages)


def _zipped(archive: zipfile.ZipFile):
    pkl = next(n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl")
    root = pkl[:-len("data.pkl")]
    obj = _Unpickler(io.BytesIO(archive.read(pkl))).load()
    found: list[_Tensor] = []
    _tensors_in(obj, found)
    storages = {t.storage.key: np.frombuffer(archive.read(f"{root}data/{t.storage.key}"), t.storage.dtype)
                for t in found}
    return _resolve(obj, storages)


def load_checkpoint(data: bytes):
    """The object a torch checkpoint holds (dicts, lists, numbers), its tensors as numpy arrays."""
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return _zipped(archive)
    return _legacy(data)


def _npy(array: np.ndarray) -> bytes:
    """NPY format 1.0, header written here rather than by numpy so that its bytes cannot change
    with the numpy version."""
    array = np.ascontiguousarray(array)
    if array.dtype.byteorder == ">" or array.dtype.hasobject:
        raise ValueError("only native little-endian plain arrays are written")
    header = f"{{'descr': '{array.dtype.str}', 'fortran_order': False, 'shape': {tuple(array.shape)!r}, }}"
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * (pad % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + array.tobytes()


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz that numpy.load reads, byte-identical for identical arrays (fixed member dates and
    order, own NPY headers), so that the converted weights have one pinnable sha256."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name in sorted(arrays):
            z.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), _npy(arrays[name]))


def ge2e_arrays(checkpoint: dict, layers: int = 3) -> dict[str, np.ndarray]:
    """The arrays of a Resemblyzer checkpoint that the encoder uses (not the optimiser's state)."""
    state = checkpoint.get("model_state") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise CallauditError("the checkpoint holds no model_state: not Resemblyzer's pretrained.pt")
    keep = [f"lstm.{p}_l{k}" for k in range(layers) for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    keep += ["linear.weight", "linear.bias"]
    missing = [k for k in keep if k not in state]
    if missing:
        raise CallauditError(f"the checkpoint lacks {', '.join(missing)}: not Resemblyzer's pretrained.pt")
    return {k: np.asarray(state[k], np.float32) for k in keep}

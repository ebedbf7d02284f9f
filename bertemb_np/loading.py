"""Checkpoint loading: config.json + model.safetensors -> the five embedding weights as NumPy arrays.

The safetensors format is simple enough to read directly (see `read_safetensors_header`), which
lets us read only the byte ranges of the embedding tensors, straight into their arrays: encoder
and head tensors beside them are never touched. Pickled checkpoints (pytorch_model.bin) are
never opened: unpickling can run arbitrary code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .config import BertConfig
from .sources import resolve_file

__all__ = ["CHECKPOINT_NAMES", "load_embedding_weights", "read_embedding_tensors"]

# Our weight name -> the names it has in real checkpoints, tried in this order.
# - "embeddings.*": a bare BertModel (e.g. sentence-transformers/all-MiniLM-L6-v2).
# - "bert.embeddings.*": BertForPreTraining and the task models (bert-base-uncased itself),
#   with head tensors "cls.*" beside it.
# - LayerNorm "gamma"/"beta": names from the original TensorFlow release, still stored in
#   bert-base-uncased.
# A stale "embeddings.position_ids" buffer (int64 arange) is in some files: we never read it.
CHECKPOINT_NAMES: dict[str, tuple[str, ...]] = {
    "word_embeddings.weight": (
        "embeddings.word_embeddings.weight",
        "bert.embeddings.word_embeddings.weight",
    ),
    "position_embeddings.weight": (
        "embeddings.position_embeddings.weight",
        "bert.embeddings.position_embeddings.weight",
    ),
    "token_type_embeddings.weight": (
        "embeddings.token_type_embeddings.weight",
        "bert.embeddings.token_type_embeddings.weight",
    ),
    "LayerNorm.weight": (
        "embeddings.LayerNorm.weight",
        "embeddings.LayerNorm.gamma",
        "bert.embeddings.LayerNorm.weight",
        "bert.embeddings.LayerNorm.gamma",
    ),
    "LayerNorm.bias": (
        "embeddings.LayerNorm.bias",
        "embeddings.LayerNorm.beta",
        "bert.embeddings.LayerNorm.bias",
        "bert.embeddings.LayerNorm.beta",
    ),
}

# safetensors dtype -> the little-endian NumPy dtype its bytes hold (floats only: these are weights)
FLOAT_DTYPES = {"F16": np.dtype("<f2"), "F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit on the JSON header


def load_embedding_weights(model: str | os.PathLike, *, revision: str | None = None
                           ) -> tuple[BertConfig, dict[str, np.ndarray]]:
    """Read config.json and the five embedding tensors of a local folder or hub repo id."""
    config = BertConfig.from_json_file(resolve_file(model, "config.json", revision=revision))
    weights_file = resolve_file(model, "model.safetensors", revision=revision)
    return config, read_embedding_tensors(weights_file, config)


def read_embedding_tensors(path: str | os.PathLike, config: BertConfig) -> dict[str, np.ndarray]:
    """The five embedding tensors of one .safetensors file, by our names, checked against `config`.

    Shapes and dtypes are checked from the file's header before any tensor data is read; then
    only the byte ranges of these five tensors are read, straight into their arrays.
    """
    path = Path(path)
    with open(path, "rb") as f:
        header, data_start = read_safetensors_header(f, path)
        names = {ours: find_checkpoint_name(ours, set(header), path) for ours in CHECKPOINT_NAMES}
        entries = {ours: check_header_entry(header[name], name, config.weight_shapes()[ours], path)
                   for ours, name in names.items()}
        return {ours: read_tensor(f, data_start, entry, names[ours], path) for ours, entry in entries.items()}


def read_safetensors_header(f, path: Path) -> tuple[dict, int]:
    """The JSON header of a safetensors file, and where its data starts.

    The format: 8 bytes, the header's length N as a little-endian unsigned integer; N bytes of
    JSON, {tensor name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}};
    then the tensors' bytes, each at data_offsets counted from the end of the header.
    """
    size = os.fstat(f.fileno()).st_size
    prefix = f.read(8)
    n = int.from_bytes(prefix, "little") if len(prefix) == 8 else -1
    if not 0 < n <= min(MAX_HEADER_BYTES, size - 8):
        raise ValueError(f"{path} is not a readable safetensors file: it does not start with a valid header "
                         f"length (file of {size} bytes)")
    try:
        header = json.loads(f.read(n))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not a readable safetensors file: its header is not JSON ({e})") from e
    if not isinstance(header, dict):
        raise ValueError(f"{path} is not a readable safetensors file: its header is not a JSON object")
    header.pop("__metadata__", None)
    data_start = 8 + n
    for name, entry in header.items():
        begin, end = entry.get("data_offsets", (-1, -1)) if isinstance(entry, dict) else (-1, -1)
        if not 0 <= begin <= end <= size - data_start:
            raise ValueError(f"{path} is not a readable safetensors file: tensor {name} lies outside the file "
                             f"(it is cut short or corrupt)")
    return header, data_start


def find_checkpoint_name(ours: str, keys: set[str], path: Path) -> str:
    """The one name under which `ours` is stored in the file, or an error naming what was tried."""
    found = [name for name in CHECKPOINT_NAMES[ours] if name in keys]
    if len(found) > 1:
        raise ValueError(f"{path}: {ours} is stored twice, as {' and '.join(found)}")
    if not found:
        nearby = sorted(k for k in keys if "embeddings" in k)[:8]
        raise ValueError(f"{path}: missing tensor {ours} (looked for {', '.join(CHECKPOINT_NAMES[ours])}); "
                         f"embedding tensors in the file: {nearby or 'none'}")
    return found[0]


def check_header_entry(entry: dict, name: str, shape: tuple[int, ...], path: Path) -> dict:
    """Raise unless the header says `name` is a float tensor of `shape` whose byte range fits it."""
    dtype = entry.get("dtype")
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"{path}: tensor {name} has dtype {dtype}; supported are {sorted(FLOAT_DTYPES)}")
    found = tuple(entry.get("shape", ()))
    if found != shape:
        raise ValueError(f"{path}: tensor {name} has shape {found}, but config.json says {shape}")
    begin, end = entry["data_offsets"]
    if end - begin != np.prod(shape, dtype=np.int64) * FLOAT_DTYPES[dtype].itemsize:
        raise ValueError(f"{path} is not a readable safetensors file: tensor {name} has {end - begin} bytes "
                         f"for shape {shape} of {dtype}")
    return entry


def read_tensor(f, data_start: int, entry: dict, name: str, path: Path) -> np.ndarray:
    """Read one tensor's bytes straight into a new array (native byte order, read-only)."""
    begin, end = entry["data_offsets"]
    array = np.empty(entry["shape"], dtype=FLOAT_DTYPES[entry["dtype"]])
    f.seek(data_start + begin)
    if f.readinto(memoryview(array.reshape(-1)).cast("B")) != end - begin:
        raise ValueError(f"{path} is not a readable safetensors file: tensor {name} is cut short")
    array = array.astype(array.dtype.newbyteorder("="), copy=False)  # a no-op on little-endian machines
    array.flags.writeable = False  # ours alone, and the weights of a model do not change
    return array

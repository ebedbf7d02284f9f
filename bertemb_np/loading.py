"""Checkpoint loading: config.json + model.safetensors -> the five embedding weights as NumPy arrays.

Only the embedding tensors are read from the file (safetensors memory-maps it and copies just
what is asked for); encoder and head tensors beside them are never touched. Pickled
checkpoints (pytorch_model.bin) are never opened: unpickling can run arbitrary code.
"""

from __future__ import annotations

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

FLOAT_DTYPES = {"F16", "F32", "F64"}  # what safetensors' NumPy reader gives as floats


def load_embedding_weights(model: str | os.PathLike, *, revision: str | None = None
                           ) -> tuple[BertConfig, dict[str, np.ndarray]]:
    """Read config.json and the five embedding tensors of a local folder or hub repo id."""
    config = BertConfig.from_json_file(resolve_file(model, "config.json", revision=revision))
    weights_file = resolve_file(model, "model.safetensors", revision=revision)
    return config, read_embedding_tensors(weights_file, config)


def read_embedding_tensors(path: str | os.PathLike, config: BertConfig) -> dict[str, np.ndarray]:
    """The five embedding tensors of one .safetensors file, by our names, checked against `config`.

    Shapes and dtypes are checked from the file's header before any tensor data is read.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    try:
        with safe_open(path, framework="numpy") as f:
            keys = set(f.keys())
            names = {ours: find_checkpoint_name(ours, keys, path) for ours in CHECKPOINT_NAMES}
            for ours, shape in config.weight_shapes().items():
                check_header_entry(f.get_slice(names[ours]), names[ours], shape, path)
            tensors = {ours: f.get_tensor(name) for ours, name in names.items()}
    except (SafetensorError, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(f"{path} is not a readable safetensors file: {e}") from e
    for tensor in tensors.values():
        tensor.flags.writeable = False  # ours alone, and the weights of a model do not change
    return tensors


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


def check_header_entry(tensor_slice, name: str, shape: tuple[int, ...], path: Path) -> None:
    """Raise unless the header says `name` is a float tensor of `shape`."""
    dtype = tensor_slice.get_dtype()
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"{path}: tensor {name} has dtype {dtype}; supported are {sorted(FLOAT_DTYPES)}")
    found = tuple(tensor_slice.get_shape())
    if found != shape:
        raise ValueError(f"{path}: tensor {name} has shape {found}, but config.json says {shape}")

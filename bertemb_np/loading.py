"""Checkpoint loading: config.json + model.safetensors -> the five embedding weights as NumPy arrays.

The safetensors format is simple enough to read directly (safetensors_io.py), which lets us
read only the byte ranges of the embedding tensors, straight into their arrays: encoder and
head tensors beside them are never touched. Sharded checkpoints (model.safetensors.index.json)
are read from the shards that hold the embeddings only; from the Hub, only their bytes are
fetched (hub.py). Pickled checkpoints (pytorch_model.bin, ...) are never opened: unpickling can
run arbitrary code.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

from . import hub
from .config import BertConfig
from .safetensors_io import check_entry, read_header, read_tensor
from .sources import exists, is_local, resolve_file

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

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"  # a sharded checkpoint: {"weight_map": {tensor: shard file}}
PICKLED_FILES = ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack")


def load_embedding_weights(model: str | os.PathLike, *, revision: str | None = None, partial: bool = True
                           ) -> tuple[BertConfig, dict[str, np.ndarray]]:
    """Read config.json and the five embedding tensors of a local folder or hub repo id.

    For a hub id, partial=True fetches only the embedding tensors' bytes (cached under
    BERTEMB_CACHE); partial=False downloads the whole checkpoint file(s) with hf_hub_download.
    """
    config_path = resolve_file(model, "config.json", revision=revision)
    config = BertConfig.from_json_file(config_path)
    if partial and not is_local(model, revision):
        return config, fetch_embedding_tensors(os.fspath(model), hub.commit_of(config_path), config)
    return config, read_embedding_tensors(whole_files(model, revision), config)


def whole_files(model, revision: str | None) -> list[Path]:
    """model.safetensors, or the shards of a sharded checkpoint that hold embedding tensors."""
    single = resolve_file(model, SINGLE_FILE, revision=revision, required=False)
    if single is not None:
        return [single]
    index = resolve_file(model, INDEX_FILE, revision=revision, required=False)
    if index is None:
        refuse_pickles(model, revision)
    weight_map = read_weight_map(index)
    shards = {weight_map[name] for name in find_checkpoint_names(set(weight_map), index).values()}
    return [resolve_file(model, shard, revision=revision) for shard in sorted(shards)]


def fetch_embedding_tensors(repo_id: str, commit: str, config: BertConfig) -> dict[str, np.ndarray]:
    """The embedding tensors of a hub repo at `commit`, from the bertemb cache or fetched by byte ranges."""
    import huggingface_hub

    cached = sorted(hub.cache_folder(repo_id, commit).glob("*.safetensors"))
    if cached:
        try:
            return read_embedding_tensors(cached, config)
        except ValueError:
            if huggingface_hub.constants.HF_HUB_OFFLINE:
                raise  # nothing better can be had
    if huggingface_hub.constants.HF_HUB_OFFLINE:  # the whole checkpoint may be in the HF cache
        try:
            files = whole_files(repo_id, commit)
        except FileNotFoundError as e:
            raise FileNotFoundError(
                f"the embedding tensors of hub repo {repo_id!r} at {commit} are neither in the bertemb cache "
                f"({hub.cache_folder(repo_id, commit)}) nor in the HF cache, and HF_HUB_OFFLINE is set") from e
        return read_embedding_tensors(files, config)
    in_hf_cache = huggingface_hub.try_to_load_from_cache(repo_id, SINGLE_FILE, revision=commit)
    if isinstance(in_hf_cache, str):  # downloaded whole before (e.g. by transformers): no need to fetch
        return read_embedding_tensors([Path(in_hf_cache)], config)
    try:
        files = fetch_embedding_files(repo_id, commit, config)
    except hub.RangeNotSupported as e:
        warnings.warn(f"{e}: downloading the whole checkpoint instead", stacklevel=3)
        files = whole_files(repo_id, commit)
    return read_embedding_tensors(files, config)


def fetch_embedding_files(repo_id: str, commit: str, config: BertConfig) -> list[Path]:
    """Fetch the embedding tensors' byte ranges into the bertemb cache; the cached files' paths.

    Reads model.safetensors' header, or the index of a sharded checkpoint and then the headers
    of the shards holding embedding tensors; checks them against config.json; then fetches.
    """
    where = f"hub repo {repo_id!r} at {commit}"
    headers = {}
    if exists(repo_id, SINGLE_FILE, revision=commit):
        headers[SINGLE_FILE] = hub.remote_header(repo_id, commit, SINGLE_FILE)
        weight_map = {name: SINGLE_FILE for name in headers[SINGLE_FILE][0]}
    elif exists(repo_id, INDEX_FILE, revision=commit):
        weight_map = read_weight_map(resolve_file(repo_id, INDEX_FILE, revision=commit))
    else:
        refuse_pickles(repo_id, commit)
    names = find_checkpoint_names(set(weight_map), where)
    shapes = config.weight_shapes()
    files = []
    for filename in sorted({weight_map[name] for name in names.values()}):
        header, data_start = headers.get(filename) or hub.remote_header(repo_id, commit, filename)
        wanted = {name: check_entry(header.get(name, {}), name, shapes[ours], f"{filename} of {where}")
                  for ours, name in names.items() if weight_map[name] == filename}
        files.append(hub.fetch_tensors(repo_id, commit, filename, wanted, data_start))
    return files


def read_weight_map(index: Path) -> dict[str, str]:
    with open(index, encoding="utf-8") as f:
        weight_map = json.load(f).get("weight_map")
    if not isinstance(weight_map, dict):
        raise ValueError(f"{index} has no weight_map")
    return weight_map


def refuse_pickles(model, revision: str | None):
    """Raise: there is no safetensors checkpoint; say how to make one if there are pickled weights."""
    where = f"model folder {os.fspath(model)}" if is_local(model, revision) else f"hub repo {os.fspath(model)!r}"
    pickled = [name for name in PICKLED_FILES if exists(model, name, revision=revision)]
    if not pickled:
        raise FileNotFoundError(f"{where} has no {SINGLE_FILE} or {INDEX_FILE}")
    raise FileNotFoundError(
        f"{where} has no {SINGLE_FILE}, only {', '.join(pickled)}, which this library never loads: "
        "unpickling can run arbitrary code. Convert it to safetensors once, where you trust it: "
        f"python -c \"from transformers import AutoModel; AutoModel.from_pretrained('{os.fspath(model)}'"
        "[, from_tf=True or from_flax=True]).save_pretrained('OUT_DIR')\", "
        "or on the Hub with the conversion space https://huggingface.co/spaces/safetensors/convert")


def read_embedding_tensors(paths: list[Path], config: BertConfig) -> dict[str, np.ndarray]:
    """The five embedding tensors from one or more .safetensors files, by our names, checked against `config`.

    Shapes and dtypes are checked from the headers before any tensor data is read; then only
    the byte ranges of these five tensors are read, straight into their arrays.
    """
    with contextlib.ExitStack() as stack:
        files, headers, where_is = [], [], {}
        for path in paths:
            files.append(stack.enter_context(open(path, "rb")))
            headers.append(read_header(files[-1], str(path)))
            for name in headers[-1][0]:
                if name in where_is:
                    raise ValueError(f"tensor {name} is in both {paths[where_is[name]]} and {path}")
                where_is[name] = len(files) - 1
        names = find_checkpoint_names(set(where_is), paths[0] if len(paths) == 1 else f"{len(paths)} shards")
        tensors = {}
        for ours, name in names.items():
            i = where_is[name]
            header, data_start = headers[i]
            entry = check_entry(header[name], name, config.weight_shapes()[ours], str(paths[i]))
            tensors[ours] = read_tensor(files[i], data_start, entry, name, str(paths[i]))
        return tensors


def find_checkpoint_names(keys: set[str], where) -> dict[str, str]:
    """{our name: its one name among `keys`}, or an error naming what was tried."""
    names = {}
    for ours, candidates in CHECKPOINT_NAMES.items():
        found = [name for name in candidates if name in keys]
        if len(found) > 1:
            raise ValueError(f"{where}: {ours} is stored twice, as {' and '.join(found)}")
        if not found:
            nearby = sorted(k for k in keys if "embeddings" in k)[:8]
            raise ValueError(f"{where}: missing tensor {ours} (looked for {', '.join(candidates)}); "
                             f"embedding tensors in the file: {nearby or 'none'}")
        names[ours] = found[0]
    return names

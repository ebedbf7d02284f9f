"""Checkpoint loading: config.json + model.safetensors -> the embedding layer's weights as arrays.

Local files are read with the safetensors package (safe_open), only the embedding tensors:
encoder and head tensors beside them are never touched. Its Rust reader refuses a malformed
file; our own header check (safetensors_io.parse_header, the one used for remote headers) runs
first, for clearer messages and for the one defect safe_open lets through, a key twice in the
header. Sharded checkpoints (model.safetensors.index.json) are read from the shards that hold
the embeddings only; from the Hub, only their bytes are fetched (hub.py) and cached as a small
safetensors file, read back here. Pickled checkpoints (pytorch_model.bin, ...) are never opened:
unpickling can run arbitrary code.

Which tensors, under which names, comes from the family's spec (specs.py), never from here:
- a weight of our module, e.g. "word_embeddings.weight", is stored as "embeddings." + its name,
  or under the spec's own names for it (BERT's TensorFlow-era LayerNorm "gamma"/"beta",
  NomicBERT's "emb_ln");
- before that, one of the spec's prefixes: "" in base-model exports (sentence-transformers'
  all-MiniLM-L6-v2), "bert." / "roberta." / "deberta." / "model." ... in task models
  (bert-base-uncased itself), whose head tensors sit beside it. The model_type never decides it.
Stale buffers some files carry ("embeddings.position_ids", DeBERTa-v3's unused position table)
are never read, as only the tensors the config asks for are looked up.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from . import hub
from .config import EmbeddingConfig
from .safetensors_io import Header, read_header
from .sources import HubArgs, exists, local_folder, offline_reason, resolve_file

if TYPE_CHECKING:  # safetensors is imported when a file is read
    from safetensors import safe_open

__all__ = ["Checkpoint", "checkpoint_names", "fetch_tensors", "read_tensors", "whole_files"]

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"  # sharded: {"weight_map": {tensor: shard file}}
PICKLED_FILES = ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack")
FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")  # the dtypes of weights we load
# safe_open's backend: "pread" reads each tensor into its array; its default, "mmap", maps the
# file, and the mapped pages count in the process's memory on top of the arrays (2.0x the
# tables' bytes at peak, against 1.0x).
BACKEND = "pread"


class Checkpoint:
    """A model's config.json and checkpoint files, in a local folder or a hub repo at one commit.

    `model` is a local folder (`~` expanded), a .safetensors file in one (its model.safetensors,
    say: read instead of the folder's checkpoint, with the config.json beside it), or a hub repo
    id. `tensors(shapes)` reads the named weights: for a hub id with partial=True (the default),
    only their bytes are fetched (cached under BERTEMB_CACHE); partial=False downloads the
    whole checkpoint file(s) with hf_hub_download. The other arguments are transformers':
    revision (hub ids only; ignored for a local folder, as transformers 5.24 ignores it),
    token, local_files_only (the HF cache and the bertemb cache only, no network) and cache_dir
    (the HF cache for hub downloads, instead of HF_HUB_CACHE).
    """

    def __init__(self, model: str | os.PathLike[str], *, revision: str | None = None,
                 partial: bool = True, token: str | bool | None = None,
                 local_files_only: bool = False, cache_dir: str | os.PathLike[str] | None = None
                 ) -> None:
        self.model, self.partial = model, partial
        self.hub_args: HubArgs = {"token": token, "local_files_only": local_files_only,
                         "cache_dir": cache_dir}  # how to ask the Hub, as huggingface_hub takes it
        self.files = checkpoint_file(model)
        self.config_path = resolve_file(model, "config.json", revision=revision, **self.hub_args)
        self.config = EmbeddingConfig.from_json_file(self.config_path)
        self.commit = None if local_folder(model) else hub.commit_of(self.config_path)

    def tensors(self, shapes: dict[str, tuple[int, ...]], optional: frozenset[str] = frozenset(),
                group: str = "embeddings") -> dict[str, np.ndarray]:
        """{our name: array} for each of `shapes`, checked; names in `optional` may be absent.
        `group` names the partial-download cache file ("embeddings", or "projection")."""
        names = checkpoint_names(self.config, shapes)
        if self.commit is not None and self.partial:
            return fetch_tensors(os.fspath(self.model), self.commit, names, shapes, optional, group,
                                 self.hub_args)
        files = self.files or whole_files(self.model, self.commit, names, optional, self.hub_args)
        return read_tensors(files, names, shapes, optional)


def checkpoint_file(model: str | os.PathLike[str]) -> list[Path] | None:
    """[the file] when `model` names a .safetensors file, None for a folder or a hub id; any
    other file is refused."""
    path = Path(model).expanduser() if isinstance(model, (str, os.PathLike)) else None
    if path is None or not path.is_file():
        return None
    if path.name.endswith(".safetensors"):
        return [path]
    raise ValueError(f"{os.fspath(model)} is a file, but not a .safetensors checkpoint: give "
                     f"the model folder, or its {SINGLE_FILE}")


def checkpoint_names(config: EmbeddingConfig, ours: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """{our weight name: the names it may have in a checkpoint, in the order tried}, from the
    spec."""
    spec = config.spec
    projection = spec.projection

    def keys(name: str) -> tuple[str, ...]:  # the key after the prefix
        if name in spec.keys:
            return spec.keys[name]
        if projection is not None and name.startswith(projection.name + "."):
            return tuple(key + name[len(projection.name):] for key in projection.keys)
        return ("embeddings." + name,)

    return {name: tuple(prefix + key for prefix in spec.prefixes for key in keys(name))
            for name in ours}


def whole_files(model: str | os.PathLike[str], revision: str | None, names: dict[str, tuple[str, ...]],
                optional: frozenset[str], hub_args: HubArgs) -> list[Path]:
    """model.safetensors, or the shards of a sharded checkpoint that hold the `names` tensors.
    `hub_args`: resolve_file's token, local_files_only and cache_dir."""
    single = resolve_file(model, SINGLE_FILE, revision=revision, required=False, **hub_args)
    if single is not None:
        return [single]
    index = resolve_file(model, INDEX_FILE, revision=revision, required=False, **hub_args)
    if index is None:
        refuse_pickles(model, revision, hub_args)
    weight_map = read_weight_map(index)
    found = find_checkpoint_names(set(weight_map), names, index, optional)
    shards = {weight_map[name] for name in found.values()}
    return [resolve_file(model, shard, revision=revision, **hub_args) for shard in sorted(shards)]


def fetch_tensors(repo_id: str, commit: str, names: dict[str, tuple[str, ...]],
                  shapes: dict[str, tuple[int, ...]], optional: frozenset[str], group: str,
                  hub_args: HubArgs) -> dict[str, np.ndarray]:
    """The tensors of a hub repo at `commit`, from the bertemb cache or fetched by byte ranges."""
    import huggingface_hub

    cache_dir = hub_args["cache_dir"]
    offline = offline_reason(hub_args["local_files_only"])
    folder = hub.cache_folder(repo_id, commit, cache_dir)
    cached = cached_files(folder, group)
    if cached:
        try:
            return read_tensors(cached, names, shapes, optional)
        except ValueError:
            if offline:
                raise  # nothing better can be had
    if offline:  # the whole checkpoint may be in the HF cache
        try:
            files = whole_files(repo_id, commit, names, optional, hub_args)
        except FileNotFoundError as e:
            raise FileNotFoundError(
                f"the embedding tensors of hub repo {repo_id!r} at {commit} are neither in the "
                f"bertemb cache ({folder}) nor in the HF cache, and {offline}") from e
        return read_tensors(files, names, shapes, optional)
    in_hf_cache = huggingface_hub.try_to_load_from_cache(
        repo_id, SINGLE_FILE, cache_dir=None if cache_dir is None else os.fspath(cache_dir),
        revision=commit)
    if isinstance(in_hf_cache, str):  # downloaded whole before (by transformers, say): no fetch
        return read_tensors([Path(in_hf_cache)], names, shapes, optional)
    try:
        files = fetch_files(repo_id, commit, names, shapes, optional, group, hub_args)
    except hub.RangeNotSupported as e:
        warnings.warn(f"{e}: downloading the whole checkpoint instead", stacklevel=3)
        files = whole_files(repo_id, commit, names, optional, hub_args)
    return read_tensors(files, names, shapes, optional)


GROUPS = ("embeddings", "projection")  # what a load reads at once: the layer, and on demand, ALBERT's
# and ELECTRA's encoder-input projection


def cache_prefix(group: str) -> str:
    """The partial-download cache keeps one file per checkpoint file and group: the embeddings'
    under the checkpoint file's own name, another group's (the projection) prefixed by it."""
    return "" if group == "embeddings" else f"{group}-"


def cached_files(folder: Path, group: str) -> list[Path]:
    """The cache files of one group in a commit's cache folder (the embeddings' are those that
    no other group's prefix starts)."""
    others = tuple(cache_prefix(g) for g in GROUPS if g != group and cache_prefix(g))
    return sorted(p for p in folder.glob(f"{cache_prefix(group)}*.safetensors")
                  if not p.name.startswith(others))


def fetch_files(repo_id: str, commit: str, names: dict[str, tuple[str, ...]],
                shapes: dict[str, tuple[int, ...]], optional: frozenset[str], group: str,
                hub_args: HubArgs) -> list[Path]:
    """Fetch the tensors' byte ranges into the bertemb cache; the cached files' paths.

    Reads model.safetensors' header, or the index of a sharded checkpoint and then the headers
    of the shards holding the tensors; checks them against config.json; then fetches.
    """
    where = f"hub repo {repo_id!r} at {commit}"
    token = hub_args["token"]
    headers: dict[str, tuple[Header, int]] = {}  # file -> (its header, where its data starts)
    if exists(repo_id, SINGLE_FILE, revision=commit, token=token):
        headers[SINGLE_FILE] = hub.remote_header(repo_id, commit, SINGLE_FILE, token=token)
        weight_map = {name: SINGLE_FILE for name in headers[SINGLE_FILE][0]}
    elif exists(repo_id, INDEX_FILE, revision=commit, token=token):
        weight_map = read_weight_map(resolve_file(repo_id, INDEX_FILE, revision=commit,
                                                  **hub_args))
    else:
        refuse_pickles(repo_id, commit, hub_args)
    found = find_checkpoint_names(set(weight_map), names, where, optional)
    files: list[Path] = []
    for filename in sorted({weight_map[name] for name in found.values()}):
        header, data_start = headers.get(filename) or hub.remote_header(repo_id, commit, filename,
                                                                        token=token)
        wanted = {name: weight_entry(header, name, shapes[ours], f"{filename} of {where}")
                  for ours, name in found.items() if weight_map[name] == filename}
        files.append(hub.fetch_into_cache(repo_id, commit, filename, wanted, data_start,
                                          cache_name=cache_prefix(group) + filename, token=token,
                                          cache_dir=hub_args["cache_dir"]))
    return files


def read_weight_map(index: Path) -> dict[str, str]:
    """{tensor name: shard file} from a sharded checkpoint's index.json."""
    try:
        content = json.loads(Path(index).read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError, JSONDecodeError; too deep
        raise ValueError(f"{index} is not UTF-8 JSON ({e})") from e
    weight_map = content.get("weight_map") if isinstance(content, dict) else None
    if not (isinstance(weight_map, dict) and all(isinstance(v, str) for v in weight_map.values())):
        raise ValueError(f"{index} has no weight_map of tensor names to shard files")
    return weight_map


def refuse_pickles(model: str | os.PathLike[str], revision: str | None, hub_args: HubArgs
                   ) -> NoReturn:
    """Raise: there is no safetensors checkpoint; say how to make one if there are pickled
    weights."""
    folder = local_folder(model)
    where = f"model folder {folder}" if folder else f"hub repo {os.fspath(model)!r}"
    token = hub_args["token"]
    offline = None if folder else offline_reason(hub_args["local_files_only"])
    if offline:  # the Hub cannot be asked which files it has
        raise FileNotFoundError(f"neither {SINGLE_FILE} nor {INDEX_FILE} of {where} is in the "
                                f"HF cache, and {offline}")
    pickled = [name for name in PICKLED_FILES if exists(model, name, revision=revision,
                                                        token=token)]
    if not pickled:
        raise FileNotFoundError(f"{where} has no {SINGLE_FILE} or {INDEX_FILE}")
    raise FileNotFoundError(
        f"{where} has no {SINGLE_FILE}, only {', '.join(pickled)}, which this library never loads: "
        "unpickling can run arbitrary code. Convert it to safetensors once, where you trust it: "
        "python -c \"from transformers import AutoModel; "
        f"AutoModel.from_pretrained('{os.fspath(model)}'"
        "[, from_tf=True or from_flax=True]).save_pretrained('OUT_DIR')\", "
        "or on the Hub with the conversion space https://huggingface.co/spaces/safetensors/convert")


def read_tensors(paths: list[Path], names: dict[str, tuple[str, ...]],
                 shapes: dict[str, tuple[int, ...]],
                 optional: frozenset[str] = frozenset()) -> dict[str, np.ndarray]:
    """The named tensors from one or more .safetensors files, by our names, checked against
    `shapes`.

    The headers are checked, and the tensors' dtypes and shapes, before any tensor data is read;
    then safe_open, which checks each file again, reads only these tensors.
    """
    headers: list[Header] = []
    where_is: dict[str, int] = {}  # tensor name -> the file it is in
    for i, path in enumerate(paths):
        with open(path, "rb") as f:
            headers.append(read_header(f, str(path))[0])
        for name in headers[-1]:
            if name in where_is:
                raise ValueError(f"tensor {name} is in both {paths[where_is[name]]} and {path}")
            where_is[name] = i
    where = paths[0] if len(paths) == 1 else f"{len(paths)} shards"
    found = find_checkpoint_names(set(where_is), names, where, optional)
    dtypes = {weight_entry(headers[where_is[name]], name, shapes[ours], paths[where_is[name]])
              ["dtype"] for ours, name in found.items()}
    if "BF16" in dtypes:  # safe_open returns BF16 tensors as ml_dtypes' bfloat16, which
        import ml_dtypes  # noqa: F401  NumPy lacks; a 0.5 s import, so only when one is read
    tensors: dict[str, np.ndarray] = {}
    for i in sorted({where_is[name] for name in found.values()}):
        with open_safetensors(paths[i]) as f:
            tensors.update({ours: read_weight(f, name) for ours, name in found.items()
                            if where_is[name] == i})
    return tensors


def read_weight(f: safe_open, name: str) -> np.ndarray:
    """Tensor `name` of an open file as a read-only array, bfloat16 widened to float32, which
    NumPy computes in. Exact: a bfloat16 is the top 16 bits of the float32 of the same value."""
    array = f.get_tensor(name)
    if array.dtype.name == "bfloat16":
        array = array.astype(np.float32)
    array.flags.writeable = False  # ours alone, and the weights of a model do not change
    return array


def weight_entry(header: Header, name: str, expected: tuple[int, ...], where: object
                 ) -> dict[str, Any]:
    """header[name] (a sound entry: parse_header checked it), after checking that it is a float
    tensor of the `expected` shape."""
    if name not in header:  # where a shard's header disagrees with the index
        raise ValueError(f"{where}: tensor {name} is not in it, though {INDEX_FILE} says so")
    dtype, shape = header[name]["dtype"], tuple(header[name]["shape"])
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"{where}: tensor {name} has dtype {dtype}; "
                         f"supported are {sorted(FLOAT_DTYPES)}")
    if shape != expected:
        raise ValueError(f"{where}: tensor {name} has shape {shape}, "
                         f"but config.json says {expected}")
    return header[name]


@contextlib.contextmanager
def open_safetensors(path: Path) -> Iterator[safe_open]:
    """safe_open(path) for NumPy, its errors (SafetensorError) raised as ValueError naming the
    file."""
    from safetensors import SafetensorError, safe_open  # imported when a file is read

    try:
        with safe_open(path, framework="numpy", backend=BACKEND) as f:
            yield f
    except SafetensorError as e:
        raise ValueError(f"{path} is not a readable safetensors file: {e}") from e


def find_checkpoint_names(keys: set[str], names: dict[str, tuple[str, ...]], where: object,
                          optional: frozenset[str] = frozenset()) -> dict[str, str]:
    """{our name: its one name among `keys`}, or an error naming what was tried."""
    found: dict[str, str] = {}
    for ours, candidates in names.items():
        present = [name for name in candidates if name in keys]
        if len(present) > 1:
            raise ValueError(f"{where}: {ours} is stored twice, as {' and '.join(present)}")
        if present:
            found[ours] = present[0]
        elif ours not in optional:
            nearby = sorted(k for k in keys if "emb" in k)[:8]
            lora = ("; its tables are parametrized (LoRA adapters, e.g. jina-embeddings-v3), "
                    "which this library does not implement"
                    if any("parametrizations" in k for k in keys) else "")
            raise ValueError(f"{where}: missing tensor {ours} (looked for "
                             f"{', '.join(candidates)}); "
                             f"embedding tensors in the file: {nearby or 'none'}{lora}")
    return found

"""The embedding layer's state, kept consistent: nothing derived can disagree with its source.

- What the weights were checked against is read-only: `config`, `dtype` and the family's `spec`
  (a new config means new tables: build a new layer); so are the aliases (`words`, ...).
- What may change is checked where it changes: `num_threads` on assignment; a submodule
  replaced (`emb.position_embeddings = ...`) is checked on assignment against the config, and a
  replacement that does not fit makes every later call raise, on every path, until a fitting one
  is put back; a weight assigned to a submodule is checked by the submodule (nn.py).
- What is derived is derived from what it depends on, by identity: the hot path's folded table
  is remade when a table it was folded from is replaced.
- The verdicts on replacements are an immutable tuple, replaced whole on each assignment, so a
  copy (copy.copy, pickle) never shares them with its original. A shallow copy does share the
  submodules themselves, as any shallow copy would: a weight assigned to one is the other's too
  (copy.deepcopy shares nothing); a submodule replaced on one is not replaced on the other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from . import fast, specs
from .checks import check_shapes
from .config import EmbeddingConfig, integer_at_least
from .nn import Embedding, LayerNorm, Linear, Weights
from .positions import sinusoidal_positions

__all__ = ["COMPUTE_DTYPES", "EncoderInput", "LayerState", "compute_dtype", "replacement_problem"]

# reads named weights from the checkpoint: {our name: shape} -> {our name: array}
WeightReader = Callable[[dict[str, tuple[int, ...]]], Mapping[str, np.ndarray]]

COMPUTE_DTYPES = (np.float32, np.float64)
WHY_READ_ONLY = {  # the attributes that cannot be assigned, and why
    "config": "the weights were checked against it: for another config, build a new layer "
              "(type(emb)(config, weights))",
    "dtype": "the weights are stored in it: for another dtype, load the layer again with dtype=",
    "spec": "it is the family's, its class's: use that family's class",
    "words": "it names the word table whatever the family calls it: assign that table's weight",
    "norm_layer": "it names the LayerNorm whatever the family calls it: assign its weights",
    "pre_norm_projection": "it names embed_proj: assign its weight",
    "projection": "it is read from the checkpoint: assign its weights (projection.weight = ...)",
}


def compute_dtype(dtype: npt.DTypeLike | None) -> np.dtype:
    """float32 or float64 as a NumPy dtype, or an error: None or "bogus" are not a dtype here."""
    try:
        chosen = np.dtype(dtype) if dtype is not None else None
    except TypeError:
        chosen = None
    if chosen is None or chosen not in COMPUTE_DTYPES:
        raise ValueError(f"dtype must be float32 or float64 (np.float32, np.float64), got {dtype!r}")
    return chosen


def thread_count(value: int | None) -> int:
    """num_threads as a positive int; None means the default (BERTEMB_NUM_THREADS, else the cores)."""
    if value is None:
        return fast.default_num_threads()
    if not integer_at_least(value, 1):
        raise ValueError(f"num_threads must be a positive integer (or None: the default), "
                         f"got {value!r}")
    return int(value)


def sinusoidal_table(positions: int, width: int) -> np.ndarray:
    """DistilBERT's sin/cos table, rounded to float32 as DistilBERT stores it (torch.FloatTensor),
    also for float64 study; an error naming the config field if it cannot fit in memory."""
    try:
        return sinusoidal_positions(positions, width).astype(np.float32)
    except MemoryError:
        raise ValueError(f"config field max_position_embeddings={positions}: a {positions} x {width} "
                         "sinusoidal table does not fit in memory") from None


def submodule_kinds(spec: specs.FamilySpec) -> dict[str, type[Weights]]:
    """The attributes that hold a layer's modules, whether or not its config uses them, and the
    kind of module each must be."""
    kinds: dict[str, type[Weights]] = {spec.word: Embedding, "position_embeddings": Embedding,
                                       "token_type_embeddings": Embedding}
    if spec.projection is not None and spec.projection.where == "before_norm":
        kinds[spec.projection.name] = Linear  # DeBERTa's embed_proj
    return {**kinds, spec.norm: LayerNorm}  # in the order the data flows through them


def replacement_problem(config: EmbeddingConfig, dtype: np.dtype, name: str, value: object
                        ) -> str | None:
    """Why `value` cannot be submodule `name` of a layer of this config and dtype, or None if
    it can: it must be the same kind of module with exactly the config's weights (no bias where
    the config has none: the hot path would not add it), in the layer's dtype."""
    shapes = {weight.split(".")[1]: shape for weight, shape in config.weight_shapes().items()
              if weight.startswith(name + ".")}
    if not shapes:
        return None if value is None else f"{name}: this model has none, so it cannot be given one"
    kind = submodule_kinds(config.spec)[name]
    if type(value) is not kind:
        article = "an" if kind.__name__[0] in "AEIOU" else "a"
        return (f"{name} was replaced by {type(value).__name__}: this layer needs {article} "
                f"{kind.__name__} there, exactly (the hot path reads only its weights): "
                "replace weights, not modules")
    for weight in kind.weight_names:
        array, shape = getattr(value, weight), shapes.get(weight)
        if shape is None and array is not None:
            return (f"{name}.{weight}: this model's {name} has none, and the hot path would not use "
                    "it: replace weights, not modules")
        if shape is not None and (array is None or array.shape != shape or array.dtype != dtype):
            found = "none" if array is None else f"{array.dtype} {array.shape}"
            return (f"{name}.{weight} is {found}, but this layer computes in {dtype} with the "
                    f"config's {shape}: replace weights, not modules")
    return None


class EncoderInput:
    """The model's Linear(E, H) applied to the layer's output before the encoder (ALBERT's
    encoder.embedding_hidden_mapping_in, ELECTRA's embeddings_project), read on first use with
    `read(shapes)` (from_pretrained passes the checkpoint's reader): only project=True needs it."""

    def __init__(self, read: WeightReader | None, shapes: dict[str, tuple[int, ...]], name: str,
                 dtype: np.dtype) -> None:
        self.read, self.shapes, self.name, self.dtype = read, shapes, name, dtype
        self.linear: Linear | None = None
        self.lock = threading.Lock()

    def get(self) -> Linear:
        with self.lock:
            if self.linear is None:
                if self.read is None:
                    raise ValueError("this module was built from arrays, not from_pretrained: "
                                     "it has no checkpoint to read the projection from")
                w = check_shapes(self.read(self.shapes), self.shapes)
                weight, bias = (w[name] for name in self.shapes)  # ".weight", then ".bias"
                self.linear = Linear(weight, bias, self.name, self.dtype)
            return self.linear

    def __getstate__(self) -> dict[str, Any]:
        """For pickle and copy: everything but the lock (a new one is made on load)."""
        return {name: value for name, value in self.__dict__.items() if name != "lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, lock=threading.Lock())


class LayerState:
    """The layer's modules, built from `weights` by the config's contract (config.weight_shapes),
    and the state around them, kept consistent (see the file's docstring)."""

    spec: specs.FamilySpec
    # set in __dict__ by __init__ (see there), typed here: the tables every family may have
    position_embeddings: Embedding | None
    token_type_embeddings: Embedding | None
    _config: EmbeddingConfig
    _dtype: np.dtype
    _num_threads: int
    _problems: tuple[tuple[str, str], ...]  # (submodule, why its replacement does not fit)
    _encoder_input: EncoderInput | None
    _added: fast.AddedRows

    def __init__(self, config: EmbeddingConfig, weights: Mapping[str, np.ndarray],
                 dtype: npt.DTypeLike = np.float32, num_threads: int | None = None,
                 read_projection: WeightReader | None = None) -> None:
        if not isinstance(config, EmbeddingConfig):
            raise TypeError(f"config must be an EmbeddingConfig (EmbeddingConfig.from_json_file(path)), "
                            f"got {type(config).__name__}")
        if config.spec is not getattr(type(self), "spec", None):
            raise ValueError(f"this config has model_type {config.model_type!r}: use "
                             f"{config.spec.class_name} (or AutoEmbeddings), not {type(self).__name__}")
        if not isinstance(weights, Mapping):
            raise TypeError(f"weights must be a dict {{name: array}}, got {type(weights).__name__}")
        self.__dict__.update(_config=config, _dtype=compute_dtype(dtype), _problems=())
        self.num_threads = num_threads
        for name, module in build_modules(config, weights, self.dtype).items():
            self.__dict__[name] = module
        projection, spec = config.projection_shapes(), self.spec.projection
        self._encoder_input = (EncoderInput(read_projection, projection, spec.name, self.dtype)
                               if projection and spec is not None else None)
        self._added = fast.AddedRows(None, None)  # the hot path's folded table, made on first use

    @property
    def config(self) -> EmbeddingConfig:
        """The frozen config the weights were checked against: read-only."""
        return self._config

    @property
    def dtype(self) -> np.dtype:
        """The compute dtype, float32 or float64, the weights' own: read-only."""
        return self._dtype

    @property
    def num_threads(self) -> int:
        """Threads of the hot path: a positive integer; assigning None sets the default
        (BERTEMB_NUM_THREADS, else the number of cores)."""
        return self._num_threads

    @num_threads.setter
    def num_threads(self, value: int | None) -> None:
        self.__dict__["_num_threads"] = thread_count(value)

    def __setattr__(self, name: str, value: object) -> None:
        """config and dtype are read-only; a replaced submodule is checked here, once, not on
        every call: if it does not fit, the next call raises (check_state)."""
        if name in WHY_READ_ONLY:
            raise AttributeError(f"{name} is read-only: {WHY_READ_ONLY[name]}")
        if name in submodule_kinds(self.spec):
            problem = replacement_problem(self.config, self.dtype, name, value)
            self.__dict__["_problems"] = tuple(  # a new tuple: never shared, never changed
                (key, why) for key, why in self._problems if key != name) + (
                ((name, problem),) if problem else ())
        super().__setattr__(name, value)

    def check_state(self) -> None:
        """Raise if a submodule was replaced by one that does not fit (see __setattr__)."""
        if self._problems:
            raise ValueError(self._problems[0][1])

    @property
    def words(self) -> Embedding:
        """The word table, whatever the family calls it (word_embeddings; ModernBERT: tok_embeddings)."""
        return getattr(self, self.spec.word)

    @property
    def norm_layer(self) -> LayerNorm:
        """The LayerNorm, whatever the family calls it (LayerNorm; ModernBERT: norm)."""
        return getattr(self, self.spec.norm)

    @property
    def pre_norm_projection(self) -> Linear | None:
        """The Linear(E, H) before LayerNorm (DeBERTa's embed_proj, when E != H), else None."""
        projection = self.spec.projection
        if projection is None or projection.where != "before_norm":
            return None
        return getattr(self, projection.name, None)

    @property
    def projection(self) -> Linear:
        """The model's Linear(E, H) applied to this layer's output before the encoder (ALBERT's
        encoder.embedding_hidden_mapping_in, ELECTRA's embeddings_project), read on first use."""
        if self._encoder_input is None:
            raise ValueError(f"{type(self).__name__} has no projection: its tables are already "
                             f"hidden_size={self.config.hidden_size} wide")
        return self._encoder_input.get()

    def added_rows(self) -> fast.AddedRows:
        """The hot path's folded position + token-type table, remade if either weight was replaced."""
        position = None if self.position_embeddings is None else self.position_embeddings.weight
        token_type = None if self.token_type_embeddings is None else self.token_type_embeddings.weight
        added = self._added
        if added.position is not position or added.token_type is not token_type:
            added = self.__dict__["_added"] = fast.AddedRows(position, token_type)
        return added

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}("]
        for name in submodule_kinds(self.spec):
            if getattr(self, name, None) is not None:
                lines.append(f"  ({name}): {getattr(self, name)!r}")
        lines.append(f"  (dropout): p={self.config.hidden_dropout_prob}, in training only")
        if self._encoder_input is not None:
            E, H = self.config.E, self.config.hidden_size
            lines.append(f"  ({self._encoder_input.name}): Linear({E} -> {H}), with project=True")
        lines.append(f"  dtype={self.dtype}, num_threads={self.num_threads}")
        return "\n".join(lines) + "\n)"


def build_modules(config: EmbeddingConfig, weights: Mapping[str, np.ndarray],
                  dtype: np.dtype) -> dict[str, Embedding | LayerNorm | Linear | None]:
    """The layer's modules by attribute name, from `weights` by our names (config.weight_shapes()),
    each checked against its shape; None for a table the config has none of."""
    spec, shapes, pad = config.spec, config.weight_shapes(), config.pad_token_id
    if config.sinusoidal_pos_embds and "position_embeddings.weight" not in weights:  # DistilBERT
        weights = {**weights, "position_embeddings.weight":
                   sinusoidal_table(*shapes["position_embeddings.weight"])}
    w = check_shapes(weights, shapes)
    modules: dict[str, Embedding | LayerNorm | Linear | None] = {
        spec.word: Embedding(w[f"{spec.word}.weight"], spec.word, pad, dtype),
        "position_embeddings": None, "token_type_embeddings": None}
    if "position_embeddings.weight" in w:
        modules["position_embeddings"] = Embedding(
            w["position_embeddings.weight"], "position_embeddings",
            pad if spec.position_padding_idx else None, dtype)
    if "token_type_embeddings.weight" in w:
        modules["token_type_embeddings"] = Embedding(w["token_type_embeddings.weight"],
                                                     "token_type_embeddings", None, dtype)
    pre = spec.projection
    if pre is not None and f"{pre.name}.weight" in w:  # DeBERTa with E != H: embed_proj
        modules[pre.name] = Linear(w[f"{pre.name}.weight"], None, pre.name, dtype)
    modules[spec.norm] = LayerNorm(w[f"{spec.norm}.weight"], w.get(f"{spec.norm}.bias"),
                                   config.layer_norm_eps, spec.norm, dtype)
    return modules

"""The modules that hold weights: Embedding, LayerNorm and BertEmbeddings.

Each one checks its input, then calls the pure math of `functional.py`. Names and call
signatures follow transformers, so that `emb.word_embeddings.weight` here is
`model.embeddings.word_embeddings.weight` there.

Reference: transformers v5.24.0, src/transformers/models/bert/modeling_bert.py, lines 54-109
(`class BertEmbeddings`); in 4.x (e.g. commit 004ad5f50b627b59bf0d581c31bc0052b6cfd40b) the
position offset argument is `past_key_values_length`, in 5.x it is `cache_length`.
"""

from __future__ import annotations

import os

import numpy as np

from . import loading
from .config import BertConfig
from .functional import embedding, layer_norm

__all__ = ["Embedding", "LayerNorm", "BertEmbeddings"]

COMPUTE_DTYPES = (np.float32, np.float64)


def check_ids(ids, rows: int, what: str) -> np.ndarray:
    """Return `ids` as an integer array, or raise if any id is not a row of a `rows`-row table.

    NumPy would wrap a negative id to a row counted from the end, where PyTorch raises: so do we.
    """
    ids = np.asarray(ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"{what} must be integers, got dtype {ids.dtype}")
    if ids.size:
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= rows:
            bad = low if low < 0 else high
            raise ValueError(f"{what} must be in [0, {rows}), got {bad}"
                             + (" (negative ids are never valid)" if bad < 0 else ""))
    return ids


def check_weight(name: str, weight, shape: tuple[int, ...], dtype) -> np.ndarray:
    """Return `weight` as a C-contiguous `dtype` array, or raise if its shape is not `shape`."""
    weight = np.ascontiguousarray(weight, dtype=dtype)
    if weight.shape != shape:
        raise ValueError(f"{name} has shape {weight.shape}, but the config says {shape}")
    return weight


class Embedding:
    """A lookup table like `torch.nn.Embedding`: row i of `weight` is the vector of id i."""

    def __init__(self, weight: np.ndarray, name: str, padding_idx: int | None = None):
        self.weight = weight  # [rows, H]
        self.name = name  # for messages: "word_embeddings", ...
        self.padding_idx = padding_idx  # only matters for gradients; kept to mirror PyTorch

    def __call__(self, ids) -> np.ndarray:
        ids = check_ids(ids, len(self.weight), f"ids for {self.name}")
        return embedding(self.weight, ids)  # [...] -> [..., H]

    def __repr__(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"Embedding({self.weight.shape[0]}, {self.weight.shape[1]}{pad})"


class LayerNorm:
    """Layer normalization over the last axis, like `torch.nn.LayerNorm(H, eps)`."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, eps: float):
        self.weight = weight  # [H], the scale (called gamma in old checkpoints)
        self.bias = bias  # [H], the shift (called beta)
        self.eps = eps

    def __call__(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=self.weight.dtype)
        if x.ndim == 0 or x.shape[-1] != len(self.weight):
            raise ValueError(f"LayerNorm expects [..., {len(self.weight)}], got shape {x.shape}")
        return layer_norm(x, self.weight, self.bias, self.eps)  # [..., H] -> [..., H]

    def __repr__(self) -> str:
        return f"LayerNorm(({len(self.weight)},), eps={self.eps})"


class BertEmbeddings:
    """BERT's embedding layer: token ids -> the input of the first encoder layer.

        E = LayerNorm(word[input_ids] + token_type[token_type_ids] + position[position_ids])

    This is inference: dropout is not applied (PyTorch's dropout is the identity in eval mode).
    Reproduces `BertEmbeddings` of transformers' modeling_bert.py (v5.24.0, lines 54-109) for
    absolute positions.
    """

    def __init__(self, config: BertConfig, weights: dict[str, np.ndarray], dtype=np.float32):
        if np.dtype(dtype) not in COMPUTE_DTYPES:
            raise ValueError(f"dtype must be float32 or float64, got {np.dtype(dtype)}")
        shapes = config.weight_shapes()
        missing = sorted(set(shapes) - set(weights))
        if missing:
            raise ValueError(f"missing weights: {', '.join(missing)}")
        w = {name: check_weight(name, weights[name], shape, dtype) for name, shape in shapes.items()}
        self.config = config
        self.dtype = np.dtype(dtype)
        self.word_embeddings = Embedding(w["word_embeddings.weight"], "word_embeddings", config.pad_token_id)
        self.position_embeddings = Embedding(w["position_embeddings.weight"], "position_embeddings")
        self.token_type_embeddings = Embedding(w["token_type_embeddings.weight"], "token_type_embeddings")
        self.LayerNorm = LayerNorm(w["LayerNorm.weight"], w["LayerNorm.bias"], config.layer_norm_eps)

    @classmethod
    def from_pretrained(cls, model: str | os.PathLike, *, revision: str | None = None,
                        dtype=np.float32) -> "BertEmbeddings":
        """Load from a local folder or a Hugging Face Hub repo id (config.json + model.safetensors).

        Only the five embedding tensors are read. float16 checkpoints are widened to `dtype`:
        float32 by default, or float64 for exact study.
        """
        config, weights = loading.load_embedding_weights(model, revision=revision)
        return cls(config, weights, dtype=dtype)

    def __call__(self, input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                 past_key_values_length: int = 0) -> np.ndarray:
        """[B, L] token ids (or [B, L, H] `inputs_embeds`) -> [B, L, H] embeddings.

        - token_type_ids: [B, L] or broadcastable to it; missing means all zeros (sentence A).
        - position_ids: [B, L] or broadcastable; missing means
          arange(past_key_values_length, past_key_values_length + L) for every row.
        - past_key_values_length: where positions start (transformers 5 calls it cache_length).
        """
        shape = self._input_shape(input_ids, inputs_embeds)  # (B, L)
        token_type_ids = self._check_broadcast(token_type_ids, shape, "token_type_ids")
        position_ids = self._check_broadcast(position_ids, shape, "position_ids")
        if position_ids is None:
            position_ids = self._default_position_ids(shape[1], past_key_values_length)  # [L]
        if token_type_ids is None:
            token_type_ids = np.zeros(shape[1], dtype=np.int64)  # [L], broadcast over B
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)  # [B, L] -> [B, L, H]
        else:
            inputs_embeds = np.asarray(inputs_embeds, dtype=self.dtype)  # [B, L, H]

        x = inputs_embeds + self.token_type_embeddings(token_type_ids)  # [B, L, H] + [B, L, H]
        x = x + self.position_embeddings(position_ids)  # [B, L, H] + [B, L, H]
        return self.LayerNorm(x)  # [B, L, H] -> [B, L, H]

    def _input_shape(self, input_ids, inputs_embeds) -> tuple[int, int]:
        """(B, L) from exactly one of input_ids [B, L] and inputs_embeds [B, L, H]."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("give exactly one of input_ids and inputs_embeds, not "
                             + ("both" if input_ids is not None else "neither"))
        if input_ids is not None:
            shape = np.shape(input_ids)
            if len(shape) != 2:
                raise ValueError(f"input_ids must be [batch, length], got shape {shape}"
                                 + (" (add a batch axis: ids[None])" if len(shape) == 1 else ""))
            return shape
        inputs_embeds = np.asarray(inputs_embeds)
        H = self.config.hidden_size
        if inputs_embeds.ndim != 3 or inputs_embeds.shape[-1] != H:
            raise ValueError(f"inputs_embeds must be [batch, length, hidden_size={H}], "
                             f"got shape {inputs_embeds.shape}")
        if not np.issubdtype(inputs_embeds.dtype, np.floating):
            raise TypeError(f"inputs_embeds must be floating point, got dtype {inputs_embeds.dtype}")
        return inputs_embeds.shape[:2]

    @staticmethod
    def _check_broadcast(ids, shape: tuple[int, int], name: str):
        """Raise unless `ids` broadcasts to `shape` without changing it; None passes through."""
        if ids is None:
            return None
        ids_shape = np.shape(ids)
        try:
            fits = np.broadcast_shapes(ids_shape, shape) == tuple(shape)
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"{name} of shape {ids_shape} does not broadcast to input shape {tuple(shape)}")
        return ids

    def _default_position_ids(self, length: int, offset: int) -> np.ndarray:
        """arange(offset, offset + length), after checking it stays within the position table."""
        if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)):
            raise TypeError(f"past_key_values_length must be an integer, got {offset!r}")
        P = self.config.max_position_embeddings
        if offset < 0:
            raise ValueError(f"past_key_values_length must be >= 0, got {offset}")
        if offset + length > P:
            raise ValueError(f"sequence length {length} + past_key_values_length {offset} = {offset + length} "
                             f"exceeds max_position_embeddings={P}")
        return np.arange(offset, offset + length)  # [L]

    def __repr__(self) -> str:
        return ("BertEmbeddings(\n"
                f"  (word_embeddings): {self.word_embeddings!r}\n"
                f"  (position_embeddings): {self.position_embeddings!r}\n"
                f"  (token_type_embeddings): {self.token_type_embeddings!r}\n"
                f"  (LayerNorm): {self.LayerNorm!r}\n"
                f"  (dropout): not applied (inference), p={self.config.hidden_dropout_prob}\n"
                f"  dtype={self.dtype}\n"
                ")")

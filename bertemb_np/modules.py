"""The modules that hold weights: Embedding, LayerNorm and BertEmbeddings.

Each one checks its input, then calls the pure math of `functional.py`; BertEmbeddings runs the
same math through the hot path of `fast.py` and keeps the plain version as `reference()`.
Names and call signatures follow transformers, so that `emb.word_embeddings.weight` here is
`model.embeddings.word_embeddings.weight` there.

Reference: transformers v5.24.0, src/transformers/models/bert/modeling_bert.py, lines 54-109
(`class BertEmbeddings`); in 4.x (e.g. commit 004ad5f50b627b59bf0d581c31bc0052b6cfd40b) the
position offset argument is `past_key_values_length`, in 5.x it is `cache_length`.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from . import fast, loading
from .config import BertConfig
from .functional import dropout, dropout_backward, embedding, layer_norm

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
    """Return `weight` as a C-contiguous `dtype` array of `shape`, made read-only, or raise.

    The module keeps the array (no copy) and derives tables from it, so it must not change in
    place: an array handed in as it is becomes read-only for its owner too. To change a weight,
    assign a new array.
    """
    array = np.asarray(weight, dtype=dtype, order="C")
    if array.shape != shape:
        raise ValueError(f"{name} has shape {array.shape}, but the config says {shape}")
    array.flags.writeable = False
    return array


class Embedding:
    """A lookup table like `torch.nn.Embedding`: row i of `weight` is the vector of id i."""

    def __init__(self, weight: np.ndarray, name: str, padding_idx: int | None = None):
        self._weight = weight  # [rows, H], read-only (check_weight)
        self.name = name  # for messages: "word_embeddings", ...
        self.padding_idx = padding_idx  # its row gets no gradient, as in PyTorch

    @property
    def weight(self) -> np.ndarray:
        return self._weight

    @weight.setter
    def weight(self, value) -> None:
        """A new table of the same shape (e.g. after a training step); cast to the compute dtype."""
        self._weight = check_weight(f"{self.name}.weight", value, self._weight.shape, self._weight.dtype)

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


class Inputs(NamedTuple):
    """The checked inputs of one forward pass; exactly one of input_ids and inputs_embeds is set."""

    input_ids: np.ndarray | None  # [B, L] int
    inputs_embeds: np.ndarray | None  # [B, L, H] in the compute dtype
    token_type_ids: np.ndarray  # broadcastable to [B, L] int
    position_ids: np.ndarray  # broadcastable to [B, L] int
    shape: tuple[int, int]  # (B, L)


class BertEmbeddings:
    """BERT's embedding layer: token ids -> the input of the first encoder layer.

        E = LayerNorm(word[input_ids] + token_type[token_type_ids] + position[position_ids])

    This is inference: dropout is not applied (PyTorch's dropout is the identity in eval mode).
    Reproduces `BertEmbeddings` of transformers' modeling_bert.py (v5.24.0, lines 54-109) for
    absolute positions. `reference()` is the forward pass written as the equation; calling the
    module runs the same math through the fused, threaded hot path of `fast.py`.
    """

    def __init__(self, config: BertConfig, weights: dict[str, np.ndarray], dtype=np.float32,
                 num_threads: int | None = None):
        if np.dtype(dtype) not in COMPUTE_DTYPES:
            raise ValueError(f"dtype must be float32 or float64, got {np.dtype(dtype)}")
        shapes = config.weight_shapes()
        missing = sorted(set(shapes) - set(weights))
        if missing:
            raise ValueError(f"missing weights: {', '.join(missing)}")
        w = {name: check_weight(name, weights[name], shape, dtype) for name, shape in shapes.items()}
        self.config = config
        self.dtype = np.dtype(dtype)
        self.num_threads = fast.default_num_threads() if num_threads is None else num_threads
        if isinstance(self.num_threads, bool) or not isinstance(self.num_threads, int) or self.num_threads < 1:
            raise ValueError(f"num_threads must be a positive integer, got {self.num_threads!r}")
        self.word_embeddings = Embedding(w["word_embeddings.weight"], "word_embeddings", config.pad_token_id)
        self.position_embeddings = Embedding(w["position_embeddings.weight"], "position_embeddings")
        self.token_type_embeddings = Embedding(w["token_type_embeddings.weight"], "token_type_embeddings")
        self.LayerNorm = LayerNorm(w["LayerNorm.weight"], w["LayerNorm.bias"], config.layer_norm_eps)
        self._table = (None, None, None)  # (position weight, token type weight, their folded sum)

    @classmethod
    def from_pretrained(cls, model: str | os.PathLike, *, revision: str | None = None, partial: bool = True,
                        dtype=np.float32, num_threads: int | None = None) -> "BertEmbeddings":
        """Load from a local folder or a Hugging Face Hub repo id (config.json + model.safetensors,
        or the shards of model.safetensors.index.json that hold the embeddings).

        Only the five embedding tensors are read. From the Hub, partial=True (the default)
        fetches only their bytes, cached under BERTEMB_CACHE for offline use; partial=False
        downloads whole files with hf_hub_download. float16 and bfloat16 weights are widened
        exactly to `dtype`: float32 by default, or float64 for exact study. num_threads defaults
        to BERTEMB_NUM_THREADS, else the machine's cores.
        """
        config, weights = loading.load_embedding_weights(model, revision=revision, partial=partial)
        return cls(config, weights, dtype=dtype, num_threads=num_threads)

    def __call__(self, input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                 past_key_values_length: int = 0, training: bool = False,
                 rng: np.random.Generator | None = None) -> np.ndarray:
        """[B, L] token ids (or [B, L, H] `inputs_embeds`) -> [B, L, H] embeddings.

        - token_type_ids: [B, L] or broadcastable to it; missing means all zeros (sentence A).
        - position_ids: [B, L] or broadcastable; missing means
          arange(past_key_values_length, past_key_values_length + L) for every row.
        - past_key_values_length: where positions start (transformers 5 calls it cache_length).
        - training: apply dropout (p = config.hidden_dropout_prob) with `rng`
          (default: a fresh np.random.default_rng()). Off by default: inference.

        Computes `reference()`'s math on the fused hot path (fast.py): same result within a few ulps.
        """
        x = self.check_inputs(input_ids, token_type_ids, position_ids, inputs_embeds, past_key_values_length)
        (B, L), H, P = x.shape, self.config.hidden_size, self.config.max_position_embeddings
        table_ids = np.broadcast_to(x.token_type_ids * P + x.position_ids, (B, L)).ravel()  # [B * L]
        out = fast.embed_layer_norm(
            self.word_embeddings.weight,
            None if x.input_ids is None else x.input_ids.ravel(),  # [B * L]
            None if x.inputs_embeds is None else x.inputs_embeds.reshape(B * L, H),
            self.position_type_table(), table_ids,
            self.LayerNorm.weight, self.LayerNorm.bias, self.LayerNorm.eps, self.num_threads).reshape(B, L, H)
        return self._dropout(out, training, rng)[0]

    def reference(self, input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                  past_key_values_length: int = 0, training: bool = False,
                  rng: np.random.Generator | None = None) -> np.ndarray:
        """The forward pass written as the equation; takes the same arguments as calling the module."""
        x = self.check_inputs(input_ids, token_type_ids, position_ids, inputs_embeds, past_key_values_length)
        e = self._sum_embeddings(x)  # [B, L, H]
        return self._dropout(self.LayerNorm(e), training, rng)[0]  # [B, L, H] -> [B, L, H]

    def vjp(self, input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
            past_key_values_length: int = 0, training: bool = False, rng: np.random.Generator | None = None):
        """The forward pass and a function that takes it back: (out, vjp), with vjp(grad_out) -> gradients.

        Takes the same arguments as calling the module. `vjp(grad_out)`, for grad_out = dL/d(out)
        of shape [B, L, H], returns dL/d(each weight) by name, "word_embeddings.weight" [V, H],
        "position_embeddings.weight" [P, H], "token_type_embeddings.weight" [T, H],
        "LayerNorm.weight" [H], "LayerNorm.bias" [H]; when the forward was given inputs_embeds,
        "inputs_embeds" [B, L, H] instead of the word embeddings' gradient. The forward is
        `reference()`'s math; what the backward needs lives in the closure, not on the module.
        Reproduces PyTorch autograd through transformers' BertEmbeddings.
        """
        x = self.check_inputs(input_ids, token_type_ids, position_ids, inputs_embeds, past_key_values_length)
        e = self._sum_embeddings(x)  # [B, L, H], the input of LayerNorm
        out, keep = self._dropout(self.LayerNorm(e), training, rng)
        shape = (*x.shape, self.config.hidden_size)
        p = self.config.hidden_dropout_prob

        def backward(grad_out) -> dict[str, np.ndarray]:
            grad_out = np.asarray(grad_out)
            if grad_out.shape != shape or not np.issubdtype(grad_out.dtype, np.floating):
                raise ValueError(f"grad_out must be a float array of the output's shape {shape}, "
                                 f"got {grad_out.dtype} {grad_out.shape}")
            g = grad_out.astype(self.dtype, copy=False)  # [B, L, H]
            if keep is not None:
                g = dropout_backward(g, keep, p)  # zero where dropout dropped
            H = self.config.hidden_size
            grad_e, grad_ln_weight, grad_ln_bias = fast.layer_norm_backward(  # functional.layer_norm_backward, blocked
                g.reshape(-1, H), e.reshape(-1, H), self.LayerNorm.weight, self.LayerNorm.eps, self.num_threads)
            grad_e = grad_e.reshape(shape)  # [B, L, H]
            c = self.config
            grads = {  # e = word + token_type + position: each term gets all of grad_e
                "position_embeddings.weight": fast.embedding_backward(
                    *unbroadcast(grad_e, x.position_ids), c.max_position_embeddings),
                "token_type_embeddings.weight": fast.embedding_backward(
                    *unbroadcast(grad_e, x.token_type_ids), c.type_vocab_size),
                "LayerNorm.weight": grad_ln_weight,
                "LayerNorm.bias": grad_ln_bias,
            }
            if x.inputs_embeds is None:
                grads["word_embeddings.weight"] = fast.embedding_backward(
                    grad_e, x.input_ids, c.vocab_size, self.word_embeddings.padding_idx)
            else:
                grads["inputs_embeds"] = grad_e
            return grads

        return out, backward

    def _sum_embeddings(self, x: Inputs) -> np.ndarray:
        """word + token_type + position, in transformers' order: [B, L, H]."""
        if x.inputs_embeds is None:
            e = self.word_embeddings(x.input_ids)  # [B, L] -> [B, L, H]
        else:
            e = x.inputs_embeds  # [B, L, H]
        e = e + self.token_type_embeddings(x.token_type_ids)  # [B, L, H] + [B, L, H]
        return e + self.position_embeddings(x.position_ids)  # [B, L, H] + [B, L, H]

    def _dropout(self, out: np.ndarray, training: bool, rng) -> tuple[np.ndarray, np.ndarray | None]:
        """(out, None) at inference; (dropped-out out, kept mask) when training."""
        if not training:
            return out, None
        if rng is None:
            rng = np.random.default_rng()
        elif not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {rng!r}")
        return dropout(out, self.config.hidden_dropout_prob, rng)

    def position_type_table(self) -> np.ndarray:
        """token_type + position rows folded into one [T * P, H] table, remade if either weight is replaced."""
        position, token_type, table = self._table
        if position is not self.position_embeddings.weight or token_type is not self.token_type_embeddings.weight:
            position, token_type = self.position_embeddings.weight, self.token_type_embeddings.weight
            table = fast.position_type_table(position, token_type)
            self._table = (position, token_type, table)
        return table

    def check_inputs(self, input_ids, token_type_ids, position_ids, inputs_embeds,
                     past_key_values_length) -> Inputs:
        """Check every argument of a forward pass and fill in the defaults, or raise naming the problem."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("give exactly one of input_ids and inputs_embeds, not "
                             + ("both" if input_ids is not None else "neither"))
        c = self.config
        if input_ids is not None:
            input_ids = check_ids(input_ids, c.vocab_size, "input_ids")
            if input_ids.ndim != 2:
                raise ValueError(f"input_ids must be [batch, length], got shape {input_ids.shape}"
                                 + (" (add a batch axis: ids[None])" if input_ids.ndim == 1 else ""))
            shape = input_ids.shape
        else:
            inputs_embeds = np.asarray(inputs_embeds)
            if inputs_embeds.ndim != 3 or inputs_embeds.shape[-1] != c.hidden_size:
                raise ValueError(f"inputs_embeds must be [batch, length, hidden_size={c.hidden_size}], "
                                 f"got shape {inputs_embeds.shape}")
            if not np.issubdtype(inputs_embeds.dtype, np.floating):
                raise TypeError(f"inputs_embeds must be floating point, got dtype {inputs_embeds.dtype}")
            inputs_embeds = inputs_embeds.astype(self.dtype, copy=False)
            shape = inputs_embeds.shape[:2]
        if token_type_ids is None:
            token_type_ids = np.zeros(shape[1], dtype=np.int64)  # [L]: sentence A
        else:
            token_type_ids = check_broadcast(check_ids(token_type_ids, c.type_vocab_size, "token_type_ids"),
                                             shape, "token_type_ids")
        if position_ids is None:
            position_ids = default_position_ids(shape[1], past_key_values_length, c.max_position_embeddings)
        else:
            position_ids = check_broadcast(check_ids(position_ids, c.max_position_embeddings, "position_ids"),
                                           shape, "position_ids")
        return Inputs(input_ids, inputs_embeds, token_type_ids, position_ids, tuple(shape))

    def __repr__(self) -> str:
        return ("BertEmbeddings(\n"
                f"  (word_embeddings): {self.word_embeddings!r}\n"
                f"  (position_embeddings): {self.position_embeddings!r}\n"
                f"  (token_type_embeddings): {self.token_type_embeddings!r}\n"
                f"  (LayerNorm): {self.LayerNorm!r}\n"
                f"  (dropout): not applied (inference), p={self.config.hidden_dropout_prob}\n"
                f"  dtype={self.dtype}, num_threads={self.num_threads}\n"
                ")")


def unbroadcast(grad: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ids broadcast over [B, L] (e.g. default positions [L]): grad [B, L, H] summed over the
    broadcast axes, and ids as [b, l]. One id looked up for B rows gets the sum of B gradients."""
    ids = ids.reshape((1,) * (2 - ids.ndim) + ids.shape)  # [b, l], b in (1, B), l in (1, L)
    axes = tuple(axis for axis in (0, 1) if ids.shape[axis] == 1 and grad.shape[axis] != 1)
    return grad.sum(axis=axes, keepdims=True), ids  # [b, l, H], [b, l]


def check_broadcast(ids: np.ndarray, shape: tuple[int, int], name: str) -> np.ndarray:
    """Raise unless `ids` broadcasts to `shape` without changing it."""
    try:
        fits = np.broadcast_shapes(ids.shape, shape) == tuple(shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{name} of shape {ids.shape} does not broadcast to input shape {tuple(shape)}")
    return ids


def default_position_ids(length: int, offset, max_positions: int) -> np.ndarray:
    """arange(offset, offset + length), after checking it stays within the position table."""
    if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)):
        raise TypeError(f"past_key_values_length must be an integer, got {offset!r}")
    if offset < 0:
        raise ValueError(f"past_key_values_length must be >= 0, got {offset}")
    if offset + length > max_positions:
        raise ValueError(f"sequence length {length} + past_key_values_length {offset} = {offset + length} "
                         f"exceeds max_position_embeddings={max_positions}")
    return np.arange(offset, offset + length)  # [L]

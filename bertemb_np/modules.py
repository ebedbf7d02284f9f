"""The family's embedding layers: `Embeddings`, its passes, and one class per family.

`Embeddings` is the one embedding layer of the whole family; what tells BertEmbeddings from
RobertaEmbeddings, DebertaV2Embeddings, ... is only its spec (specs.py), so each family's class
below is a name, the file it reproduces, and its spec. Names and call signatures follow
transformers, so that `emb.word_embeddings.weight` here is `model.embeddings.word_embeddings.weight`
there. Calling the layer runs the hot path of `fast.py`; `reference()` is the same math written
as the equation (functional.py), and `vjp()` its backward pass. Who does the rest:
    nn.py        Embedding, LayerNorm, Linear: the modules the layer is made of
    state.py     LayerState: the layer's modules and state, kept consistent (read-only config)
    checks.py    checking the arguments of a pass, defaults filled in (positions.py's rules)
    loading.py   reading a checkpoint, for from_pretrained
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import fast, nn, specs
from .checks import Handover, Inputs, check_flag, check_inputs
from .functional import dropout, dropout_backward, linear_backward
from .loading import Checkpoint
from .nn import Embedding, LayerNorm, Linear
from .state import LayerState, compute_dtype

__all__ = ["AlbertEmbeddings", "AutoEmbeddings", "BertEmbeddings", "DebertaV2Embeddings",
           "DistilBertEmbeddings", "ElectraEmbeddings", "Embedding", "Embeddings", "GteEmbeddings",
           "LayerNorm", "Linear", "ModernBertEmbeddings", "MPNetEmbeddings", "NomicBertEmbeddings",
           "RobertaEmbeddings"]

# spec.class_name -> its class (Embeddings.__init_subclass__)
FAMILY_CLASSES: dict[str, type[Embeddings]] = {}


class Tape(NamedTuple):
    """What the backward pass needs of one forward pass, as PyTorch's autograd saves it: the
    checked inputs, the values in between, and the weights as they were (a weight assigned
    before the backward pass, by another thread say, must not change the gradients)."""

    x: Inputs
    saved: fast.Saved  # LayerNorm's x_hat [N, H] and 1/sigma [N] (and embed_proj's input [N, E])
    dropped: np.ndarray  # [B, L, H] after the mask and dropout: the projection's input
    keep: np.ndarray | None  # where dropout kept values; None: no dropout
    out: np.ndarray  # [B, L, H] the output
    norm: tuple[np.ndarray, bool]  # LayerNorm's weight [H], and whether it has a bias
    pre: np.ndarray | None  # embed_proj's weight [H, E] (DeBERTa with E != H)
    projection: np.ndarray | None  # the encoder-input projection's weight [H, E], if applied
    sparse: bool  # the word table's gradient as fast.SparseRows (the rows used), not [V, E]


class Fused(NamedTuple):
    """The hot path's LayerNorm output, with the weights it was computed with."""

    normed: np.ndarray  # [B, L, H]: LayerNorm(e) * attention_mask
    saved: fast.Saved | None  # what the backward pass needs, when asked for
    norm: tuple[np.ndarray, bool]  # LayerNorm's weight [H], and whether it has a bias
    pre: np.ndarray | None  # embed_proj's weight [H, E], if any


FamilyT = TypeVar("FamilyT", bound="Embeddings")  # a family's class: from_pretrained returns one


class Embeddings(LayerState):
    """The embedding layer of the BERT family: token ids -> the input of the first encoder layer.

        e   = word[input_ids] + token_type[token_type_ids] + position[position_ids]   # [B, L, E]
        e   = embed_proj(e)                       # DeBERTa with E != H only: [B, L, E] -> [B, L, H]
        out = LayerNorm(e) * attention_mask       # the mask for DeBERTa only
        out = dropout(out)                        # training only
        out = projection(out)                     # project=True, ALBERT/ELECTRA with E != H

    The terms that exist, their order and the rule for default position ids come from the spec.
    Use a family's class (BertEmbeddings, ...) or AutoEmbeddings, which picks it. Built from
    `(config, weights by our names (config.weight_shapes()), dtype, num_threads)`; see state.py.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A family's class registers itself under its spec's class name, for AutoEmbeddings."""
        super().__init_subclass__(**kwargs)
        if "spec" in cls.__dict__:
            FAMILY_CLASSES[cls.spec.class_name] = cls

    @classmethod
    def from_pretrained(cls: type[FamilyT], model: str | os.PathLike[str], *,
                        revision: str | None = None, partial: bool = True, dtype: DTypeLike = np.float32,
                        num_threads: int | None = None, token: str | bool | None = None,
                        local_files_only: bool = False,
                        cache_dir: str | os.PathLike[str] | None = None) -> FamilyT:
        """Load from a local folder or a Hugging Face Hub repo id (config.json + model.safetensors,
        or the shards of model.safetensors.index.json that hold the embeddings).

        Only the embedding tensors are read. From the Hub, partial=True (the default) fetches
        only their bytes, cached under BERTEMB_CACHE for offline use; partial=False downloads
        whole files with hf_hub_download. float16 and bfloat16 weights are widened exactly to
        `dtype`: float32 by default, or float64 for exact study. num_threads defaults to
        BERTEMB_NUM_THREADS, else the machine's cores. token: for private or gated Hub repos,
        as huggingface_hub takes it (default: the logged-in token or HF_TOKEN).
        local_files_only and cache_dir as in transformers: never ask the Hub (a local folder or
        what is cached), and the Hub cache folder to use instead of HF_HUB_CACHE.
        """
        layer = load_pretrained(cls, model, revision, partial, dtype, num_threads, token,
                                local_files_only, cache_dir)
        assert isinstance(layer, cls)  # a family's class loads its own model type, or raises
        return layer

    # --- the forward pass, fast ---------------------------------------------------------------------

    def __call__(self, input_ids: ArrayLike | None = None,
                 token_type_ids: ArrayLike | None = None, position_ids: ArrayLike | None = None,
                 inputs_embeds: ArrayLike | None = None, attention_mask: ArrayLike | None = None,
                 cache_length: int | None = None, training: bool = False,
                 rng: np.random.Generator | None = None, project: bool = False,
                 past_key_values_length: int | None = None) -> np.ndarray:
        """[B, L] token ids (or [B, L, E] `inputs_embeds`) -> [B, L, H] embeddings.

        - token_type_ids: [B, L] or broadcastable; missing means all zeros (sentence A).
          Refused by families without token types (RoBERTa-style tokenizers give none);
          checked and ignored where the model has no table (type_vocab_size 0: DeBERTa-v3, GTE).
        - position_ids: [B, L] or broadcastable; missing means the family's rule (positions.py):
          BERT's arange(cache_length, cache_length + L), RoBERTa's count of non-pad tokens, ...
        - attention_mask: [B, L] of 0/1. DeBERTa multiplies its output by it (padding rows
          come out 0); every other family checks its shape and does not use it.
        - cache_length: where positions start, for families whose rule takes it
          (past_key_values_length: its transformers 4 name).
        - training: apply dropout (p = config.hidden_dropout_prob) with `rng`
          (default: a fresh np.random.default_rng()). Off by default: inference.
        - project: for ALBERT and ELECTRA with E != H, also apply the model's Linear(E, H)
          (read from the checkpoint on first use), giving the first encoder layer's input.

        Computes `reference()`'s math on the fused hot path (fast.py): same result within a few ulps.
        """
        x = self.check(input_ids, token_type_ids, position_ids, inputs_embeds, attention_mask,
                       cache_length, past_key_values_length)
        projection = self.projection if self.projects(project) else None
        return self.after_norm(self.fused(x).normed, training, rng, projection)[-1]

    def fused(self, x: Inputs, save: bool = False) -> Fused:
        """LayerNorm(word + token_type + position [, embed_proj]) * attention_mask on checked
        inputs, in one fused pass (fast.py); with save=True, also what the backward needs."""
        (B, L), norm, pre = x.shape, self.norm_layer, self.pre_norm_projection
        weight, bias, pre_weight = norm.weight, norm.bias, None if pre is None else pre.weight
        added, mask = self.added_rows(), self.output_mask(x)
        kernel = fast.embed_layer_norm_saved if save else fast.embed_layer_norm
        result = kernel(
            self.words.weight,
            None if x.input_ids is None else x.input_ids.ravel(),  # [B * L]
            None if x.inputs_embeds is None else x.inputs_embeds.reshape(B * L, self.config.E),
            added.table, added.ids(x.position_ids, x.token_type_ids, (B, L)),
            weight, bias, norm.eps, self.num_threads, projection=pre_weight,
            mask=None if mask is None else mask.reshape(-1).astype(self.dtype, copy=False))
        normed, saved = result if isinstance(result, tuple) else (result, None)  # [B * L, H]
        return Fused(normed.reshape(B, L, normed.shape[-1]), saved, (weight, bias is not None),
                     pre_weight)

    # --- the forward pass, as the equation ----------------------------------------------------------

    def reference(self, input_ids: ArrayLike | None = None,
                  token_type_ids: ArrayLike | None = None, position_ids: ArrayLike | None = None,
                  inputs_embeds: ArrayLike | None = None, attention_mask: ArrayLike | None = None,
                  cache_length: int | None = None, training: bool = False,
                  rng: np.random.Generator | None = None, project: bool = False,
                  past_key_values_length: int | None = None) -> np.ndarray:
        """The forward pass written as the equation; takes the same arguments as calling the module."""
        x = self.check(input_ids, token_type_ids, position_ids, inputs_embeds, attention_mask,
                       cache_length, past_key_values_length)
        return self.forward(x, training, rng, project)

    def forward(self, x: Inputs, training: bool, rng: np.random.Generator | None,
                project: bool) -> np.ndarray:
        """The equation, step by step, on checked inputs: [B, L, H]."""
        norm, pre = self.norm_layer, self.pre_norm_projection
        projection = self.projection if self.projects(project) else None
        summed = self.summed_terms(x)  # [B, L, E]: word + token_type + position, in the family's order
        e = summed if pre is None else pre(summed)  # DeBERTa's embed_proj: [B, L, E] -> [B, L, H]
        normed = norm(e)  # LayerNorm: [B, L, H]
        mask = self.output_mask(x)
        if mask is not None:
            normed = normed * mask  # DeBERTa: padding rows become 0, [B, L, H] * [B, L, 1]
        return self.after_norm(normed, training, rng, projection)[-1]

    def summed_terms(self, x: Inputs) -> np.ndarray:
        """The terms of the family, summed left to right in its order: [B, L, E]."""
        types, positions = self.token_type_embeddings, self.position_embeddings  # None: no term
        terms = {
            "word": x.inputs_embeds if x.input_ids is None else self.words(x.input_ids),  # [B, L, E]
            "token_type": (None if x.token_type_ids is None or types is None
                           else types(x.token_type_ids)),
            "position": (None if x.position_ids is None or positions is None
                         else positions(x.position_ids)),
        }
        present = [term for name in self.spec.sum_order
                   if (term := terms[name]) is not None]
        e = present[0]
        for term in present[1:]:
            e = e + term  # broadcast: [B, L, E] + [L, E] or [B, L, E]
        return np.broadcast_to(e, (*x.shape, e.shape[-1]))

    def after_norm(self, normed: np.ndarray, training: bool, rng: np.random.Generator | None,
                   projection: Linear | None
                   ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """The steps after LayerNorm (and DeBERTa's mask), each where it applies: (dropped, keep,
        out), with

            dropped = dropout(normed)           # training only; keep: where it kept values
            out     = projection(dropped)       # project=True: ALBERT's, ELECTRA's with E != H
        """
        dropped, keep = training_dropout(normed, self.config.hidden_dropout_prob, training, rng)
        return dropped, keep, dropped if projection is None else projection(dropped)

    def output_mask(self, x: Inputs) -> np.ndarray | None:
        """attention_mask as [B, L, 1], for a family whose output it multiplies (DeBERTa), else None."""
        if not self.spec.output_mask or x.attention_mask is None:
            return None
        return x.attention_mask[..., None]

    def projects(self, project: bool) -> bool:
        """Whether project=True changes anything: an encoder-input projection from E != H."""
        return check_flag(project, "project") and bool(self.config.projection_shapes())

    # --- the backward pass ----------------------------------------------------------------------------

    def vjp(self, input_ids: ArrayLike | None = None, token_type_ids: ArrayLike | None = None,
            position_ids: ArrayLike | None = None, inputs_embeds: ArrayLike | None = None,
            attention_mask: ArrayLike | None = None, cache_length: int | None = None,
            training: bool = False, rng: np.random.Generator | None = None, project: bool = False,
            past_key_values_length: int | None = None, sparse: bool = False
            ) -> tuple[np.ndarray, Callable[[ArrayLike], dict[str, np.ndarray | fast.SparseRows]]]:
        """The forward pass and a function that takes it back: (out, vjp), vjp(grad_out) -> gradients.

        Takes the same arguments as calling the module. `vjp(grad_out)`, for grad_out = dL/d(out)
        of the output's shape, returns dL/d(each weight) by its name in transformers'
        module (e.g. "word_embeddings.weight" [V, E], "LayerNorm.bias" [H], and with project=True
        the projection's, e.g. "embedding_hidden_mapping_in.weight" [H, E]); when the forward was
        given inputs_embeds, "inputs_embeds" [B, L, E] instead of the word table's. With
        sparse=True the word table's gradient is a fast.SparseRows: the used row ids
        (`.indices` [K], sorted) and their summed gradient rows (`.values` [K, E]), as
        torch.nn.Embedding(sparse=True) gives it; `.dense()` makes the [V, E] array.
        The forward is the hot path's (bitwise the same output as calling the module), keeping
        what the backward needs in its Tape, not on the module. Reproduces PyTorch autograd
        through the family's transformers module.
        """
        x = self.check(input_ids, token_type_ids, position_ids, inputs_embeds, attention_mask,
                       cache_length, past_key_values_length)
        sparse = check_flag(sparse, "sparse")
        projection = self.projection if self.projects(project) else None
        fused = self.fused(x, save=True)
        assert fused.saved is not None  # save=True: saved
        dropped, keep, out = self.after_norm(fused.normed, training, rng, projection)
        tape = Tape(x, fused.saved, dropped, keep, out, fused.norm, fused.pre,
                    None if projection is None else projection.weight, sparse)
        return out, functools.partial(self.backward, tape)

    def backward(self, tape: Tape, grad_out: ArrayLike) -> dict[str, np.ndarray | fast.SparseRows]:
        """dL/d(each weight) by its transformers name, given dL/d(out) of tape's forward pass."""
        grad = np.asarray(grad_out)
        if grad.shape != tape.out.shape or not np.issubdtype(grad.dtype, np.floating):
            raise ValueError(f"grad_out must be a float array of the output's shape {tape.out.shape}, "
                             f"got {grad.dtype} {grad.shape}")
        spec, (B, L) = self.spec, tape.x.shape
        grads: dict[str, np.ndarray | fast.SparseRows] = {}
        g = grad.astype(self.dtype, copy=False)  # [B, L, H]
        if tape.projection is not None:  # out = dropped W^T + b
            g, *weight_grads = linear_backward(g, tape.dropped, tape.projection)
            grads.update(zip(self.config.projection_shapes(), weight_grads, strict=True))
        if tape.keep is not None:
            g = dropout_backward(g, tape.keep, self.config.hidden_dropout_prob)  # zero where dropped
        mask = self.output_mask(tape.x)
        if mask is not None:
            g = g * mask  # normed * mask
        (weight, has_bias), H = tape.norm, g.shape[-1]
        grad_e, grads[f"{spec.norm}.weight"], grad_bias = fast.layer_norm_backward_saved(
            g.reshape(-1, H), tape.saved, weight, self.num_threads)  # [B * L, H]
        if has_bias:
            grads[f"{spec.norm}.bias"] = grad_bias
        if tape.pre is not None and spec.projection is not None and tape.saved.summed is not None:
            grad_e, grads[f"{spec.projection.name}.weight"], _ = linear_backward(  # e = summed W^T
                grad_e, tape.saved.summed, tape.pre)  # [B * L, E]
        # e = word + token_type + position: each term gets all of grad_e
        grad_e = grad_e.reshape(B, L, grad_e.shape[-1])  # [B, L, E]
        grads.update(self.term_gradients(tape.x, grad_e, tape.sparse))
        return grads

    def term_gradients(self, x: Inputs, grad_e: np.ndarray,
                       sparse: bool) -> dict[str, np.ndarray | fast.SparseRows]:
        """dL/d(each table) given dL/de [B, L, E]: a scatter-add of grad_e by the ids of each term."""
        grads: dict[str, np.ndarray | fast.SparseRows] = {}
        for name, ids in (("position_embeddings", x.position_ids),
                          ("token_type_embeddings", x.token_type_ids)):
            if ids is not None:
                table = getattr(self, name)
                grads[f"{name}.weight"] = fast.embedding_backward(
                    *unbroadcast(grad_e, ids), len(table.weight), table.padding_idx)
        if x.input_ids is None:  # given inputs_embeds
            grads["inputs_embeds"] = grad_e
            return grads
        words = (fast.embedding_backward_sparse if sparse else fast.embedding_backward)
        grads[f"{self.spec.word}.weight"] = words(grad_e, x.input_ids, len(self.words.weight),
                                                  self.words.padding_idx)
        return grads

    # --- the inputs -----------------------------------------------------------------------------------

    def check(self, input_ids: ArrayLike | None = None, token_type_ids: ArrayLike | None = None,
              position_ids: ArrayLike | None = None, inputs_embeds: ArrayLike | None = None,
              attention_mask: ArrayLike | None = None, cache_length: int | None = None,
              past_key_values_length: int | None = None) -> Inputs:
        """The checked arguments, the family's defaults filled in (checks.check_inputs), after
        checking that no submodule was replaced by one that does not fit (state.py)."""
        self.check_state()
        return check_inputs(self.config, self.dtype, input_ids, token_type_ids, position_ids,
                            inputs_embeds, attention_mask, cache_length, past_key_values_length)


def load_pretrained(cls: type[Embeddings], model: str | os.PathLike[str], revision: str | None,
                    partial: bool, dtype: DTypeLike, num_threads: int | None,
                    token: str | bool | None, local_files_only: bool,
                    cache_dir: str | os.PathLike[str] | None) -> Embeddings:
    """Embeddings.from_pretrained's work: the layer of cls (AutoEmbeddings: of config.json's
    family), its tables read from the checkpoint."""
    compute_dtype(dtype)  # refused before anything is read
    checkpoint = Checkpoint(model, revision=revision, partial=partial, token=token,
                            local_files_only=local_files_only, cache_dir=cache_dir)
    config = checkpoint.config
    if cls is not AutoEmbeddings and config.spec is not getattr(cls, "spec", None):
        raise ValueError(f"{checkpoint.config_path} has model_type {config.model_type!r}: load it "
                         f"with {config.spec.class_name} or AutoEmbeddings, not {cls.__name__}")
    family = FAMILY_CLASSES[config.spec.class_name] if cls is AutoEmbeddings else cls
    optional = frozenset({"position_embeddings.weight"} if config.sinusoidal_pos_embds else ())
    weights = checkpoint.tensors(config.weight_shapes(), optional)
    word = f"{config.spec.word}.weight"
    weights[word] = weights[word].view(Handover)  # ours alone, and nothing derived from it: no copy
    return family(config, weights, dtype=dtype, num_threads=num_threads,
                  read_projection=functools.partial(checkpoint.tensors, group="projection"))


def training_dropout(x: np.ndarray, p: float, training: bool, rng: np.random.Generator | None
                     ) -> tuple[np.ndarray, np.ndarray | None]:
    """(x, None) at inference; (dropped-out x, kept mask) when training."""
    if not check_flag(training, "training"):
        return x, None
    if rng is None:
        rng = np.random.default_rng()
    elif not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                        f"got {rng!r}")
    return dropout(x, p, rng)


def unbroadcast(grad: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ids broadcast over [B, L] (e.g. default positions [L]): grad [B, L, H] summed over the
    broadcast axes, and ids as [b, l]. One id looked up for B rows gets the sum of B gradients."""
    ids = ids.reshape((1,) * (2 - ids.ndim) + ids.shape)  # [b, l], b in (1, B), l in (1, L)
    axes = tuple(axis for axis in (0, 1) if ids.shape[axis] == 1 and grad.shape[axis] != 1)
    return grad.sum(axis=axes, keepdims=True), ids  # [b, l, H], [b, l]


# --- the family: one class per spec, each citing the transformers v5.24.0 file it reproduces -------
# (and naming, for type checkers, the modules state.py gives it)


class BertEmbeddings(Embeddings):
    """BERT: (word + token_type) + position, arange positions from cache_length, LayerNorm.
    Reproduces models/bert/modeling_bert.py, BertEmbeddings (lines 54-109); jina-v2's ALiBi
    configs have no position term."""

    spec = specs.REGISTRY["bert"]
    word_embeddings: Embedding
    LayerNorm: nn.LayerNorm


class RobertaEmbeddings(Embeddings):
    """RoBERTa, XLM-R, CamemBERT, data2vec-text: BERT's sum, with positions counted over the
    non-pad tokens from pad_token_id + 1 (pad rows frozen). Reproduces
    models/roberta/modeling_roberta.py, RobertaEmbeddings."""

    spec = specs.REGISTRY["roberta"]
    word_embeddings: Embedding
    LayerNorm: nn.LayerNorm


class DistilBertEmbeddings(Embeddings):
    """DistilBERT: word + position, no token types, eps fixed at 1e-12; a sinusoidal table when
    the file has none. Reproduces models/distilbert/modeling_distilbert.py, Embeddings."""

    spec = specs.REGISTRY["distilbert"]
    word_embeddings: Embedding
    LayerNorm: nn.LayerNorm


class MPNetEmbeddings(Embeddings):
    """MPNet: word + position, RoBERTa's positions with the pad id fixed at 1, no token types.
    Reproduces models/mpnet/modeling_mpnet.py, MPNetEmbeddings."""

    spec = specs.REGISTRY["mpnet"]
    word_embeddings: Embedding
    LayerNorm: nn.LayerNorm


class AlbertEmbeddings(Embeddings):
    """ALBERT: BERT's sum in E < H wide tables, LayerNorm over E; project=True applies the
    encoder's embedding_hidden_mapping_in. Reproduces models/albert/modeling_albert.py,
    AlbertEmbeddings (and AlbertTransformer's first line)."""

    spec = specs.REGISTRY["albert"]
    word_embeddings: Embedding
    LayerNorm: nn.LayerNorm


class ElectraEmbeddings(Embeddings):
    """ELECTRA: BERT's layer in E wide tables; project=True applies the model's
    embeddings_project when E != H. Reproduces models/electra/modeling_electra.py, ElectraEmbeddings."""

    spec = specs.REGISTRY["electra"]
    word_embeddings: Embedding
    LayerNorm: nn.LayerNorm


class DebertaV2Embeddings(Embeddings):
    """DeBERTa v2/v3 (and v1): (word + position) + token_type, each only if configured,
    embed_proj when E != H, LayerNorm, times attention_mask. Reproduces
    models/deberta_v2/modeling_deberta_v2.py, DebertaV2Embeddings."""

    spec = specs.REGISTRY["deberta-v2"]
    word_embeddings: Embedding
    LayerNorm: nn.LayerNorm


class ModernBertEmbeddings(Embeddings):
    """ModernBERT: LayerNorm (no bias) of the word rows; positions are rotary, in attention.
    Reproduces models/modernbert/modeling_modernbert.py, ModernBertEmbeddings."""

    spec = specs.REGISTRY["modernbert"]
    tok_embeddings: Embedding
    norm: nn.LayerNorm


class NomicBertEmbeddings(Embeddings):
    """NomicBERT: word + token_type, LayerNorm (stored as emb_ln in real files); rotary positions.
    Reproduces models/nomic_bert/modeling_nomic_bert.py, NomicBertEmbeddings."""

    spec = specs.REGISTRY["nomic_bert"]
    word_embeddings: Embedding
    LayerNorm: nn.LayerNorm


class GteEmbeddings(Embeddings):
    """GTE (and the "new" model_type of gte-*-v1.5 files): word + token_type (if any), LayerNorm;
    rotary positions. Reproduces models/gte/modeling_gte.py, GteEmbeddings."""

    spec = specs.REGISTRY["gte"]
    word_embeddings: Embedding
    LayerNorm: nn.LayerNorm


class AutoEmbeddings(Embeddings):
    """`AutoEmbeddings.from_pretrained(model)` returns the family's class that config.json's
    model_type names (BertEmbeddings, RobertaEmbeddings, ...)."""

    @classmethod
    def from_pretrained(  # type: ignore[override]  # a family's class, not an AutoEmbeddings
            cls, model: str | os.PathLike[str], *, revision: str | None = None,
            partial: bool = True, dtype: DTypeLike = np.float32,
            num_threads: int | None = None, token: str | bool | None = None,
            local_files_only: bool = False,
            cache_dir: str | os.PathLike[str] | None = None) -> Embeddings:
        """The layer of the family config.json names (see Embeddings.from_pretrained)."""
        return load_pretrained(cls, model, revision, partial, dtype, num_threads, token,
                               local_files_only, cache_dir)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("AutoEmbeddings is not built directly: "
                        "use AutoEmbeddings.from_pretrained(model)")

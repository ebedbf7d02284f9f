"""Each family's tokenizer class, as transformers 5.24's AutoTokenizer picks and applies it: the
settings of tokenizer_config.json, config.json and tokenizer.json on small vocabularies of every
family (tests/fixtures/tokenizers/, references/tokenizer_settings.json, both written by
scripts/make_tokenizer_references.py), and a transformers user's habits."""

from __future__ import annotations

import json
import re
import shutil
import warnings

import numpy as np
import pytest

import bertemb_np as be
import bertemb_np.tokenizer as tokenizer_module
from conftest import FIXTURES, REFERENCES
from test_tokenizer import assert_matches, case_id

SETTINGS = json.loads((REFERENCES / "tokenizer_settings.json").read_text())
FOLDERS = FIXTURES / "tokenizers"


@pytest.mark.parametrize("variant", sorted(SETTINGS["variants"]))
def test_tokenizer_class_and_attributes_match_transformers(variant):
    expected = SETTINGS["variants"][variant]
    tok = be.Tokenizer.from_pretrained(FOLDERS / variant)
    ours = {"class": tok.tokenizer_class, "model_input_names": list(tok.model_input_names),
            "padding_side": tok.padding_side, "truncation_side": tok.truncation_side,
            "model_max_length": tok.model_max_length, "pad_token_id": tok.pad_token_id}
    assert ours == expected


@pytest.mark.parametrize("case", SETTINGS["cases"], ids=case_id)
def test_tokenizer_settings_match_transformers(case):
    tok = be.Tokenizer.from_pretrained(FOLDERS / case["model"])
    if "error" in case:  # transformers refuses: so do we, with the same kind of error
        with pytest.raises(ValueError):
            getattr(tok, case["call"])(*case["args"], **case["kwargs"])
        return
    assert_matches(tok, case)


def test_every_family_has_a_tokenizer_reference():
    classes = {v["class"] for v in SETTINGS["variants"].values()}
    assert classes >= {"BertTokenizer", "DistilBertTokenizer", "MPNetTokenizer",
                       "RobertaTokenizer", "XLMRobertaTokenizer", "CamembertTokenizer",
                       "AlbertTokenizer", "DebertaTokenizer", "DebertaV2Tokenizer",
                       "TokenizersBackend"}


@pytest.mark.parametrize("model_type", sorted(SETTINGS["model_type_classes"]))
def test_each_model_type_takes_transformers_tokenizer_class(model_type):
    expected = SETTINGS["model_type_classes"][model_type]  # None: transformers has none
    assert tokenizer_module.MODEL_TYPE_CLASSES.get(model_type) == expected


@pytest.mark.parametrize("name", sorted(SETTINGS["class_names"]))
def test_each_tokenizer_class_name_means_transformers_class(name, tmp_path):
    (tmp_path / "tokenizer.json").touch()
    picked = tokenizer_module.tokenizer_class_name({"tokenizer_class": name}, {},
                                                   tmp_path / "tokenizer.json")
    assert picked == SETTINGS["class_names"][name]


def test_a_class_bertemb_np_does_not_reproduce_is_refused(tmp_path):
    shutil.copy(FOLDERS / "bert" / "tokenizer.json", tmp_path)
    (tmp_path / "tokenizer_config.json").write_text('{"tokenizer_class": "LlamaTokenizer"}')
    with pytest.raises(ValueError, match="names tokenizer_class 'LlamaTokenizer', which bertemb_np "
                                         "does not reproduce; it reproduces BertTokenizer, "):
        be.Tokenizer.from_pretrained(tmp_path)


def test_a_vocabulary_of_another_kind_than_the_class_takes_is_refused(tmp_path):
    shutil.copy(FOLDERS / "roberta" / "tokenizer.json", tmp_path)
    (tmp_path / "tokenizer_config.json").write_text('{"tokenizer_class": "BertTokenizer"}')
    with pytest.raises(ValueError, match="takes a WordPiece vocabulary, but tokenizer.json's "
                                         "model is 'BPE'"):
        be.Tokenizer.from_pretrained(tmp_path)


@pytest.mark.parametrize("settings, message", [
    ({"padding_side": "center"}, "tokenizer_config.json's padding_side must be 'right' or 'left'"),
    ({"truncation_side": 1}, "tokenizer_config.json's truncation_side must be 'right' or 'left'"),
    ({"add_prefix_space": "yes"}, "tokenizer_config.json's add_prefix_space must be true, false"),
    ({"pad_token": 5}, "tokenizer_config.json's pad_token must be a token, got 5"),
    ({"model_input_names": "input_ids"},
     "tokenizer_config.json's model_input_names must be a list of names, got 'input_ids'"),
    ({"model_input_names": ["input_ids", "position_ids"]},
     "model_input_names must include input_ids and be among"),
])
def test_bad_settings_are_named(tmp_path, settings, message):
    shutil.copy(FOLDERS / "roberta" / "tokenizer.json", tmp_path)
    saved = json.loads((FOLDERS / "roberta" / "tokenizer_config.json").read_text())
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(saved | settings))
    with pytest.raises(ValueError, match=re.escape(message)):
        be.Tokenizer.from_pretrained(tmp_path)


def test_verbose_false_silences_the_long_sequence_warning():
    tok = be.Tokenizer.from_pretrained(FOLDERS / "bert-max-length-8")
    text = "hello world " * 8
    with pytest.warns(UserWarning, match=r"longer than the specified maximum .* \(18 > 8\)"):
        tok(text)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tok(text, verbose=False)
        tok.tokenize(text, verbose=False)
        tok.encode(text, verbose=False)


@pytest.fixture(scope="module")
def tok():
    return be.Tokenizer.from_pretrained(FOLDERS / "bert")


@pytest.mark.parametrize("framework", ["pt", "tf", "jax", "mlx"])
def test_return_tensors_other_than_numpy_is_refused(tok, framework):
    with pytest.raises(ValueError, match=f"return_tensors={framework!r}: .*NumPy.*'np'"):
        tok("hello world", return_tensors=framework)


@pytest.mark.parametrize("name, value, error, message", [
    ("padding_side", "middle", ValueError, "padding_side must be 'right' or 'left', got 'middle'"),
    ("truncation_side", None, ValueError, "truncation_side must be 'right' or 'left', got None"),
    ("model_max_length", 0, ValueError, "model_max_length must be a positive integer or None"),
    ("model_max_length", 2.5, ValueError, "model_max_length must be a positive integer or None"),
    ("model_max_length", True, ValueError, "model_max_length must be a positive integer or None"),
])
def test_settable_attributes_are_checked(name, value, error, message):
    tok = be.Tokenizer.from_pretrained(FOLDERS / "bert")
    with pytest.raises(error, match=re.escape(message)):
        setattr(tok, name, value)


def test_set_sides_and_limit_apply_to_the_next_call():
    tok = be.Tokenizer.from_pretrained(FOLDERS / "bert")
    left = be.Tokenizer.from_pretrained(FOLDERS / "bert-padding-left")
    tok.padding_side = "left"
    texts = ["hello world", "hello"]
    for key, value in left(texts, padding=True).items():
        np.testing.assert_array_equal(tok(texts, padding=True)[key], value, err_msg=key)
    tok.model_max_length = 3
    assert tok("hello world tower", truncation=True)["input_ids"].shape == (1, 3)


@pytest.mark.parametrize("call, message", [
    (lambda t: t("a", padding_side="up"), "padding_side must be 'right' or 'left', got 'up'"),
    (lambda t: t("a", add_special_tokens=1), "add_special_tokens must be True or False, got 1"),
    (lambda t: t("a", return_token_type_ids="no"),
     "return_token_type_ids must be True or False, got 'no'"),
    (lambda t: t.tokenize(["a"]), "tokenize takes one text (a str), got ['a']"),
])
def test_bad_habit_arguments(tok, call, message):
    with pytest.raises((TypeError, ValueError), match=re.escape(message)):
        call(tok)

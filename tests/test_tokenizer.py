"""The tokenizer on the real all-MiniLM-L6-v2 tokenizer.json, whose saved padding (to 128) must not leak."""

from __future__ import annotations

import json

import numpy as np
import pytest

import bertemb_np as be
from conftest import run_in_threads


@pytest.fixture(scope="module")
def tok(minilm_dir):
    saved = json.loads((minilm_dir / "tokenizer.json").read_text())
    assert saved["padding"]["strategy"] == {"Fixed": 128}  # the trap this module tests
    return be.Tokenizer.from_pretrained(minilm_dir)


def test_saved_padding_and_truncation_are_switched_off(tok):
    enc = tok("We lived above the clouds")
    assert enc["input_ids"].shape == (1, 7)
    assert tok("word " * 200)["input_ids"].shape == (1, 202)  # no silent truncation at the saved 128


def test_pair_token_types(tok):
    enc = tok("The man went to the store.", "He bought milk.")
    tokens = tok.convert_ids_to_tokens(enc["input_ids"])
    first_sep = tokens.index("[SEP]")
    assert (enc["token_type_ids"][0, : first_sep + 1] == 0).all()
    assert (enc["token_type_ids"][0, first_sep + 1:] == 1).all()


def test_padding_uses_the_tokenizers_pad_id(tok):
    enc = tok(["short", "a longer sentence"], padding=True)
    assert tok.pad_token_id == 0
    np.testing.assert_array_equal(enc["attention_mask"], [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    np.testing.assert_array_equal(enc["input_ids"][0, 3:], [tok.pad_token_id] * 2)
    assert all(v.dtype == np.int64 and v.shape == (2, 5) for v in enc.values())


def test_padding_to_max_length_and_truncation(tok):
    enc = tok(["short", "a longer sentence"], padding="max_length", max_length=8)
    assert enc["input_ids"].shape == (2, 8)
    enc = tok("word " * 600, truncation=True, max_length=16)
    assert enc["input_ids"].shape == (1, 16) and enc["input_ids"][0, -1] == 102  # ends with [SEP]
    assert tok("word " * 600, truncation=True)["input_ids"].shape == (1, 512)  # model_max_length


def test_tokenizer_is_safe_across_threads(tok):
    texts = [("word " * n).strip() for n in range(1, 40)]
    expected = [tok(t)["input_ids"] for t in texts]
    failures = []

    def work(i):
        for j, t in enumerate(texts):
            truncated = tok(t, truncation=True, max_length=5)["input_ids"]
            if not np.array_equal(tok(t)["input_ids"], expected[j]) or truncated.shape[1] > 5:
                failures.append((i, j))

    run_in_threads(work, 4)
    assert not failures


@pytest.mark.parametrize("call, error, message", [
    (lambda t: t(["short", "a longer sentence"]), ValueError, "different lengths.*padding=True"),
    (lambda t: t(["a"], ["b", "c"]), ValueError, "1 texts but 2 text pairs"),
    (lambda t: t("a", padding="left"), ValueError, "padding must be one of"),
    (lambda t: t("a", max_length=4), ValueError, "max_length is used only with"),
    (lambda t: t("a", padding="max_length"), ValueError, "needs max_length"),
    (lambda t: t("a b c d e f", padding="max_length", max_length=3), ValueError, "pass truncation=True"),
    (lambda t: t("a", truncation=True, max_length=0), ValueError, "max_length must be a positive integer"),
    (lambda t: t(123), TypeError, "text must be a str"),
    (lambda t: t([]), TypeError, "non-empty list"),
])
def test_bad_tokenizer_calls(tok, call, error, message):
    with pytest.raises(error, match=message):
        call(tok)


def test_missing_tokenizer_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no tokenizer.json"):
        be.Tokenizer.from_pretrained(tmp_path)


def test_corrupt_tokenizer_file(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(ValueError, match="tokenizer.json is not a valid tokenizer.json"):
        be.Tokenizer.from_pretrained(tmp_path)

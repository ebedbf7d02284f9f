"""The tokenizer on the real all-MiniLM-L6-v2 tokenizer.json, whose saved padding (to 128) must not
leak, and on the WordPiece tokenizer built from its vocab.txt alone; edge cases against
transformers' output (references/tokenizer_edges.json, by scripts/make_tokenizer_references.py)."""

from __future__ import annotations

import json
import re
import shutil
import warnings

import numpy as np
import pytest

import bertemb_np as be
import bertemb_np.tokenizer as tokenizer_module
from conftest import REFERENCES, run_in_threads

EDGES = json.loads((REFERENCES / "tokenizer_edges.json").read_text())
VARIED_TEXTS = [  # for vocab.txt against tokenizer.json
    "Naïve café, ÉCOLE 東京タワー 🙂 Ωmega Ünïcödé ß ﬁne",
    "Hello, world! (x) [y] {z} — «quoted» ... don't-care #1 $2.50 @home",
    "pneumonoultramicroscopicsilicovolcanoconiosis " + "a" * 120,  # > WordPiece's 100 characters
    "tab\tand\nnewline\u0000control \u200b zero-width ＦＵＬＬＷＩＤＴＨ ｶﾀｶﾅ 한국어",
    "[CLS] [MASK] [mask] [PAD] [UNK] x[SEP]y",
]


def minilm_copy(minilm_dir, folder, file: str, changes: dict):
    """`folder` with MiniLM's `file` (tokenizer.json, or vocab.txt alone) and its
    tokenizer_config.json updated with `changes`, as scripts/make_tokenizer_references.py
    makes them."""
    shutil.copy(minilm_dir / file, folder)
    settings = json.loads((minilm_dir / "tokenizer_config.json").read_text()) | changes
    (folder / "tokenizer_config.json").write_text(json.dumps(settings))
    return folder


@pytest.fixture(scope="module")
def tok(minilm_dir):
    saved = json.loads((minilm_dir / "tokenizer.json").read_text())
    assert saved["padding"]["strategy"] == {"Fixed": 128}  # the trap this module tests
    return be.Tokenizer.from_pretrained(minilm_dir)


def test_saved_padding_and_truncation_are_switched_off(tok):
    enc = tok("We lived above the clouds")
    assert enc["input_ids"].shape == (1, 7)
    assert tok("word " * 200)["input_ids"].shape == (1, 202)  # no silent truncation at saved 128


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
    (lambda t: t("a", padding=1), TypeError, "padding must be a bool or a str, got 1"),
    (lambda t: t("a", truncation="shortest", max_length=4), ValueError, "truncation must be one"),
    (lambda t: t("a", truncation=0), TypeError, "truncation must be a bool or a str, got 0"),
    (lambda t: t("a", truncation="do_not_truncate", max_length=4), ValueError, "used only with"),
    (lambda t: t("a b c", truncation=True, max_length=1), ValueError,
     "max_length=1 is smaller than the 2 special tokens this tokenizer adds to a text"),
    (lambda t: t("a", "b", truncation="only_first", max_length=2), ValueError,
     "max_length=2 is smaller than the 3 special tokens this tokenizer adds to a pair"),
    (lambda t: t("a b c", truncation="only_second", max_length=3), ValueError, "give one"),
    (lambda t: t("a", "b c d", truncation="only_first", max_length=5), ValueError,
     "truncation='only_first', max_length=5: .*too short"),
    (lambda t: t.encode("a b c", truncation=True, max_length=1), ValueError, "smaller than the 2"),
    (lambda t: t("a b c d e f", padding="max_length", max_length=3), ValueError,
     "pass truncation=True"),
    (lambda t: t("a", truncation=True, max_length=0), ValueError,
     "max_length must be a positive integer"),
    (lambda t: t(123), TypeError, "text must be a str"),
    (lambda t: t([]), TypeError, "non-empty list"),
    (lambda t: t(["a"], [None]), TypeError, "text_pair must be a str or a non-empty list of str"),
    (lambda t: t(["a"], "b"), TypeError, "both be a str or both be lists, got list and str"),
    (lambda t: t("a", ["b"]), TypeError, "both be a str or both be lists, got str and list"),
    (lambda t: t.convert_ids_to_tokens([101, 30522]), ValueError,
     r"token id 30522 is not in the vocabulary \(ids 0 to 30521\)"),
    (lambda t: t.convert_ids_to_tokens([-1]), ValueError, "token id -1 is not in the vocabulary"),
    (lambda t: t.convert_ids_to_tokens([1.5]), TypeError, "token ids must be integers"),
    (lambda t: t.decode([101, 99999]), ValueError, "token id 99999 is not in the vocabulary"),
    (lambda t: t.decode(np.ones((1, 2, 3), int)), ValueError, r"ids \[L\] or \[B, L\], got shape"),
])
def test_bad_tokenizer_calls(tok, call, error, message):
    with pytest.raises(error, match=message):
        call(tok)


def test_an_id_the_vocabulary_skips_is_not_a_token():
    """A vocabulary with a hole (ids 0 and 2, 2 tokens): id 1 is below the vocabulary size but
    names no token; it raises, rather than give None among the token strings."""
    from tokenizers import Tokenizer, models

    tok = be.Tokenizer(Tokenizer(models.WordPiece({"[UNK]": 0, "a": 2}, unk_token="[UNK]")))
    assert tok.convert_ids_to_tokens([0]) == ["[UNK]"]
    with pytest.raises(ValueError, match="token id 1 is not in the vocabulary"):
        tok.convert_ids_to_tokens([0, 1])


def test_missing_tokenizer_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"has no tokenizer.json \(nor a vocab.txt to"):
        be.Tokenizer.from_pretrained(tmp_path)


def test_corrupt_tokenizer_file(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(ValueError, match="tokenizer.json is not a valid tokenizer.json"):
        be.Tokenizer.from_pretrained(tmp_path)


@pytest.fixture(scope="module")
def edge_folders(minilm_dir, tmp_path_factory) -> dict:
    """The folders of tokenizer_edges.json's models: MiniLM's, and copies of it."""
    return {"minilm": minilm_dir} | {
        name: minilm_copy(minilm_dir, tmp_path_factory.mktemp(name), *copy)
        for name, copy in EDGES["minilm_copies"].items()}


def case_id(case: dict) -> str:
    return f"{case['model']}.{case['call']}({str(case['args'])[:24]}, {case['kwargs']})"


def assert_matches(tok, case: dict) -> None:
    """tok's answer to a case's call is transformers' (ids, masks, type ids, which arrays,
    tokens, text), and it warns of a sequence longer than model_max_length when transformers
    does."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = getattr(tok, case["call"])(*case["args"], **case["kwargs"])
    warned = any("longer than the specified maximum sequence length" in str(w.message)
                 for w in caught)
    assert warned == case.get("warns", False), f"warned: {warned}, transformers: {case['warns']}"
    if case["call"] in ("decode", "tokenize"):
        assert result == case["expected"]
        return
    arrays = {"input_ids": result} if case["call"] == "encode" else result
    assert sorted(arrays) == sorted(case["expected"])
    for key, expected in case["expected"].items():
        assert arrays[key].dtype == np.int64
        np.testing.assert_array_equal(arrays[key], expected, err_msg=key)


@pytest.mark.parametrize("case", EDGES["cases"], ids=case_id)
def test_edge_cases_match_transformers(edge_folders, case):
    assert_matches(be.Tokenizer.from_pretrained(edge_folders[case["model"]]), case)


def test_vocab_txt_tokenizer_equals_tokenizer_json(tok, minilm_dir, tmp_path):
    from_vocab = be.Tokenizer.from_pretrained(minilm_copy(minilm_dir, tmp_path, "vocab.txt", {}))
    for pairs in (None, VARIED_TEXTS[::-1]):
        ours = from_vocab(VARIED_TEXTS, pairs, padding=True)
        theirs = tok(VARIED_TEXTS, pairs, padding=True)
        assert sorted(ours) == sorted(theirs)
        for key in ours:
            np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)
    ids = tok(VARIED_TEXTS, padding=True)["input_ids"]
    for skip in (False, True):
        assert from_vocab.decode(ids, skip) == tok.decode(ids, skip)
    assert from_vocab.pad_token_id == tok.pad_token_id
    assert from_vocab.model_max_length == tok.model_max_length


def test_vocab_txt_needs_a_bert_wordpiece_class(minilm_dir, tmp_path):
    minilm_copy(minilm_dir, tmp_path, "vocab.txt", {"tokenizer_class": "MPNetTokenizer"})
    with pytest.raises(ValueError, match="names 'MPNetTokenizer', and only .*: it needs a tokeniz"):
        be.Tokenizer.from_pretrained(tmp_path)


@pytest.mark.parametrize("base, name, content, message", [
    ("tokenizer.json", "tokenizer_config.json", b"[1, 2]",
     "{folder}/tokenizer_config.json must hold a JSON object, got list"),
    ("tokenizer.json", "tokenizer_config.json", b"{not json",
     "{folder}/tokenizer_config.json is not valid JSON"),
    ("tokenizer.json", "tokenizer_config.json", b'{"a": "\xff"}',
     "{folder}/tokenizer_config.json is not UTF-8 text"),
    ("vocab.txt", "tokenizer_config.json", b'{"do_lower_case": "yes"}',
     "tokenizer_config.json's do_lower_case must be true, false or null, got 'yes'"),
    ("vocab.txt", "vocab.txt", b"[PAD]\n\xff\n", "{folder}/vocab.txt is not UTF-8 text"),
    ("vocab.txt", "vocab.txt", b"", "{folder}/vocab.txt is empty"),
    ("vocab.txt", "vocab.txt", b"[PAD]\n[UNK]\nhello\n",
     r"{folder}/vocab.txt lacks the special tokens \['\[SEP\]', '\[CLS\]', '\[MASK\]'\]"),
])
def test_bad_tokenizer_files_are_named(minilm_dir, tmp_path, base, name, content, message):
    shutil.copy(minilm_dir / base, tmp_path)
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ValueError, match=message.replace("{folder}", re.escape(str(tmp_path)))):
        be.Tokenizer.from_pretrained(tmp_path)


def test_no_model_max_length_needs_max_length(minilm_dir, tmp_path):
    shutil.copy(minilm_dir / "tokenizer.json", tmp_path)  # no tokenizer_config.json
    tok = be.Tokenizer.from_pretrained(tmp_path)
    for kwargs in ({"padding": "max_length"}, {"truncation": "only_first"}):
        with pytest.raises(ValueError, match=r"needs max_length=N \(this tokenizer has no model_"):
            tok("a", **kwargs)


def test_token_goes_to_every_file_lookup(minilm_dir, monkeypatch):
    tokens = []

    def resolve_file(model, filename, **kwargs):
        tokens.append(kwargs["token"])
        return real(model, filename, **kwargs)

    real = tokenizer_module.resolve_file
    monkeypatch.setattr(tokenizer_module, "resolve_file", resolve_file)
    be.Tokenizer.from_pretrained(minilm_dir, token="hf_secret")
    assert tokens and set(tokens) == {"hf_secret"}


def test_vocabulary_habits_of_a_transformers_user(minilm_dir):
    """vocab_size, len(), convert_tokens_to_ids, batch_decode and decode of one id, each against
    transformers 5.24's AutoTokenizer on MiniLM (references/minilm_vocabulary_habits.json)."""
    expected = json.loads((REFERENCES / "minilm_vocabulary_habits.json").read_text())
    tok = be.Tokenizer.from_pretrained(minilm_dir)
    assert tok.vocab_size == expected["vocab_size"] and len(tok) == expected["len"]
    assert tok.convert_tokens_to_ids(expected["tokens"]) == expected["token_ids"]
    assert tok.convert_tokens_to_ids(expected["tokens"][0]) == expected["token_ids"][0]
    assert tok.batch_decode(np.array(expected["batch"])) == expected["batch_decoded"]
    assert tok.decode(expected["one_id"]) == expected["one_id_decoded"]


def test_timedelta_ids_are_not_token_ids(minilm_dir):
    """NumPy files timedelta64 under np.integer; decode refuses it as the layer does."""
    tok = be.Tokenizer.from_pretrained(minilm_dir)
    with pytest.raises(TypeError, match="token ids must be integers, got dtype timedelta64"):
        tok.decode(np.array([101, 2057], "m8[s]"))

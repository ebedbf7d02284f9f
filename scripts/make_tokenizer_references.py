"""Write transformers' tokenizer output that tests/test_tokenizer*.py match, into
tests/fixtures/references/:

- tokenizer_edges.json: edge cases of calls (an empty text_pair, each truncation strategy, a
  max_length that leaves room for the special tokens only, padding="max_length" without
  max_length, encode with truncation, decode with and without skip_special_tokens) on the real
  all-MiniLM-L6-v2 tokenizer, on copies of it with other tokenizer_config.json settings
  (do_lower_case, padding_side, ...), and on tokenizers that transformers builds from its
  vocab.txt alone (no tokenizer.json);
- tokenizer_settings.json: for each variant folder it writes under tests/fixtures/tokenizers/
  (a small vocabulary of each family's tokenizer class, saved by that class, then one setting
  changed in tokenizer_config.json, config.json or tokenizer.json), the class AutoTokenizer
  picks, the arrays it returns, padding_side, truncation_side, model_max_length, pad_token_id
  and its output on texts, pairs, padding, truncation, encode and tokenize.

Both record the versions that made them. This script writes nothing else: it rewrites
tests/fixtures/tokenizers/ and those two files only.

Like scripts/make_references.py, this imports transformers; run it in the same venv, after it
(make_references.py empties references/):
    PYTHONPATH=$PWD /work/refvenv/bin/python scripts/make_tokenizer_references.py
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import tokenizers
import transformers
from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import AutoTokenizer

from bertemb_np import specs
from make_references import FIXTURES, minilm_folder

LONG_TEXT = "word " * 520  # past model_max_length (512)
PUNCTUATED = "Hello, world! It's a don't-care [MASK] x."
# copies of MiniLM's tokenizer: name -> (the file copied: tokenizer.json, or vocab.txt alone,
# which transformers builds a WordPiece tokenizer from), changes to its tokenizer_config.json)
MINILM_COPIES = {
    "minilm-vocab-txt": ("vocab.txt", {}),
    "minilm-vocab-txt-cased": ("vocab.txt", {"do_lower_case": False}),
    "minilm-vocab-txt-sides-left": ("vocab.txt", {"padding_side": "left",
                                                  "truncation_side": "left"}),
    "minilm-cased": ("tokenizer.json", {"do_lower_case": False}),  # issue 16's example
    "minilm-padding-left": ("tokenizer.json", {"padding_side": "left"}),
}
CALLS = [  # (model, method, args, kwargs)
    ("minilm", "__call__", ["a", ""], {}),
    ("minilm", "__call__", [["a", "b c"], ["", "x"]], {"padding": True}),
    ("minilm", "__call__", [LONG_TEXT], {"truncation": "do_not_truncate"}),
    ("minilm", "__call__", ["a b c d e f", "g h i"], {"truncation": "longest_first",
                                                     "max_length": 7}),
    ("minilm", "__call__", ["a b c d e f", "g h i"], {"truncation": "only_first", "max_length": 7}),
    ("minilm", "__call__", ["a b c d e f", "g h i j"], {"truncation": "only_second",
                                                       "max_length": 10}),
    ("minilm", "__call__", ["a b c d e f"], {"truncation": "only_first", "max_length": 4}),
    ("minilm", "__call__", ["a b c d e f"], {"truncation": True, "max_length": 2}),
    ("minilm", "__call__", ["a b c", "d e"], {"truncation": True, "max_length": 3}),
    ("minilm", "__call__", [["a b c d e f", "x"]], {"truncation": True, "max_length": 4,
                                                    "padding": "longest"}),
    ("minilm", "__call__", [["short", "a longer sentence"]], {"padding": "max_length"}),
    ("minilm", "__call__", [["a b", "c d"]], {"padding": "do_not_pad"}),
    ("minilm", "encode", [LONG_TEXT], {"truncation": True}),
    ("minilm", "encode", [LONG_TEXT, "a pair"], {"truncation": "only_first", "max_length": 8}),
    # a transformers user's habits
    ("minilm", "__call__", [["a b c d e f", "x"]], {"padding": True, "return_tensors": "np"}),
    ("minilm", "__call__", ["a b c d e f"], {"max_length": 4}),  # max_length alone truncates
    ("minilm", "__call__", [["short", "a longer sentence"]], {"padding": True,
                                                              "padding_side": "left"}),
    ("minilm", "__call__", ["a b", "c"], {"add_special_tokens": False}),
    ("minilm", "__call__", [["a b", "c"]], {"padding": True, "return_token_type_ids": False}),
    ("minilm", "__call__", ["a b"], {"return_attention_mask": False}),
    ("minilm", "__call__", [LONG_TEXT], {"truncation": True, "max_length": 600}),  # no warning
    ("minilm", "__call__", [[LONG_TEXT, "a"]], {"padding": True}),  # warns: 522 > 512
    ("minilm", "__call__", [LONG_TEXT], {"padding": "max_length", "max_length": 530}),
    ("minilm", "encode", ["a b c"], {"add_special_tokens": False}),
    ("minilm", "encode", [LONG_TEXT], {}),
    ("minilm", "tokenize", [PUNCTUATED], {}),
    ("minilm", "tokenize", [PUNCTUATED, "a pair"], {"add_special_tokens": True}),
    ("minilm-vocab-txt", "__call__", ["Naïve CAFÉ [MASK] [mask] 東京 🙂", "unbelievably long"], {}),
    ("minilm-vocab-txt-cased", "__call__", ["Naïve CAFÉ [MASK] [mask] 東京 hello", "HELLO x"], {}),
    ("minilm-vocab-txt-sides-left", "__call__", [["a b c d e f g", "x"]],
     {"padding": True, "truncation": True, "max_length": 5}),
    ("minilm-cased", "__call__", ["Hello World"], {}),
    ("minilm-cased", "__call__", [["Hello World", "hello world"], ["Naïve", "naïve"]], {}),
    ("minilm-padding-left", "__call__", [["short", "a longer sentence"]], {"padding": True}),
    ("minilm-padding-left", "__call__", [["short", "a longer sentence"]],
     {"padding": "max_length", "max_length": 6}),
]
DECODE_TEXTS = [PUNCTUATED, ["a padded batch", "of two"]]  # decoded from their ids


def minilm_copy(minilm: Path, folder: Path, file: str, changes: dict) -> Path:
    """A new folder with MiniLM's `file` and its tokenizer_config.json updated with `changes`."""
    folder.mkdir()
    shutil.copy(minilm / file, folder)
    settings = json.loads((minilm / "tokenizer_config.json").read_text()) | changes
    (folder / "tokenizer_config.json").write_text(json.dumps(settings))
    return folder


class Warnings(logging.Handler):
    """The warnings transformers logs (it logs the too-long warning once per tokenizer)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def logged_call(tokenizer, method: str, args: list, kwargs: dict):
    """The output of a call, and whether it warned that a sequence is longer than
    model_max_length (transformers warns once per tokenizer: forget that it did)."""
    tokenizer.deprecation_warnings.clear()
    handler = Warnings()
    transformers.logging.get_logger().addHandler(handler)
    try:
        output = getattr(tokenizer, method)(*args, **kwargs)
    finally:
        transformers.logging.get_logger().removeHandler(handler)
    return output, any("longer than the specified maximum" in m for m in handler.messages)


def call_case(tokenizer, model: str, method: str, args: list, kwargs: dict) -> dict:
    """One call, its output (int arrays as [B, L] lists, B = 1 for one text; tokens as a list)
    and whether it warned."""
    output, warns = logged_call(tokenizer, method, args, kwargs)
    if method != "tokenize":
        output = {"input_ids": output} if method == "encode" else dict(output)
        output = {key: np.atleast_2d(value).tolist() for key, value in output.items()}
    return {"model": model, "call": method, "args": args, "kwargs": kwargs, "expected": output,
            "warns": warns}


def decode_cases(tokenizer, model: str, text: str | list[str]) -> list[dict]:
    """decode of the ids of `text` (padded if a batch), with and without the special tokens."""
    ids = tokenizer(text, padding=True)["input_ids"]
    return [{"model": model, "call": "decode", "args": [ids],
             "kwargs": {"skip_special_tokens": skip},
             "expected": tokenizer.decode(ids, skip_special_tokens=skip)} for skip in (False, True)]


# ---- transformers' tokenizer classes and the settings they apply on top of tokenizer.json ------

FAMILY_TEXTS = ["Hello World", "Naïve CAFÉ au lait, don't-care!", "東京 tower  double  space",
                "  leading and trailing  ", "the man [MASK] <mask> went"]
FAMILY_PAIRS = ["He bought MILK.", "x", "Café 東京", "the store", "Ünïcödé?"]
CORPUS = [t.lower() for t in FAMILY_TEXTS + FAMILY_PAIRS] + [  # what the small vocabularies learn
    "the man went to the store and he bought milk", "hello world of words", "naïve café au lait",
    "don't care about the double space", "leading and trailing words", "東京 tower",
    "tower of words",
] * 4
WORDPIECE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]  # bert-base's order


def train(model, normalizer, pre_tokenizer, trainer) -> dict:
    """A small `tokenizers` model trained on CORPUS: the "model" section of its tokenizer.json."""
    tokenizer = Tokenizer(model)
    tokenizer.normalizer, tokenizer.pre_tokenizer = normalizer, pre_tokenizer
    tokenizer.train_from_iterator(CORPUS, trainer)
    return json.loads(tokenizer.to_str())["model"]


def corpus_words() -> Counter:
    """The words and punctuation marks of CORPUS, counted."""
    return Counter(word for text in CORPUS for word in re.findall(r"\w+|[^\w\s]", text))


def wordpiece_vocab(specials: list[str]) -> dict[str, int]:
    """A lowercase WordPiece vocabulary that keeps accents and has 東 and 京: the specials,
    CORPUS's characters (alone and as "##" continuations) and words, sorted."""
    words = corpus_words()
    chars = {c for word in words for c in word}
    pieces = sorted(chars | {"##" + c for c in chars} | set(words))
    return {piece: i for i, piece in enumerate(specials + pieces)}


def bpe_vocab(specials: list[str]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A byte-level BPE vocabulary and merges, laid out like roberta's (specials first)."""
    model = train(models.BPE(), None, pre_tokenizers.ByteLevel(add_prefix_space=False),
                  trainers.BpeTrainer(vocab_size=150, special_tokens=specials))
    return model["vocab"], [tuple(merge) for merge in model["merges"]]


def unigram_vocab(specials: list[str]) -> list[tuple[str, float]]:
    """A Unigram (SentencePiece-style) vocabulary: the specials, CORPUS's words after "▁" with
    their log frequency, and its characters (and "▁") with a low score."""
    words = corpus_words()
    total = sum(words.values())
    pieces = {"▁" + word: math.log(count / total) for word, count in words.items()}
    pieces |= {c: -20.0 for c in {"▁"} | {c for word in words for c in word}}
    learned = sorted(pieces.items(), key=lambda piece: (-piece[1], piece[0]))
    return [(token, 0.0) for token in specials] + learned


def byte_level_backend():
    """A tokenizer used as saved (ModernBERT's kind: a byte-level BPE with [CLS]/[SEP])."""
    vocab, merges = bpe_vocab(["[CLS]", "[PAD]", "[SEP]", "[UNK]", "[MASK]"])
    tokenizer = Tokenizer(models.BPE(vocab, merges, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 0), ("[SEP]", 2)])
    tokenizer.add_special_tokens(["[CLS]", "[PAD]", "[SEP]", "[UNK]", "[MASK]"])
    return transformers.TokenizersBackend(tokenizer_object=tokenizer, pad_token="[PAD]",
                                          cls_token="[CLS]", sep_token="[SEP]",
                                          unk_token="[UNK]", mask_token="[MASK]")


def base_tokenizers() -> dict:
    """name -> a transformers tokenizer over a small vocabulary, as its class builds it."""
    roberta_vocab, roberta_merges = bpe_vocab(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    deberta_vocab, deberta_merges = bpe_vocab(["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"])
    return {
        "bert": transformers.BertTokenizer(vocab=wordpiece_vocab(WORDPIECE_SPECIALS)),
        "mpnet": transformers.MPNetTokenizer(
            vocab=wordpiece_vocab(["<s>", "<pad>", "</s>", "[UNK]", "<mask>"])),
        "roberta": transformers.RobertaTokenizer(vocab=roberta_vocab, merges=roberta_merges),
        "deberta": transformers.DebertaTokenizer(vocab=deberta_vocab, merges=deberta_merges),
        "xlm-roberta": transformers.XLMRobertaTokenizer(
            vocab=unigram_vocab(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])),
        "camembert": transformers.CamembertTokenizer(vocab=unigram_vocab(
            ["<s>NOTUSED", "<pad>", "</s>NOTUSED", "<unk>", "<unk>NOTUSED", "<s>", "</s>",
             "<mask>"])),
        "albert": transformers.AlbertTokenizer(
            vocab=unigram_vocab(["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"])),
        "deberta-v2": transformers.DebertaV2Tokenizer(
            vocab=unigram_vocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])),
        "backend": byte_level_backend(),
    }


class Only(dict):
    """A variant's tokenizer_config.json that holds these settings only (the class defaults
    apply to the rest)."""


# variant -> (base, changes to the saved tokenizer_config.json (None: remove the key; Only: the
#             whole file),
#             config.json's model_type or None for no config.json,
#             replacements of top-level sections of the saved tokenizer.json
#             [, a special_tokens_map.json (transformers 4's file)])
LEFT_PADDING = {"strategy": "BatchLongest", "direction": "Left", "pad_to_multiple_of": None,
                "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"}
LEFT_TRUNCATION = {"direction": "Left", "max_length": 6, "strategy": "LongestFirst", "stride": 0}
VARIANTS = {
    "bert": ("bert", {}, "bert", {}),
    "bert-cased": ("bert", {"do_lower_case": False}, "bert", {}),
    "bert-keep-accents": ("bert", {"strip_accents": False}, "bert", {}),
    "bert-cased-strip-accents": ("bert", {"do_lower_case": False, "strip_accents": True}, "bert",
                                 {}),
    "bert-no-chinese-chars": ("bert", {"tokenize_chinese_chars": False}, "bert", {}),
    "bert-padding-left": ("bert", {"padding_side": "left"}, "bert", {}),
    "bert-truncation-left": ("bert", {"truncation_side": "left"}, "bert", {}),
    "bert-json-padding-left": ("bert", {}, "bert", {"padding": LEFT_PADDING}),
    "bert-json-truncation-left": ("bert", {}, "bert", {"truncation": LEFT_TRUNCATION}),
    "bert-json-padding-left-config-right": ("bert", {"padding_side": "right"}, "bert",
                                            {"padding": LEFT_PADDING}),
    "bert-json-cased-normalizer": ("bert", {"do_lower_case": None}, "bert", {"normalizer": {
        "type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
        "strip_accents": None, "lowercase": False}}),
    "bert-max-length-8": ("bert", {"model_max_length": 8}, "bert", {}),
    "bert-max-length-huge": ("bert", {"model_max_length": 10**7}, "bert", {}),
    "bert-pad-is-mask": ("bert", {"pad_token": "[MASK]"}, "bert", {}),
    "bert-input-names": ("bert", {"model_input_names": ["input_ids", "attention_mask"]}, "bert",
                         {}),
    "bert-fast-name": ("bert", {"tokenizer_class": "BertTokenizerFast"}, "bert", {}),
    "bert-special-tokens-map": ("bert", {}, "bert", {}, {"pad_token": "[MASK]", "mask_token": {
        "content": "[MASK]", "lstrip": True, "normalized": False, "rstrip": False,
        "single_word": False}}),
    "bert-special-tokens-map-unread": ("bert", {"added_tokens_decoder": {"0": {
        "content": "[PAD]", "lstrip": False, "normalized": False, "rstrip": False,
        "single_word": False, "special": True}}}, "bert", {}, {"pad_token": "[MASK]"}),
    "bert-as-saved": ("bert", {"tokenizer_class": "PreTrainedTokenizerFast"}, "bert", {}),
    "bert-json-only": ("bert", None, None, {}),  # tokenizer.json alone
    "distilbert": ("bert", {"tokenizer_class": None}, "distilbert", {}),
    "distilbert-class": ("bert", {"tokenizer_class": "DistilBertTokenizer"}, "distilbert", {}),
    "electra": ("bert", {"tokenizer_class": None}, "electra", {}),
    "electra-class": ("bert", {"tokenizer_class": "ElectraTokenizerFast"}, "electra", {}),
    "nomic-bert": ("bert", {"tokenizer_class": None}, "nomic_bert", {}),
    "gte-new": ("bert", {}, "new", {}),  # Alibaba-NLP's remote-code GTE names BertTokenizer
    "mpnet": ("mpnet", {}, "mpnet", {}),
    "mpnet-cased": ("mpnet", {"do_lower_case": False}, "mpnet", {}),
    "roberta": ("roberta", {}, "roberta", {}),
    "roberta-prefix-space": ("roberta", {"add_prefix_space": True}, "roberta", {}),
    "roberta-json-prefix-space": ("roberta", {"add_prefix_space": None}, "roberta", {
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                          "use_regex": True}}),
    "roberta-padding-left": ("roberta", {"padding_side": "left"}, "roberta", {}),
    "data2vec-text": ("roberta", {"tokenizer_class": None}, "data2vec-text", {}),
    "deberta": ("deberta", {}, "deberta", {}),
    "deberta-prefix-space": ("deberta", {"add_prefix_space": True}, "deberta", {}),
    "xlm-roberta": ("xlm-roberta", {}, "xlm-roberta", {}),
    "xlm-roberta-no-prefix-space": ("xlm-roberta", {"add_prefix_space": False}, "xlm-roberta", {}),
    "xlm-roberta-json-lowercase": ("xlm-roberta", {}, "xlm-roberta",
                                   {"normalizer": {"type": "Lowercase"}}),
    "gte": ("xlm-roberta", {"tokenizer_class": None}, "gte", {}),
    "camembert": ("camembert", {}, "camembert", {}),
    "camembert-no-prefix-space": ("camembert", {"add_prefix_space": False}, "camembert", {}),
    "albert": ("albert", {}, "albert", {}),
    "albert-cased": ("albert", {"do_lower_case": False}, "albert", {}),
    "albert-keep-accents": ("albert", {"keep_accents": True}, "albert", {}),
    "albert-no-prefix-space": ("albert", {"add_prefix_space": False}, "albert", {}),
    "deberta-v2": ("deberta-v2", {}, "deberta-v2", {}),
    "deberta-v2-lower": ("deberta-v2", {"do_lower_case": True}, "deberta-v2", {}),
    "deberta-v2-split-by-punct": ("deberta-v2", {"split_by_punct": True}, "deberta-v2", {}),
    "deberta-v2-no-prefix-space": ("deberta-v2", {"add_prefix_space": False}, "deberta-v2", {}),
    "modernbert": ("backend", {"tokenizer_class": "PreTrainedTokenizerFast"}, "modernbert", {}),
    "modernbert-bert-class": ("backend", {"tokenizer_class": "BertTokenizer"}, "modernbert", {}),
    "backend-padding-left": ("backend", {"padding_side": "left"}, "modernbert", {}),
    # every class's defaults: a tokenizer_config.json that names the class only
    **{f"{name.lower()}-defaults": (base, Only(tokenizer_class=name), None, {}) for base, name in (
        ("bert", "BertTokenizer"), ("bert", "DistilBertTokenizer"), ("mpnet", "MPNetTokenizer"),
        ("roberta", "RobertaTokenizer"), ("deberta", "DebertaTokenizer"),
        ("xlm-roberta", "XLMRobertaTokenizer"), ("camembert", "CamembertTokenizer"),
        ("albert", "AlbertTokenizer"), ("deberta-v2", "DebertaV2Tokenizer"),
        ("backend", "TokenizersBackend"))},
}
SETTING_CALLS = [  # (method, args, kwargs): run on every variant
    ("__call__", [FAMILY_TEXTS], {"padding": True}),
    ("__call__", [FAMILY_TEXTS, FAMILY_PAIRS], {"padding": True}),
    ("__call__", [FAMILY_TEXTS, FAMILY_PAIRS], {"padding": "max_length", "truncation": True,
                                                "max_length": 7}),
    ("__call__", [FAMILY_TEXTS[1]], {"truncation": "only_first", "max_length": 5}),
    ("encode", [FAMILY_TEXTS[1]], {"add_special_tokens": False}),
    ("encode", [FAMILY_TEXTS[1], FAMILY_PAIRS[1]], {}),
    ("tokenize", [FAMILY_TEXTS[1]], {}),
]


def make_variant(base_folder: Path, folder: Path, variant: tuple) -> None:
    """`folder`: the base's files with the variant's changes."""
    _, changes, model_type, sections, *special_tokens_map = variant
    folder.mkdir(parents=True)
    for content in special_tokens_map:
        (folder / "special_tokens_map.json").write_text(json.dumps(content, indent=1) + "\n")
    saved = json.loads((base_folder / "tokenizer.json").read_text())
    (folder / "tokenizer.json").write_text(json.dumps(saved | sections, ensure_ascii=False))
    if changes is not None:
        saved = {} if isinstance(changes, Only) else json.loads(
            (base_folder / "tokenizer_config.json").read_text())
        settings = saved | changes
        settings = {key: value for key, value in settings.items() if value is not None}
        (folder / "tokenizer_config.json").write_text(json.dumps(settings, indent=1) + "\n")
    if model_type is not None:
        (folder / "config.json").write_text(json.dumps({"model_type": model_type}) + "\n")


def limit(value: int) -> int | None:
    """model_max_length, None for transformers' "no limit" sentinel (1e30)."""
    return value if value < 10**20 else None


def settings_case(tokenizer, name: str, method: str, args: list, kwargs: dict) -> dict:
    """One call and its output as call_case gives it, or the error it raises."""
    try:
        case = call_case(tokenizer, name, method, args, kwargs)
    except ValueError as e:  # e.g. padding asked of a tokenizer with no pad token
        return {"model": name, "call": method, "args": args, "kwargs": kwargs,
                "error": f"ValueError: {e}"}
    return case


def make_settings_references(folder: Path) -> dict:
    """Write the variants' folders under `folder` and return transformers' answers on them."""
    shutil.rmtree(folder, ignore_errors=True)
    with tempfile.TemporaryDirectory() as scratch:
        bases = {}
        for name, tokenizer in base_tokenizers().items():
            tokenizer.save_pretrained(Path(scratch) / name)
            bases[name] = Path(scratch) / name
        for name, variant in VARIANTS.items():
            make_variant(bases[variant[0]], folder / name, variant)
    variants, cases = {}, []
    for name in VARIANTS:
        tokenizer = AutoTokenizer.from_pretrained(folder / name)
        variants[name] = {
            "class": type(tokenizer).__name__, "model_input_names": tokenizer.model_input_names,
            "padding_side": tokenizer.padding_side, "truncation_side": tokenizer.truncation_side,
            "model_max_length": limit(tokenizer.model_max_length),
            "pad_token_id": tokenizer.pad_token_id}
        cases += [settings_case(tokenizer, name, *call) for call in SETTING_CALLS]
    return {"model_type_classes": model_type_classes(), "class_names": class_names(),
            "variants": variants, "cases": cases}


def model_type_classes() -> dict:
    """The tokenizer class of each model type of our families in transformers' auto mapping
    (None: none; AutoTokenizer then takes tokenizer_config.json's or TokenizersBackend)."""
    from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES

    types = [t for spec in specs.FAMILIES for t in spec.model_types]
    return {t: TOKENIZER_MAPPING_NAMES.get(t) for t in types}


def class_names() -> dict:
    """The class transformers loads for each tokenizer_class name our families' files use."""
    from transformers.models.auto.tokenization_auto import tokenizer_class_from_name

    names = ["BertTokenizer", "DistilBertTokenizer", "ElectraTokenizer", "MPNetTokenizer",
             "RobertaTokenizer", "XLMRobertaTokenizer", "CamembertTokenizer", "AlbertTokenizer",
             "DebertaTokenizer", "DebertaV2Tokenizer", "TokenizersBackend"]
    names += [name + "Fast" for name in names[:-1]] + ["PreTrainedTokenizerFast"]
    return {name: tokenizer_class_from_name(name).__name__ for name in names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    transformers.logging.set_verbosity_warning()
    transformers.logging.disable_default_handler()  # Warnings records what call_case needs
    minilm = minilm_folder()
    with tempfile.TemporaryDirectory() as scratch:
        folders = {"minilm": minilm} | {
            name: minilm_copy(minilm, Path(scratch) / name, *copy)
            for name, copy in MINILM_COPIES.items()}
        loaded = {name: AutoTokenizer.from_pretrained(folder) for name, folder in folders.items()}
    cases = [call_case(loaded[model], model, method, args, kwargs)
             for model, method, args, kwargs in CALLS]
    cases += [case for model in ("minilm", "minilm-vocab-txt-cased") for text in DECODE_TEXTS
              for case in decode_cases(loaded[model], model, text)]
    edges = {"made_by": "python scripts/make_tokenizer_references.py",
             "versions": {"transformers": transformers.__version__,
                          "tokenizers": tokenizers.__version__, "python": sys.version.split()[0]},
             "minilm_copies": MINILM_COPIES, "cases": cases}
    write(FIXTURES / "references" / "tokenizer_edges.json", edges)
    habits = vocabulary_habits(loaded["minilm"])
    (FIXTURES / "references" / "minilm_vocabulary_habits.json").write_text(
        json.dumps({"made_by": edges["made_by"], "versions": edges["versions"], **habits},
                   indent=1) + "\n")
    settings = make_settings_references(FIXTURES / "tokenizers")
    write(FIXTURES / "references" / "tokenizer_settings.json",
          {"made_by": edges["made_by"], "versions": edges["versions"], **settings})


def vocabulary_habits(tokenizer) -> dict:
    """What a transformers user asks of the vocabulary: its sizes, ids of token strings (one
    unknown), batch_decode, and decode of a single id."""
    tokens, batch = ["we", "[CLS]", "lived", "zzzqqqxx"], [[101, 2057, 2973, 102], [2057, 102, 0, 0]]
    return {"vocab_size": tokenizer.vocab_size, "len": len(tokenizer), "tokens": tokens,
            "token_ids": tokenizer.convert_tokens_to_ids(tokens), "batch": batch,
            "batch_decoded": tokenizer.batch_decode(batch), "one_id": 101,
            "one_id_decoded": tokenizer.decode(101)}


def write(path: Path, data: dict) -> None:
    path.write_text(dumps(data) + "\n")
    print(f"wrote {path} ({len(data['cases'])} cases)")


def dumps(value, indent: str = "") -> str:
    """JSON with one item a line, except that a list of numbers or strings (a row of ids, say)
    stays on one line."""
    if isinstance(value, dict) and value:
        items = [f'{indent} {json.dumps(k)}: {dumps(v, indent + " ")}' for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    if isinstance(value, list) and any(isinstance(v, (list, dict)) for v in value):
        items = [f"{indent} {dumps(v, indent + ' ')}" for v in value]
        return "[\n" + ",\n".join(items) + f"\n{indent}]"
    return json.dumps(value, ensure_ascii=False)


if __name__ == "__main__":
    main()

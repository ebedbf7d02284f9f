"""Tokenizing: text -> int64 NumPy arrays of token ids, token type ids and attention masks.

A thin layer over the `tokenizers` library and a model's tokenizer.json, so the ids are
exactly those of transformers' fast BertTokenizer. Padding and truncation saved inside
tokenizer.json (all-MiniLM-L6-v2 pads everything to 128) are switched off: we pad or
truncate only when a call asks for it. An old BERT repo with only a vocab.txt gets the
WordPiece tokenizer that transformers builds from it.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from pathlib import Path

import numpy as np

from . import specs
from .checks import as_array
from .config import integer_at_least
from .sources import resolve_file

__all__ = ["Tokenizer"]

# The values transformers accepts for padding= and truncation=, and the strategy each names.
PADDING = {False: "do_not_pad", True: "longest", "do_not_pad": "do_not_pad",
           "longest": "longest", "max_length": "max_length"}
TRUNCATION = {False: "do_not_truncate", True: "longest_first", "do_not_truncate": "do_not_truncate",
              "longest_first": "longest_first", "only_first": "only_first",
              "only_second": "only_second"}
DEFAULT_INPUT_NAMES = ("input_ids", "token_type_ids", "attention_mask")  # BERT's
# The tokenizer classes of our families that transformers builds from vocab.txt as BERT's
# WordPiece (its BertConverter); MPNet's, say, has other special tokens and templates.
# the tokenizer classes built from vocab.txt alone, from the family's specs
WORDPIECE_CLASSES = tuple(spec.vocab_txt_tokenizer for spec in specs.FAMILIES
                          if spec.vocab_txt_tokenizer)
SPECIAL_TOKENS = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                  "cls_token": "[CLS]", "mask_token": "[MASK]"}  # BertTokenizer's defaults


class Tokenizer:
    """`tok.encode(text)` -> [1, L] ids;
    `tok(texts, pairs, padding=..., truncation=..., max_length=...)` -> dict of [B, L] ids."""

    def __init__(self, tokenizer, model_max_length: int | None = None,
                 model_input_names: tuple[str, ...] = DEFAULT_INPUT_NAMES,
                 pad_token: str | None = None):
        """`tokenizer` is a `tokenizers.Tokenizer`; model_max_length is the max_length of
        truncation and padding="max_length" when a call gives none; model_input_names are the
        arrays a call returns (transformers' names: a RoBERTa model takes no token_type_ids);
        pad_token names the padding token when tokenizer.json has none."""
        if not hasattr(tokenizer, "encode_batch"):
            raise TypeError(f"Tokenizer(...) takes a tokenizers.Tokenizer, not "
                            f"{type(tokenizer).__name__}: to load one, use "
                            "Tokenizer.from_pretrained(model folder or hub id)")
        unknown = set(model_input_names) - set(DEFAULT_INPUT_NAMES)
        if unknown or "input_ids" not in model_input_names:
            raise ValueError(f"model_input_names must include input_ids and be among "
                             f"{DEFAULT_INPUT_NAMES}, got {model_input_names}")
        self._tokenizer = tokenizer
        self._lock = threading.Lock()  # truncation is set on the shared tokenizer: one call at once
        saved_padding = tokenizer.padding  # read the pad token before switching padding off
        tokenizer.no_padding()
        tokenizer.no_truncation()
        self.pad_token_id = (saved_padding["pad_id"] if saved_padding else next(
            (tokenizer.token_to_id(t) for t in (pad_token, "[PAD]", "<pad>")
             if t is not None and tokenizer.token_to_id(t) is not None), None))
        self.model_max_length = model_max_length
        self.model_input_names = tuple(model_input_names)

    @classmethod
    def from_pretrained(cls, model: str | os.PathLike, *, revision: str | None = None,
                        token: str | bool | None = None) -> "Tokenizer":
        """Load tokenizer.json (else build BERT's WordPiece tokenizer from vocab.txt), with
        model_max_length, model_input_names and the pad token from tokenizer_config.json if
        there is one; else the input names of config.json's family. `token` is
        huggingface_hub's: a token, False for none, None for the saved one."""
        resolve = functools.partial(resolve_file, model, revision=revision, token=token)
        path = tokenizer_file(resolve)
        settings = read_json_object(resolve("tokenizer_config.json", required=False))
        tokenizer = (wordpiece_tokenizer(path, settings) if path.name == "vocab.txt"
                     else load_tokenizer_json(path))
        names = settings.get("model_input_names") or family_input_names(
            read_json_object(resolve("config.json", required=False)))
        return cls(tokenizer, model_max_length(settings), tuple(names),
                   token_setting(settings, "pad_token"))

    def encode(self, text: str, text_pair: str | None = None, *, truncation: bool | str = False,
               max_length: int | None = None) -> np.ndarray:
        """The token ids of one text (or pair), with [CLS]/[SEP]: int64 [1, L]; truncation and
        max_length as in a call."""
        return self(text, text_pair, truncation=truncation, max_length=max_length)["input_ids"]

    def __call__(self, text: str | list[str], text_pair: str | list[str] | None = None, *,
                 padding: bool | str = False, truncation: bool | str = False,
                 max_length: int | None = None) -> dict[str, np.ndarray]:
        """Tokenize one text or a batch, optionally paired (B gets token type 1).

        Returns int64 arrays "input_ids", "token_type_ids", "attention_mask", each [B, L]
        (B = 1 for a single text), or only those of model_input_names (no token_type_ids for
        RoBERTa, DistilBERT, ...), so `emb(**tok(...))` works. A batch of different lengths
        needs padding=True. padding and truncation take transformers' values; max_length
        defaults to model_max_length for both.
        """
        inputs = as_inputs(text, text_pair)
        padding = strategy(padding, PADDING, "padding")
        truncation = strategy(truncation, TRUNCATION, "truncation")
        max_length = self._max_length(padding, truncation, max_length)
        if truncation != "do_not_truncate":
            self._check_truncation(truncation, max_length, pair=isinstance(inputs[0], tuple))
        return self._stack(self._encode(inputs, truncation, max_length), padding, max_length)

    def decode(self, ids, skip_special_tokens: bool = False) -> str | list[str]:
        """The text of token ids, by the tokenizer's decoder: ids [L] -> str, [B, L] -> B strs
        (as transformers' decode); skip_special_tokens leaves out [CLS], [SEP], [PAD], ..."""
        ids = self._vocabulary_ids(ids)
        if ids.ndim == 1:
            return self._tokenizer.decode(ids.tolist(), skip_special_tokens=skip_special_tokens)
        if ids.ndim == 2:
            return self._tokenizer.decode_batch(ids.tolist(),
                                                skip_special_tokens=skip_special_tokens)
        raise ValueError(f"decode takes ids [L] or [B, L], got shape {ids.shape}")

    def convert_ids_to_tokens(self, ids) -> list[str] | str:
        """The token string of each id, e.g. [101, 2057] -> ["[CLS]", "we"]; of one id, a str
        (101 -> "[CLS]"), as in transformers."""
        checked = self._vocabulary_ids(ids)
        tokens = [self._tokenizer.id_to_token(i) for i in checked.ravel().tolist()]
        return tokens[0] if checked.ndim == 0 else tokens

    def _vocabulary_ids(self, ids) -> np.ndarray:
        """`ids` as an array, checked to be integers in the vocabulary."""
        ids = as_array(ids, "token ids")
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"token ids must be integers, got dtype {ids.dtype}")
        size = self._tokenizer.get_vocab_size(with_added_tokens=True)
        outside = ids[(ids < 0) | (ids >= size)]
        if outside.size:
            raise ValueError(f"token id {outside[0]} is not in the vocabulary "
                             f"(ids 0 to {size - 1})")
        return ids

    def _max_length(self, padding: str, truncation: str, max_length: int | None) -> int | None:
        """The length that truncation or padding="max_length" work to, checked: by default
        model_max_length, as in transformers."""
        used_by = ([f"truncation={truncation!r}"] * (truncation != "do_not_truncate")
                   + ["padding='max_length'"] * (padding == "max_length"))
        if max_length is None:
            if used_by and self.model_max_length is None:
                raise ValueError(f"{used_by[0]} needs max_length=N "
                                 "(this tokenizer has no model_max_length)")
            return self.model_max_length if used_by else None
        if not used_by:
            raise ValueError("max_length is used only with truncation or padding='max_length'")
        if not integer_at_least(max_length, 1):
            raise ValueError(f"max_length must be a positive integer, got {max_length!r}")
        return max_length

    def _check_truncation(self, truncation: str, max_length: int, pair: bool) -> None:
        """Refuse what truncation cannot do (transformers returns the sequence untruncated
        when max_length leaves no room for the special tokens)."""
        special = self._tokenizer.num_special_tokens_to_add(pair)
        if max_length < special:
            raise ValueError(f"max_length={max_length} is smaller than the {special} special "
                             f"tokens this tokenizer adds to {'a pair' if pair else 'a text'}")
        if truncation == "only_second" and not pair:
            raise ValueError("truncation='only_second' truncates the text_pair: give one")

    def _encode(self, inputs: list, truncation: str, max_length: int | None) -> list:
        """tokenizers' encodings of the inputs, truncated if asked."""
        with self._lock:
            if truncation != "do_not_truncate":
                self._tokenizer.enable_truncation(max_length, strategy=truncation)
            try:
                return self._tokenizer.encode_batch(inputs)
            except TypeError as e:  # text tokenizers cannot take: a lone surrogate, say
                raise ValueError(f"the text cannot be tokenized (is it valid Unicode?): {e}") from e
            except Exception as e:  # tokenizers' bare Exception: only_* cannot fit max_length
                raise ValueError(f"truncation={truncation!r}, max_length={max_length}: {e}") from e
            finally:
                self._tokenizer.no_truncation()

    def _stack(self, encodings, padding: str, max_length: int | None) -> dict[str, np.ndarray]:
        """Pad the encodings on the right (if asked) and stack them into [B, L] int64 arrays."""
        lengths = [len(e.ids) for e in encodings]
        if padding == "max_length":
            if max(lengths) > max_length:
                raise ValueError(f"a sequence has {max(lengths)} tokens, more than "
                                 f"max_length={max_length}; pass truncation=True")
            width = max_length
        elif padding == "longest":
            width = max(lengths)
        elif len(set(lengths)) > 1:
            raise ValueError(f"the texts have different lengths in tokens ({min(lengths)} to "
                             f"{max(lengths)}); pass padding=True to batch them")
        else:
            width = lengths[0]
        if width > min(lengths) and self.pad_token_id is None:
            raise ValueError("padding was asked for, but this tokenizer has no pad token")
        batch = {
            "input_ids": np.full((len(encodings), width), self.pad_token_id or 0, dtype=np.int64),
            "token_type_ids": np.zeros((len(encodings), width), dtype=np.int64),
            "attention_mask": np.zeros((len(encodings), width), dtype=np.int64),
        }
        for row, (e, n) in enumerate(zip(encodings, lengths)):
            batch["input_ids"][row, :n] = e.ids
            batch["token_type_ids"][row, :n] = e.type_ids
            batch["attention_mask"][row, :n] = 1
        return {name: batch[name] for name in self.model_input_names}  # only what the model takes


def strategy(value, choices: dict, name: str) -> str:
    """The strategy a padding= or truncation= value names, or an error naming the argument."""
    if not isinstance(value, (bool, str)):  # nor 0 or 1, though they equal False and True
        raise TypeError(f"{name} must be a bool or a str, got {value!r:.80}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r:.80}")
    return choices[value]


def as_inputs(text, text_pair) -> list:
    """What to encode: a list of texts, or of (text, pair) tuples. One text takes one pair, a
    list a list as long. As in transformers, an empty pair of one text is no pair, while an
    empty pair in a batch is an empty second segment ([SEP] alone)."""
    texts = as_batch(text, "text")
    if text_pair is None or (isinstance(text, str) and text_pair == ""):
        return texts
    if isinstance(text, str) != isinstance(text_pair, str):
        raise TypeError(f"text and text_pair must both be a str or both be lists, "
                        f"got {type(text).__name__} and {type(text_pair).__name__}")
    pairs = as_batch(text_pair, "text_pair")
    if len(pairs) != len(texts):
        raise ValueError(f"got {len(texts)} texts but {len(pairs)} text pairs")
    return list(zip(texts, pairs))


def as_batch(text, name: str) -> list[str]:
    """A str -> [str]; a non-empty list or tuple of str -> list; anything else raises."""
    batch = ([text] if isinstance(text, str) else
             list(text) if isinstance(text, (list, tuple)) else None)
    if not batch or not all(isinstance(t, str) for t in batch):
        raise TypeError(f"{name} must be a str or a non-empty list of str, got {text!r:.80}")
    return batch


def tokenizer_file(resolve) -> Path:
    """tokenizer.json, else the vocab.txt of an old BERT repo, through `resolve` (resolve_file
    for the model); if neither is there, tokenizer.json's error, which says where it looked."""
    path = resolve("tokenizer.json", required=False) or resolve("vocab.txt", required=False)
    if path is not None:
        return path
    try:
        return resolve("tokenizer.json")
    except FileNotFoundError as e:
        raise FileNotFoundError(f"{e} (nor a vocab.txt to build a WordPiece tokenizer from)") from e


def load_tokenizer_json(path: Path):
    """The `tokenizers.Tokenizer` saved in tokenizer.json, or an error naming the file."""
    import tokenizers

    try:
        return tokenizers.Tokenizer.from_file(str(path))
    except Exception as e:  # tokenizers raises a bare Exception for bad files
        raise ValueError(f"{path} is not a valid tokenizer.json: {e}") from e


def wordpiece_tokenizer(vocab_path: Path, settings: dict):
    """BERT's WordPiece tokenizer over vocab.txt, built as transformers' BertTokenizer builds
    it, with do_lower_case, strip_accents and tokenize_chinese_chars from tokenizer_config.json."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tokenizer_class = str(settings.get("tokenizer_class") or "BertTokenizer")
    if tokenizer_class.removesuffix("Fast") not in WORDPIECE_CLASSES:
        raise ValueError(f"{vocab_path.parent}'s tokenizer_config.json names {tokenizer_class!r}, "
                         f"and only {WORDPIECE_CLASSES} are built from vocab.txt: "
                         "it needs a tokenizer.json")
    vocab = read_vocab(vocab_path)
    special = {name: token_setting(settings, name) or default
               for name, default in SPECIAL_TOKENS.items()}
    missing = [token for token in special.values() if token not in vocab]
    if missing:
        raise ValueError(f"{vocab_path} lacks the special tokens {missing}")
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token=special["unk_token"]))
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, strip_accents=flag_setting(settings, "strip_accents", None),
        handle_chinese_chars=flag_setting(settings, "tokenize_chinese_chars", True),
        lowercase=flag_setting(settings, "do_lower_case", True))
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    tokenizer.add_special_tokens(list(special.values()))  # matched whole in a text, never split
    cls, sep = special["cls_token"], special["sep_token"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{cls}:0 $A:0 {sep}:0", pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
        special_tokens=[(cls, vocab[cls]), (sep, vocab[sep])])
    return tokenizer


def read_vocab(path: Path) -> dict[str, int]:
    """vocab.txt as {token: line number}, read as transformers' load_vocab reads it."""
    text = read_text(path)
    if not text:
        raise ValueError(f"{path} is empty")
    return {token: i for i, token in enumerate(text.removesuffix("\n").split("\n"))}


def read_text(path) -> str:
    """The UTF-8 text of `path` (universal newlines), or a ValueError naming the file."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not UTF-8 text: {e}") from e


def read_json_object(path) -> dict:
    """The JSON object in `path` ({} for no file), or an error naming the file."""
    if path is None:
        return {}
    try:
        data = json.loads(read_text(path))
    except (json.JSONDecodeError, RecursionError) as e:  # RecursionError: nested too deep
        raise ValueError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(data).__name__}")
    return data


def token_setting(settings: dict, name: str) -> str | None:
    """A special token of tokenizer_config.json: "[PAD]", or an AddedToken's {"content": ...}."""
    value = settings.get(name)
    value = value.get("content") if isinstance(value, dict) else value
    return value if isinstance(value, str) else None


def flag_setting(settings: dict, name: str, default: bool | None) -> bool | None:
    """A true/false setting of tokenizer_config.json (`default` if null or absent), checked."""
    value = settings.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValueError(f"tokenizer_config.json's {name} must be true, false or null, "
                         f"got {value!r}")
    return value


def model_max_length(settings: dict) -> int | None:
    """model_max_length from tokenizer_config.json's settings, if a sane value is there."""
    value = settings.get("model_max_length")
    # transformers writes a huge sentinel (1e30) when no limit is known
    sane = integer_at_least(value, 1) and value < 1_000_000
    return value if sane else None


def family_input_names(config: dict) -> tuple[str, ...]:
    """The inputs the model of config.json takes, from its family's spec (BERT's if unknown:
    the tokenizer does not refuse a model the embedding layer would)."""
    try:
        return specs.spec_for_config(config)[0].model_input_names
    except (ValueError, TypeError):
        return DEFAULT_INPUT_NAMES

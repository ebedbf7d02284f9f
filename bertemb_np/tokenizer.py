"""Tokenizing: text -> int64 NumPy arrays of token ids, token type ids and attention masks.

A thin layer over the `tokenizers` library and a model's tokenizer.json, so the ids are
exactly those of transformers' fast BertTokenizer. Padding and truncation saved inside
tokenizer.json (all-MiniLM-L6-v2 pads everything to 128) are switched off: we pad or
truncate only when a call asks for it.
"""

from __future__ import annotations

import json
import os
import threading

import numpy as np

from . import specs
from .sources import resolve_file

__all__ = ["Tokenizer"]

PADDING_CHOICES = (False, True, "longest", "max_length")
DEFAULT_INPUT_NAMES = ("input_ids", "token_type_ids", "attention_mask")  # BERT's


class Tokenizer:
    """`tok.encode(text)` -> [1, L] ids; `tok(texts, pairs, padding=..., truncation=..., max_length=...)` -> dict."""

    def __init__(self, tokenizer, model_max_length: int | None = None,
                 model_input_names: tuple[str, ...] = DEFAULT_INPUT_NAMES, pad_token: str | None = None):
        """`tokenizer` is a `tokenizers.Tokenizer`; model_max_length is used by truncation=True;
        model_input_names are the arrays a call returns (transformers' names: a RoBERTa model
        takes no token_type_ids); pad_token names the padding token when tokenizer.json has none."""
        unknown = set(model_input_names) - set(DEFAULT_INPUT_NAMES)
        if unknown or "input_ids" not in model_input_names:
            raise ValueError(f"model_input_names must include input_ids and be among {DEFAULT_INPUT_NAMES}, "
                             f"got {model_input_names}")
        self._tokenizer = tokenizer
        self._lock = threading.Lock()  # truncation is set on the shared tokenizer for one call at a time
        saved_padding = tokenizer.padding  # read the pad token before switching padding off
        tokenizer.no_padding()
        tokenizer.no_truncation()
        self.pad_token_id = (saved_padding["pad_id"] if saved_padding else
                             next((tokenizer.token_to_id(t) for t in (pad_token, "[PAD]", "<pad>")
                                   if t is not None and tokenizer.token_to_id(t) is not None), None))
        self.model_max_length = model_max_length
        self.model_input_names = tuple(model_input_names)

    @classmethod
    def from_pretrained(cls, model: str | os.PathLike, *, revision: str | None = None) -> "Tokenizer":
        """Load tokenizer.json, with model_max_length, model_input_names and the pad token from
        tokenizer_config.json if there is one; else the input names of config.json's family."""
        import tokenizers

        path = resolve_file(model, "tokenizer.json", revision=revision)
        try:
            tokenizer = tokenizers.Tokenizer.from_file(str(path))
        except Exception as e:  # tokenizers raises a bare Exception for bad files
            raise ValueError(f"{path} is not a valid tokenizer.json: {e}") from e
        settings = read_json_object(resolve_file(model, "tokenizer_config.json", revision=revision, required=False))
        names = settings.get("model_input_names") or family_input_names(
            read_json_object(resolve_file(model, "config.json", revision=revision, required=False)))
        pad = settings.get("pad_token")
        pad = pad.get("content") if isinstance(pad, dict) else pad
        return cls(tokenizer, model_max_length(settings), tuple(names), pad if isinstance(pad, str) else None)

    def encode(self, text: str, text_pair: str | None = None) -> np.ndarray:
        """The token ids of one text (or pair), with [CLS]/[SEP]: int64 [1, L]."""
        return self(text, text_pair)["input_ids"]

    def __call__(self, text: str | list[str], text_pair: str | list[str] | None = None, *,
                 padding: bool | str = False, truncation: bool = False,
                 max_length: int | None = None) -> dict[str, np.ndarray]:
        """Tokenize one text or a batch, optionally paired (B gets token type 1).

        Returns int64 arrays "input_ids", "token_type_ids", "attention_mask", each [B, L]
        (B = 1 for a single text), or only those of model_input_names (no token_type_ids for
        RoBERTa, DistilBERT, ...), so `emb(**tok(...))` works. A batch of different lengths
        needs padding=True.
        """
        texts, pairs = as_batch(text, "text"), as_batch(text_pair, "text_pair")
        if pairs is not None and len(pairs) != len(texts):
            raise ValueError(f"got {len(texts)} texts but {len(pairs)} text pairs")
        if padding not in PADDING_CHOICES:
            raise ValueError(f"padding must be one of {PADDING_CHOICES}, got {padding!r}")
        max_length = self._max_length(padding, truncation, max_length)
        inputs = texts if pairs is None else list(zip(texts, pairs))
        with self._lock:
            if truncation:
                self._tokenizer.enable_truncation(max_length)
            try:
                encodings = self._tokenizer.encode_batch(inputs)
            finally:
                self._tokenizer.no_truncation()
        return self._stack(encodings, padding, max_length)

    def convert_ids_to_tokens(self, ids) -> list[str]:
        """The token string of each id, e.g. [101, 2057] -> ["[CLS]", "we"]."""
        return [self._tokenizer.id_to_token(int(i)) for i in np.ravel(ids)]

    def _max_length(self, padding, truncation: bool, max_length: int | None) -> int | None:
        """The length that truncation or padding="max_length" work to, checked."""
        if max_length is None:
            if padding == "max_length" or (truncation and self.model_max_length is None):
                raise ValueError(f"{'padding=' + repr(padding) if padding == 'max_length' else 'truncation=True'} "
                                 "needs max_length=N (this tokenizer has no model_max_length)")
            return self.model_max_length if truncation else None
        if not truncation and padding != "max_length":
            raise ValueError("max_length is used only with truncation=True or padding='max_length'")
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise ValueError(f"max_length must be a positive integer, got {max_length!r}")
        return max_length

    def _stack(self, encodings, padding, max_length: int | None) -> dict[str, np.ndarray]:
        """Pad the encodings on the right (if asked) and stack them into [B, L] int64 arrays."""
        lengths = [len(e.ids) for e in encodings]
        if padding == "max_length":
            if max(lengths) > max_length:
                raise ValueError(f"a sequence has {max(lengths)} tokens, more than max_length={max_length}; "
                                 "pass truncation=True")
            width = max_length
        elif padding:
            width = max(lengths)
        elif len(set(lengths)) > 1:
            raise ValueError(f"the texts have different lengths in tokens ({min(lengths)} to {max(lengths)}); "
                             "pass padding=True to batch them")
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


def as_batch(text, name: str) -> list[str] | None:
    """A str -> [str]; a list or tuple of str -> list; None -> None; anything else raises."""
    if text is None:
        return None
    batch = [text] if isinstance(text, str) else list(text) if isinstance(text, (list, tuple)) else None
    if not batch or not all(isinstance(t, str) for t in batch):
        raise TypeError(f"{name} must be a str or a non-empty list of str, got {text!r:.80}")
    return batch


def read_json_object(path) -> dict:
    """The JSON object in `path` ({} for no file), or an error naming the file."""
    if path is None:
        return {}
    with open(path, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(data).__name__}")
    return data


def model_max_length(settings: dict) -> int | None:
    """model_max_length from tokenizer_config.json's settings, if a sane value is there."""
    value = settings.get("model_max_length")
    # transformers writes a huge sentinel (1e30) when no limit is known
    return value if isinstance(value, int) and 0 < value < 1_000_000 else None


def family_input_names(config: dict) -> tuple[str, ...]:
    """The inputs the model of config.json takes, from its family's spec (BERT's if unknown)."""
    spec = specs.REGISTRY.get(config.get("model_type"))
    return DEFAULT_INPUT_NAMES if spec is None else spec.model_input_names

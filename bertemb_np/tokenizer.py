"""Tokenizing: text -> int64 NumPy arrays of token ids, token type ids and attention masks.

A thin layer over the `tokenizers` library that gives the ids transformers 5.24's AutoTokenizer
gives for the same folder. transformers does not use tokenizer.json as saved: it picks a
tokenizer class (tokenizer_config.json's tokenizer_class, else the one of config.json's
model_type), and most classes rebuild the pipeline from tokenizer.json's vocabulary and the
settings of tokenizer_config.json (do_lower_case, strip_accents, add_prefix_space, ...), then
add the special tokens it names. CLASSES below does the same, class by class; the class also
decides which arrays a call returns (model_input_names) and the padding and truncation sides.
Padding and truncation saved inside tokenizer.json (all-MiniLM-L6-v2 pads everything to 128)
are not applied: only their sides are kept, as in transformers. An old BERT repo with only a
vocab.txt gets the WordPiece tokenizer that transformers builds from it.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast, overload

import numpy as np
import numpy.typing as npt

from . import specs
from .checks import as_array, is_integer
from .config import integer_at_least
from .sources import resolve_file

__all__ = ["Encoded", "Tokenizer"]


class InputIds(TypedDict):
    input_ids: np.ndarray  # int64 [B, L]


class Encoded(InputIds, total=False):
    """What a call returns: the arrays of model_input_names, each int64 [B, L], keyed as the
    layer's arguments, so that `emb(**tok(text))` type-checks."""

    token_type_ids: np.ndarray
    attention_mask: np.ndarray

if TYPE_CHECKING:  # tokenizers is imported when a tokenizer is built
    import tokenizers
    from tokenizers import AddedToken, Encoding
    from tokenizers.decoders import Decoder
    from tokenizers.models import Model
    from tokenizers.normalizers import Normalizer
    from tokenizers.pre_tokenizers import PreTokenizer
    from tokenizers.processors import PostProcessor

JsonObject = dict[str, Any]  # a JSON object as read: tokenizer.json, tokenizer_config.json, ...
Inputs = list[str] | list[tuple[str, str]]  # what to encode: texts, or (text, pair) tuples
# A tokenizer class's parts, made from tokenizer.json (`saved`) and tokenizer_config.json's
# settings: the model, from them and the special tokens' contents {name: "[CLS]", ...}; the
# normalizer (or None), pre-tokenizer and decoder; the post-processor, from the tokenizer.
ModelMaker = Callable[[JsonObject, JsonObject, dict[str, str]], "Model"]
Pipeline = tuple["Normalizer | None", "PreTokenizer", "Decoder"]
PipelineMaker = Callable[[JsonObject, JsonObject], Pipeline]
PostProcessorMaker = Callable[["tokenizers.Tokenizer", JsonObject, dict[str, str]],
                              "PostProcessor"]

# The values transformers accepts for padding= and truncation=, and the strategy each names.
PADDING: dict[bool | str, str] = {False: "do_not_pad", True: "longest", "do_not_pad": "do_not_pad",
           "longest": "longest", "max_length": "max_length"}
TRUNCATION: dict[bool | str, str] = {
    False: "do_not_truncate", True: "longest_first", "do_not_truncate": "do_not_truncate",
    "longest_first": "longest_first", "only_first": "only_first", "only_second": "only_second"}
SIDES = ("right", "left")
DEFAULT_INPUT_NAMES = ("input_ids", "token_type_ids", "attention_mask")  # BERT's
# the tokenizer classes built from vocab.txt alone, from the family's specs
WORDPIECE_CLASSES = tuple(spec.vocab_txt_tokenizer for spec in specs.FAMILIES
                          if spec.vocab_txt_tokenizer)
# transformers' special token attributes, in the order it adds the missing ones to the vocabulary
SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                       "cls_token", "mask_token")
LONG_SEQUENCE = ("Token indices sequence length is longer than the specified maximum sequence "
                 "length for this model ({} > {}). Running this sequence through the model will "
                 "result in indexing errors")  # transformers' words


class Tokenizer:
    """`tok(texts, pairs, padding=..., truncation=..., max_length=...)` -> dict of [B, L] ids,
    as transformers' tokenizer called with return_tensors="np"; `tok.encode(text)` -> [1, L]."""

    def __init__(self, tokenizer: tokenizers.Tokenizer, model_max_length: int | None = None,
                 model_input_names: tuple[str, ...] = DEFAULT_INPUT_NAMES,
                 pad_token: str | None = None, *, padding_side: str = "right",
                 truncation_side: str = "right", pad_token_type_id: int = 0,
                 tokenizer_class: str | None = None) -> None:
        """`tokenizer` is a `tokenizers.Tokenizer`; model_max_length is the max_length of
        truncation and padding="max_length" when a call gives none; model_input_names are the
        arrays a call returns (transformers' names: a RoBERTa tokenizer returns no
        token_type_ids); pad_token names the padding token (by default the one of
        tokenizer.json's padding section); padding_side and truncation_side are transformers'
        attributes; tokenizer_class names the transformers class reproduced (None: a
        tokenizers.Tokenizer used as given)."""
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
        if pad_token is None and saved_padding:
            pad_token = saved_padding["pad_token"]
        self.pad_token_id = None if pad_token is None else tokenizer.token_to_id(pad_token)
        self.pad_token_type_id = pad_token_type_id
        self.model_max_length = model_max_length
        self.model_input_names = tuple(model_input_names)
        self.padding_side = padding_side
        self.truncation_side = truncation_side
        self.tokenizer_class = tokenizer_class

    def __getstate__(self) -> dict[str, Any]:
        """For pickle and copy.deepcopy (multiprocessing, data loader workers): everything but
        the lock; a new one is made on load."""
        return {name: value for name, value in self.__dict__.items() if name != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _lock=threading.Lock())

    @classmethod
    def from_pretrained(cls, model: str | os.PathLike[str], *, revision: str | None = None,
                        token: str | bool | None = None, local_files_only: bool = False,
                        cache_dir: str | os.PathLike[str] | None = None) -> Tokenizer:
        """The tokenizer transformers' AutoTokenizer loads from the same folder or hub repo:
        tokenizer.json (else BERT's WordPiece over vocab.txt), rebuilt by the tokenizer class
        of tokenizer_config.json or config.json with their settings. `token` is
        huggingface_hub's: a token, False for none, None for the saved one; local_files_only
        and cache_dir as in transformers (never ask the Hub; the Hub cache folder to use)."""
        resolve = functools.partial(resolve_file, model, revision=revision, token=token,
                                    local_files_only=local_files_only, cache_dir=cache_dir)
        path = tokenizer_file(resolve)
        settings = read_json_object(resolve("tokenizer_config.json", required=False))
        if "added_tokens_decoder" not in settings:  # transformers 4's files: read as 5.24 does
            settings |= legacy_special_tokens(read_json_object(
                resolve("special_tokens_map.json", required=False)))
        config = read_json_object(resolve("config.json", required=False))
        name = tokenizer_class_name(settings, config, path)
        saved = (wordpiece_json(path) if path.name == "vocab.txt"
                 else read_json_object(path, "a valid tokenizer.json"))
        tokenizer, pad_token = build_tokenizer(path, saved, CLASSES[name], settings)
        padding, truncation = saved.get("padding") or {}, saved.get("truncation") or {}
        names = settings.get("model_input_names") or CLASSES[name].model_input_names
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"tokenizer_config.json's model_input_names must be a list of "
                             f"names, got {names!r:.80}")
        return cls(tokenizer, model_max_length(settings), tuple(names), pad_token,
                   tokenizer_class=name,
                   padding_side=side(settings, "padding_side", padding),
                   truncation_side=side(settings, "truncation_side", truncation),
                   pad_token_type_id=padding.get("pad_type_id", 0))

    # transformers' attributes: settable, checked where they are set
    @property
    def padding_side(self) -> str:
        """The side padding goes on: "right" or "left"."""
        return self._padding_side

    @padding_side.setter
    def padding_side(self, value: str) -> None:
        self._padding_side = checked_side(value, "padding_side")

    @property
    def truncation_side(self) -> str:
        """The side truncation cuts from: "right" or "left"."""
        return self._truncation_side

    @truncation_side.setter
    def truncation_side(self, value: str) -> None:
        self._truncation_side = checked_side(value, "truncation_side")

    @property
    def model_max_length(self) -> int | None:
        """The longest input the model takes (None: unknown): the default max_length."""
        return self._model_max_length

    @model_max_length.setter
    def model_max_length(self, value: int | None) -> None:
        if value is not None and not integer_at_least(value, 1):
            raise ValueError(f"model_max_length must be a positive integer or None, got {value!r}")
        self._model_max_length = value

    def encode(self, text: str, text_pair: str | None = None, *, add_special_tokens: bool = True,
               padding: bool | str = False, truncation: bool | str | None = None,
               max_length: int | None = None, return_tensors: str | None = None,
               verbose: bool = True) -> np.ndarray:
        """The token ids of one text (or pair), with [CLS]/[SEP] unless add_special_tokens=False:
        int64 [1, L] (transformers' encode with return_tensors="np"); the rest as in a call."""
        return self(text, text_pair, add_special_tokens=add_special_tokens, padding=padding,
                    truncation=truncation, max_length=max_length, return_tensors=return_tensors,
                    verbose=verbose)["input_ids"]

    def tokenize(self, text: str, pair: str | None = None, *, add_special_tokens: bool = False,
                 verbose: bool = True) -> list[str]:
        """The token strings of one text (or pair), e.g. "Hello!" -> ["hello", "!"]."""
        if not isinstance(text, str):
            raise TypeError(f"tokenize takes one text (a str), got {text!r:.80}")
        inputs = as_inputs(text, pair)
        encodings = self._encode(inputs, checked_flag(add_special_tokens, "add_special_tokens"),
                                 "do_not_truncate", None)
        if checked_flag(verbose, "verbose"):
            self._warn_if_too_long(encodings)
        return encodings[0].tokens

    def __call__(self, text: str | list[str], text_pair: str | list[str] | None = None, *,
                 add_special_tokens: bool = True, padding: bool | str = False,
                 truncation: bool | str | None = None, max_length: int | None = None,
                 padding_side: str | None = None, return_tensors: str | None = None,
                 return_token_type_ids: bool | None = None,
                 return_attention_mask: bool | None = None,
                 verbose: bool = True) -> Encoded:
        """Tokenize one text or a batch, optionally paired, as transformers does.

        Returns int64 arrays "input_ids", "token_type_ids", "attention_mask", each [B, L]
        (B = 1 for a single text): those of model_input_names (no token_type_ids for RoBERTa,
        ALBERT, ...; return_token_type_ids / return_attention_mask override), so
        `emb(**tok(...))` works. A batch of different lengths needs padding=True. padding,
        truncation, max_length (alone: truncate to it) and padding_side take transformers'
        values; max_length defaults to model_max_length. return_tensors: "np" or None, the same
        NumPy arrays (there is no other framework here). Like transformers, warns when a
        sequence is longer than model_max_length and no max_length applies, unless verbose=False.
        """
        check_return_tensors(return_tensors)
        if truncation is None:  # transformers: max_length alone asks for truncation
            truncation = max_length is not None and padding is False
        inputs = as_inputs(text, text_pair)
        add_special_tokens = checked_flag(add_special_tokens, "add_special_tokens")
        verbose = checked_flag(verbose, "verbose")
        padding = strategy(padding, PADDING, "padding")
        truncation = strategy(truncation, TRUNCATION, "truncation")
        side_of_padding = self.padding_side if padding_side is None else checked_side(
            padding_side, "padding_side")
        names = self._output_names(return_token_type_ids, return_attention_mask)
        max_length = self._max_length(padding, truncation, max_length)
        if truncation != "do_not_truncate":
            assert max_length is not None  # _max_length gives one whenever truncation is on
            self._check_truncation(truncation, max_length, isinstance(inputs[0], tuple),
                                   add_special_tokens)
        encodings = self._encode(inputs, add_special_tokens, truncation, max_length)
        if max_length is None and verbose:
            self._warn_if_too_long(encodings)
        return self._stack(encodings, padding, max_length, side_of_padding, names)

    def decode(self, ids: npt.ArrayLike, skip_special_tokens: bool = False) -> str | list[str]:
        """The text of token ids, by the tokenizer's decoder: ids [L] -> str, [B, L] -> B strs
        (as transformers' decode); skip_special_tokens leaves out [CLS], [SEP], [PAD], ..."""
        ids = self._vocabulary_ids(ids)
        if ids.ndim <= 1:  # one id (101 -> "[CLS]") or a sequence
            return self._tokenizer.decode(ids.reshape(-1).tolist(),
                                          skip_special_tokens=skip_special_tokens)
        if ids.ndim == 2:
            return self._tokenizer.decode_batch(ids.tolist(),
                                                skip_special_tokens=skip_special_tokens)
        raise ValueError(f"decode takes ids [L] or [B, L], got shape {ids.shape}")

    def batch_decode(self, ids: npt.ArrayLike, skip_special_tokens: bool = False) -> list[str]:
        """The text of each sequence of ids [B, L] (transformers' batch_decode)."""
        checked = self._vocabulary_ids(ids)
        if checked.ndim != 2:
            raise ValueError(f"batch_decode takes ids [B, L], got shape {checked.shape}")
        return self._tokenizer.decode_batch(checked.tolist(),
                                            skip_special_tokens=skip_special_tokens)

    def convert_tokens_to_ids(self, tokens: str | list[str]) -> int | list[int]:
        """The id of each token string, the unknown token's for one not in the vocabulary
        (["we", "[CLS]"] -> [2057, 101]; one str -> one int), as in transformers."""
        if isinstance(tokens, str):
            return self._token_ids([tokens])[0]
        if not all(isinstance(token, str) for token in tokens):
            raise TypeError(f"convert_tokens_to_ids takes token strings, got {tokens!r}")
        return self._token_ids(tokens)

    def _token_ids(self, tokens: list[str]) -> list[int]:
        """The id of each token, the unknown token's for one not in the vocabulary."""
        # the model's unknown token (WordPiece, BPE); a Unigram model names none
        unk_token = getattr(self._tokenizer.model, "unk_token", None)
        unknown = None if unk_token is None else self._tokenizer.token_to_id(unk_token)
        ids = []
        for token in tokens:
            found = self._tokenizer.token_to_id(token)
            if found is None:
                found = unknown
            if found is None:
                raise ValueError(f"token {token!r} is not in the vocabulary")
            ids.append(found)
        return ids

    @property
    def vocab_size(self) -> int:
        """The vocabulary's size without the tokens added on top (transformers' vocab_size)."""
        return self._tokenizer.get_vocab_size(with_added_tokens=False)

    def __len__(self) -> int:
        """The vocabulary's size with the added tokens, as len() of a transformers tokenizer."""
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def convert_ids_to_tokens(self, ids: npt.ArrayLike) -> list[str] | str:
        """The token string of each id, e.g. [101, 2057] -> ["[CLS]", "we"]; of one id, a str
        (101 -> "[CLS]"), as in transformers."""
        checked = self._vocabulary_ids(ids)
        tokens = []
        for i in checked.ravel().tolist():
            token = self._tokenizer.id_to_token(i)
            if token is None:  # an id in range that the vocabulary skips
                raise ValueError(f"token id {i} is not in the vocabulary")
            tokens.append(token)
        return tokens[0] if checked.ndim == 0 else tokens

    def _vocabulary_ids(self, ids: npt.ArrayLike) -> np.ndarray:
        """`ids` as an array, checked to be integers in the vocabulary."""
        array = as_array(ids, "token ids")
        if array.size and not is_integer(array.dtype):  # not bool, float, timedelta64, ...
            raise TypeError(f"token ids must be integers, got dtype {array.dtype}")
        size = self._tokenizer.get_vocab_size(with_added_tokens=True)
        outside = array[(array < 0) | (array >= size)]
        if outside.size:
            raise ValueError(f"token id {outside[0]} is not in the vocabulary "
                             f"(ids 0 to {size - 1})")
        return array

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

    def _output_names(self, token_type_ids: bool | None, attention_mask: bool | None
                      ) -> tuple[str, ...]:
        """The arrays a call returns: model_input_names, unless return_* says otherwise."""
        asked = {"token_type_ids": token_type_ids, "attention_mask": attention_mask}
        for name, value in asked.items():
            if value is not None:
                checked_flag(value, f"return_{name}")
        return tuple(name for name in DEFAULT_INPUT_NAMES if name == "input_ids" or (
            name in self.model_input_names if asked[name] is None else asked[name]))

    def _check_truncation(self, truncation: str, max_length: int, pair: bool,
                          add_special_tokens: bool) -> None:
        """Refuse what truncation cannot do (transformers returns the sequence untruncated
        when max_length leaves no room for the special tokens)."""
        special = self._tokenizer.num_special_tokens_to_add(pair) if add_special_tokens else 0
        if max_length < special:
            raise ValueError(f"max_length={max_length} is smaller than the {special} special "
                             f"tokens this tokenizer adds to {'a pair' if pair else 'a text'}")
        if truncation == "only_second" and not pair:
            raise ValueError("truncation='only_second' truncates the text_pair: give one")

    def _encode(self, inputs: Inputs, add_special_tokens: bool, truncation: str,
                max_length: int | None) -> list[Encoding]:
        """tokenizers' encodings of the inputs, truncated on truncation_side if asked."""
        with self._lock:
            if truncation != "do_not_truncate":
                assert max_length is not None  # _max_length gives one whenever truncation is on
                self._tokenizer.enable_truncation(max_length, strategy=truncation,
                                                  direction=self.truncation_side)
            try:
                return self._tokenizer.encode_batch(inputs, add_special_tokens=add_special_tokens)
            except TypeError as e:  # text tokenizers cannot take: a lone surrogate, say
                raise ValueError(f"the text cannot be tokenized (is it valid Unicode?): {e}") from e
            except Exception as e:  # tokenizers' bare Exception: only_* cannot fit max_length
                raise ValueError(f"truncation={truncation!r}, max_length={max_length}: {e}") from e
            finally:
                self._tokenizer.no_truncation()

    def _warn_if_too_long(self, encodings: list[Encoding]) -> None:
        """transformers' warning when a sequence is longer than model_max_length and no
        max_length applied."""
        longest = max(len(e.ids) for e in encodings)
        if self.model_max_length is not None and longest > self.model_max_length:
            warnings.warn(LONG_SEQUENCE.format(longest, self.model_max_length), stacklevel=3)

    def _stack(self, encodings: list[Encoding], padding: str, max_length: int | None,
               padding_side: str,
               names: tuple[str, ...]) -> Encoded:
        """Pad the encodings on padding_side (if asked) and stack them into [B, L] int64
        arrays: those named in `names`."""
        lengths = [len(e.ids) for e in encodings]
        if padding == "max_length":
            assert max_length is not None  # _max_length gives one for padding="max_length"
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
        if padding != "do_not_pad" and self.pad_token_id is None:
            raise ValueError("padding was asked for, but this tokenizer has no pad token")
        batch = {
            "input_ids": np.full((len(encodings), width), self.pad_token_id or 0, dtype=np.int64),
            "token_type_ids": np.full((len(encodings), width), self.pad_token_type_id,
                                      dtype=np.int64),
            "attention_mask": np.zeros((len(encodings), width), dtype=np.int64),
        }
        for row, (e, n) in enumerate(zip(encodings, lengths, strict=True)):
            at = slice(0, n) if padding_side == "right" else slice(width - n, width)
            batch["input_ids"][row, at] = e.ids
            batch["token_type_ids"][row, at] = e.type_ids
            batch["attention_mask"][row, at] = 1
        encoded: Encoded = {"input_ids": batch["input_ids"]}  # the others in names' order
        if "token_type_ids" in names:
            encoded["token_type_ids"] = batch["token_type_ids"]
        if "attention_mask" in names:
            encoded["attention_mask"] = batch["attention_mask"]
        return encoded


def strategy(value: object, choices: Mapping[bool | str, str], name: str) -> str:
    """The strategy a padding= or truncation= value names, or an error naming the argument."""
    if not isinstance(value, (bool, str)):  # nor 0 or 1, though they equal False and True
        raise TypeError(f"{name} must be a bool or a str, got {value!r:.80}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r:.80}")
    return choices[value]


def as_inputs(text: object, text_pair: object) -> Inputs:
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
    return list(zip(texts, pairs, strict=True))


def as_batch(text: object, name: str) -> list[str]:
    """A str -> [str]; a non-empty list or tuple of str -> list; anything else raises."""
    batch = ([text] if isinstance(text, str) else
             list(text) if isinstance(text, (list, tuple)) else None)
    if not batch or not all(isinstance(t, str) for t in batch):
        raise TypeError(f"{name} must be a str or a non-empty list of str, got {text!r:.80}")
    return batch


def tokenizer_file(resolve: Callable[..., Path | None]) -> Path:
    """tokenizer.json, else the vocab.txt of an old BERT repo, through `resolve` (resolve_file
    for the model); if neither is there, tokenizer.json's error, which says where it looked."""
    path = resolve("tokenizer.json", required=False) or resolve("vocab.txt", required=False)
    if path is not None:
        return path
    try:
        return cast(Path, resolve("tokenizer.json"))  # required: raises rather than give None
    except FileNotFoundError as e:
        raise FileNotFoundError(f"{e} (nor a vocab.txt to build a WordPiece tokenizer from)") from e


def wordpiece_json(vocab_path: Path) -> JsonObject:
    """vocab.txt as the model section of a tokenizer.json (transformers' BertTokenizer takes
    its vocabulary from either)."""
    return {"model": {"type": "WordPiece", "vocab": read_vocab(vocab_path)}}


def checked_side(value: object, name: str) -> str:
    if not isinstance(value, str) or value not in SIDES:
        raise ValueError(f"{name} must be 'right' or 'left', got {value!r:.80}")
    return value


def side(settings: JsonObject, name: str, section: JsonObject) -> str:
    """padding_side or truncation_side: tokenizer_config.json's, else the direction of
    tokenizer.json's padding or truncation section, else "right" (transformers' order)."""
    value = settings.get(name) or section.get("direction", "Right").lower()
    try:
        return checked_side(value, name)
    except ValueError as e:
        raise ValueError(f"tokenizer_config.json's {e}") from None


def checked_flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r:.80}")
    return value


def check_return_tensors(value: object) -> None:
    """return_tensors: None or "np" (both give NumPy arrays); anything else is refused."""
    if value not in (None, "np"):
        raise ValueError(f"return_tensors={value!r:.80}: bertemb_np returns NumPy arrays only "
                         "(no torch, TensorFlow, JAX or MLX): pass return_tensors='np' or leave "
                         "it out")


# ---- transformers 5.24's tokenizer classes --------------------------------------------------------

@dataclass(frozen=True)
class TokenizerClass:
    """What one transformers tokenizer class does on top of tokenizer.json, as its __init__ at
    v5.24.0 does it (src/transformers/models/<type>/tokenization_<type>.py; TokenizersBackend:
    src/transformers/tokenization_utils_tokenizers.py). Classes that rebuild take tokenizer.json's
    vocabulary into a new model with new normalizer, pre-tokenizer, decoder and post-processor,
    made from tokenizer_config.json's settings; tokenizer.json's own pipeline and added tokens
    are dropped."""

    model_input_names: tuple[str, ...]  # the arrays a call returns
    special_tokens: dict[str, str]  # its default of each special token
    model: ModelMaker | None = None  # (tokenizer.json's model, settings, special tokens) -> model;
    # None: tokenizer.json is used as saved (TokenizersBackend, PreTrainedTokenizerFast)
    pipeline: PipelineMaker | None = None  # (tokenizer.json, settings) -> normalizer, pre, decoder
    post_processor: PostProcessorMaker | None = None  # (tokenizer, settings, special tokens)
    lstrip_mask: bool = False  # its mask token takes the space before it
    extra_special_tokens: tuple[str, ...] = ()  # its default extra special tokens


def saved_model(saved: JsonObject, kind: str) -> JsonObject:
    """tokenizer.json's model section, checked to be of the kind the class rebuilds."""
    model = saved.get("model")
    if not isinstance(model, dict) or model.get("type", kind) != kind:
        found = model.get("type") if isinstance(model, dict) else model
        raise ValueError(f"the tokenizer class takes a {kind} vocabulary, but tokenizer.json's "
                         f"model is {found!r:.40}")
    return model


def wordpiece_model(saved: JsonObject, settings: JsonObject, special: dict[str, str]) -> Model:
    from tokenizers import models

    return models.WordPiece(saved_model(saved, "WordPiece")["vocab"],
                            unk_token=special["unk_token"])


def byte_level_bpe_model(saved: JsonObject, settings: JsonObject, special: dict[str, str]
                         ) -> Model:
    from tokenizers import models

    model = saved_model(saved, "BPE")
    merges = [merge_pair(m) for m in model["merges"]]
    return models.BPE(model["vocab"], merges, dropout=None, continuing_subword_prefix="",
                      end_of_word_suffix="", fuse_unk=False)


def merge_pair(merge: str | list[str]) -> tuple[str, str]:
    """A BPE merge of tokenizer.json, "a b" or ["a", "b"], as the pair ("a", "b")."""
    first, second = merge.split(" ") if isinstance(merge, str) else merge
    return first, second


def unigram_model(unk_id: Callable[[list[tuple[str, float]], JsonObject, str], int]
                  ) -> ModelMaker:
    """A Unigram model over tokenizer.json's pieces, with the unknown-token id the class picks:
    unk_id(pieces, settings, unk_token)."""
    def model(saved: JsonObject, settings: JsonObject, special: dict[str, str]) -> Model:
        from tokenizers import models

        pieces = [tuple(piece) for piece in saved_model(saved, "Unigram")["vocab"]]
        return models.Unigram(pieces, unk_id=unk_id(pieces, settings, special["unk_token"]),
                              byte_fallback=False)
    return model


def precompiled(saved: JsonObject) -> list[Normalizer]:
    """The SentencePiece character map normalizer in tokenizer.json, the one part of its
    normalizer that SentencePiece classes keep."""
    from tokenizers import normalizers

    section = saved.get("normalizer") or {}
    parts = section.get("normalizers", []) if section.get("type") == "Sequence" else [section]
    found: list[Normalizer] = [
        normalizers.Precompiled(base64.b64decode(part["precompiled_charsmap"]))
        for part in parts if part.get("type") == "Precompiled"]
    return found[:1]


def sequence(items: list[Normalizer]) -> Normalizer | None:
    """A normalizers.Sequence of `items`, or None for none."""
    from tokenizers import normalizers

    return normalizers.Sequence(items) if items else None


def bert_pipeline(saved: JsonObject, settings: JsonObject) -> Pipeline:
    from tokenizers import decoders, normalizers, pre_tokenizers

    normalizer = normalizers.BertNormalizer(
        clean_text=True,
        handle_chinese_chars=flag_setting(settings, "tokenize_chinese_chars", True),
        strip_accents=flag_setting(settings, "strip_accents", None),
        lowercase=flag_setting(settings, "do_lower_case", True))
    return normalizer, pre_tokenizers.BertPreTokenizer(), decoders.WordPiece(prefix="##")


def byte_level_pipeline(saved: JsonObject, settings: JsonObject) -> Pipeline:
    from tokenizers import decoders, pre_tokenizers

    prefix = flag_setting(settings, "add_prefix_space", False)
    return None, pre_tokenizers.ByteLevel(add_prefix_space=prefix), decoders.ByteLevel()


def metaspace(settings: JsonObject, otherwise: str, split_first: list[PreTokenizer]
              ) -> tuple[PreTokenizer, Decoder]:
    """The pre-tokenizer and decoder of SentencePiece classes: "▁" before each word, and before
    the first if add_prefix_space (else `otherwise`: "never" or "first")."""
    from tokenizers import decoders, pre_tokenizers

    scheme = "always" if flag_setting(settings, "add_prefix_space", True) else otherwise
    return (pre_tokenizers.Sequence(split_first + [
                pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme)]),
            decoders.Metaspace(replacement="▁", prepend_scheme=scheme))


def xlm_roberta_pipeline(saved: JsonObject, settings: JsonObject) -> Pipeline:
    from tokenizers import pre_tokenizers

    return (sequence(precompiled(saved)),
            *metaspace(settings, "never", [pre_tokenizers.WhitespaceSplit()]))


def albert_pipeline(saved: JsonObject, settings: JsonObject) -> Pipeline:
    from tokenizers import normalizers, pre_tokenizers

    steps: list[Normalizer] = [normalizers.Replace("``", '"'), normalizers.Replace("''", '"')]
    if not flag_setting(settings, "keep_accents", False):
        steps += [normalizers.NFKD(), normalizers.StripAccents()]
    if flag_setting(settings, "do_lower_case", True):
        steps.append(normalizers.Lowercase())
    return (normalizers.Sequence(steps + precompiled(saved)),
            *metaspace(settings, "never", [pre_tokenizers.WhitespaceSplit()]))


def deberta_v2_pipeline(saved: JsonObject, settings: JsonObject) -> Pipeline:
    from tokenizers import Regex, normalizers, pre_tokenizers

    steps: list[Normalizer] = ([normalizers.Lowercase()]
                               if flag_setting(settings, "do_lower_case", False) else [])
    steps += [normalizers.Replace(Regex(r"\s{2,}|[\n\r\t]"), " "), normalizers.NFC(),
              normalizers.Strip(left=False, right=True)]
    split: list[PreTokenizer] = ([pre_tokenizers.Punctuation(behavior="isolated")]
                                 if flag_setting(settings, "split_by_punct", False) else [])
    return normalizers.Sequence(steps), *metaspace(settings, "first", split)


def token_id(tokenizer: tokenizers.Tokenizer, token: str, fallback: int | None = None) -> int:
    """The id of `token` in the vocabulary, else `fallback`; with neither, an error naming it."""
    found = tokenizer.token_to_id(token)
    if found is None:
        found = fallback
    if found is None:
        raise ValueError(f"the tokenizer has no token {token!r} for its post-processor")
    return found


def cls_sep_typed(fallback: tuple[int | None, int | None]) -> PostProcessorMaker:
    """[CLS] A [SEP] (B [SEP]), B of token type 1 (BERT's, DeBERTa-v2's)."""
    def post_processor(tokenizer: tokenizers.Tokenizer, settings: JsonObject,
                       special: dict[str, str]) -> PostProcessor:
        from tokenizers import processors

        cls, sep = special["cls_token"], special["sep_token"]
        return processors.TemplateProcessing(
            single=f"{cls}:0 $A:0 {sep}:0", pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
            special_tokens=[(cls, token_id(tokenizer, cls, fallback[0])),
                            (sep, token_id(tokenizer, sep, fallback[1]))])
    return post_processor


def albert_post_processor(tokenizer: tokenizers.Tokenizer, settings: JsonObject,
                          special: dict[str, str]) -> PostProcessor:
    """ALBERT's: the literal names [CLS] and [SEP] with the ids of cls_token and sep_token."""
    from tokenizers import processors

    return processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tokenizer.token_to_id(special["cls_token"])),
                        ("[SEP]", tokenizer.token_to_id(special["sep_token"]))])


def double_sep(first: str, last: str) -> PostProcessorMaker:
    """<s> A </s> (</s> B </s>), all of token type 0, with the special tokens named `first`
    and `last` (XLM-R's and CamemBERT's bos/eos, DeBERTa's cls/sep)."""
    def post_processor(tokenizer: tokenizers.Tokenizer, settings: JsonObject,
                       special: dict[str, str]) -> PostProcessor:
        from tokenizers import processors

        start, end = special[first], special[last]
        return processors.TemplateProcessing(
            single=[start, "$A", end], pair=[start, "$A", end, end, "$B", end],
            special_tokens=[(start, tokenizer.token_to_id(start)),
                            (end, tokenizer.token_to_id(end))])
    return post_processor


def roberta_processing(from_settings: bool, fallback: tuple[int | None, int | None]
                       ) -> PostProcessorMaker:
    """RoBERTa's <s> A </s> (</s> B </s>); trim_offsets and add_prefix_space from the settings
    (RoBERTa's) or fixed (MPNet's)."""
    def post_processor(tokenizer: tokenizers.Tokenizer, settings: JsonObject,
                       special: dict[str, str]) -> PostProcessor:
        from tokenizers import processors

        cls, sep = special["cls_token"], special["sep_token"]
        trim = flag_setting(settings, "trim_offsets", True) if from_settings else True
        prefix = flag_setting(settings, "add_prefix_space", False) if from_settings else False
        return processors.RobertaProcessing((sep, token_id(tokenizer, sep, fallback[1])),
                                            (cls, token_id(tokenizer, cls, fallback[0])),
                                            trim, prefix)
    return post_processor


BERT_TOKENS = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
               "cls_token": "[CLS]", "mask_token": "[MASK]"}
ROBERTA_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
                  "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"}
DEBERTA_TOKENS = {"bos_token": "[CLS]", "eos_token": "[SEP]", "unk_token": "[UNK]",
                  "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                  "mask_token": "[MASK]"}
CLASSES = {
    "BertTokenizer": TokenizerClass(("input_ids", "token_type_ids", "attention_mask"),
                                    BERT_TOKENS, wordpiece_model, bert_pipeline,
                                    cls_sep_typed((2, 3))),
    "DistilBertTokenizer": TokenizerClass(("input_ids", "attention_mask"), BERT_TOKENS,
                                          wordpiece_model, bert_pipeline, cls_sep_typed((2, 3))),
    "MPNetTokenizer": TokenizerClass(
        ("input_ids", "attention_mask"), ROBERTA_TOKENS | {"unk_token": "[UNK]"},
        wordpiece_model, bert_pipeline, roberta_processing(False, (0, 2)), lstrip_mask=True),
    "RobertaTokenizer": TokenizerClass(("input_ids", "attention_mask"), ROBERTA_TOKENS,
                                       byte_level_bpe_model, byte_level_pipeline,
                                       roberta_processing(True, (None, None))),
    "DebertaTokenizer": TokenizerClass(("input_ids", "attention_mask", "token_type_ids"),
                                       DEBERTA_TOKENS, byte_level_bpe_model, byte_level_pipeline,
                                       double_sep("cls_token", "sep_token")),
    "XLMRobertaTokenizer": TokenizerClass(
        ("input_ids", "attention_mask"), ROBERTA_TOKENS,
        unigram_model(lambda pieces, settings, unk: 3), xlm_roberta_pipeline,
        double_sep("bos_token", "eos_token")),
    "CamembertTokenizer": TokenizerClass(
        ("input_ids", "attention_mask"), ROBERTA_TOKENS,
        unigram_model(lambda pieces, settings, unk: next(
            (i for i, (piece, _) in enumerate(pieces) if piece == unk), 0)),
        xlm_roberta_pipeline, double_sep("bos_token", "eos_token"), lstrip_mask=True,
        extra_special_tokens=("<s>NOTUSED", "</s>NOTUSED", "<unk>NOTUSED")),
    "AlbertTokenizer": TokenizerClass(
        ("input_ids", "attention_mask"),
        DEBERTA_TOKENS | {"unk_token": "<unk>", "pad_token": "<pad>"},
        unigram_model(lambda pieces, settings, unk: 1), albert_pipeline, albert_post_processor),
    "DebertaV2Tokenizer": TokenizerClass(
        ("input_ids", "attention_mask", "token_type_ids"), DEBERTA_TOKENS,
        unigram_model(lambda pieces, settings, unk: pieces.index((unk, 0.0))
                      if (unk, 0.0) in pieces else settings.get("unk_id", 1)),
        deberta_v2_pipeline, cls_sep_typed((0, 0))),
    "TokenizersBackend": TokenizerClass(("input_ids", "attention_mask"), {}),
}
# other names of those classes in tokenizer_config.json (transformers 4's "...Fast" names too)
CLASS_ALIASES = {"PreTrainedTokenizerFast": "TokenizersBackend",
                 "ElectraTokenizer": "BertTokenizer"}
# each model type's class when tokenizer_config.json names none (transformers' auto mapping);
# TokenizersBackend ones also override the class tokenizer_config.json names
MODEL_TYPE_CLASSES = {
    "bert": "BertTokenizer", "distilbert": "BertTokenizer", "electra": "BertTokenizer",
    "nomic_bert": "BertTokenizer", "mpnet": "MPNetTokenizer", "roberta": "RobertaTokenizer",
    "data2vec-text": "RobertaTokenizer", "xlm-roberta": "XLMRobertaTokenizer",
    "gte": "XLMRobertaTokenizer", "camembert": "CamembertTokenizer",
    "albert": "AlbertTokenizer", "deberta": "DebertaTokenizer",
    "deberta-v2": "DebertaV2Tokenizer", "modernbert": "TokenizersBackend",
}


def tokenizer_class_name(settings: JsonObject, config: JsonObject, path: Path) -> str:
    """The transformers tokenizer class AutoTokenizer picks for the folder: for model types
    whose class is TokenizersBackend, that one; else tokenizer_config.json's tokenizer_class;
    else the model type's; else TokenizersBackend (tokenizer.json as saved)."""
    declared = settings.get("tokenizer_class")
    model_type = config.get("model_type")
    registered = MODEL_TYPE_CLASSES.get(model_type) if isinstance(model_type, str) else None
    name = (registered if registered == "TokenizersBackend" else declared or registered
            or ("BertTokenizer" if path.name == "vocab.txt" else "TokenizersBackend"))
    if not isinstance(name, str):
        raise ValueError(f"tokenizer_config.json's tokenizer_class must be a str, got {name!r:.80}")
    if name != "PreTrainedTokenizerFast":
        name = name.removesuffix("Fast")
    name = CLASS_ALIASES.get(name, name)
    if name not in CLASSES:
        raise ValueError(f"{path.parent}'s tokenizer_config.json names tokenizer_class "
                         f"{declared!r}, which bertemb_np does not reproduce; it reproduces "
                         f"{', '.join(CLASSES)} and PreTrainedTokenizerFast")
    if path.name == "vocab.txt" and name not in WORDPIECE_CLASSES:
        raise ValueError(f"{path.parent}'s tokenizer_config.json names {declared!r}, and only "
                         f"{WORDPIECE_CLASSES} are built from vocab.txt: it needs a tokenizer.json")
    return name


def special_tokens(tokenizer_class: TokenizerClass, settings: JsonObject
                   ) -> tuple[dict[str, AddedToken | None], list[AddedToken]]:
    """The special tokens of the class, tokenizer_config.json's over the class defaults, as
    {name: AddedToken} (None for none), and the extra special tokens."""
    from tokenizers import AddedToken

    tokens: dict[str, AddedToken | None] = {}
    for name in SPECIAL_TOKEN_NAMES:
        value = settings.get(name, tokenizer_class.special_tokens.get(name))
        if isinstance(value, dict):  # an AddedToken saved with its options
            options = {key: value[key] for key in ("single_word", "lstrip", "rstrip", "normalized")
                       if isinstance(value.get(key), bool)}
            value = AddedToken(token_setting(settings, name) or "", special=True, **options)
        elif isinstance(value, str):
            value = AddedToken(value, special=True, normalized=False,
                               lstrip=tokenizer_class.lstrip_mask and name == "mask_token")
        elif value is not None:
            raise ValueError(f"tokenizer_config.json's {name} must be a token, got {value!r:.80}")
        tokens[name] = value
    extra = settings.get("extra_special_tokens", settings.get("additional_special_tokens",
                                                              tokenizer_class.extra_special_tokens))
    return tokens, [AddedToken(t, special=True, normalized=False)
                    for t in (extra if isinstance(extra, (list, tuple)) else []) if
                    isinstance(t, str)]


def legacy_special_tokens(saved: JsonObject) -> JsonObject:
    """The special tokens of special_tokens_map.json, which transformers reads (over
    tokenizer_config.json's) when tokenizer_config.json has no added_tokens_decoder."""
    names = SPECIAL_TOKEN_NAMES + ("additional_special_tokens",)
    return {name: value for name, value in saved.items() if name in names}


def added_tokens(settings: JsonObject) -> list[AddedToken]:
    """tokenizer_config.json's added_tokens_decoder, in id order."""
    from tokenizers import AddedToken

    saved = settings.get("added_tokens_decoder")
    if not isinstance(saved, dict):
        return []
    tokens = []
    for _, token in sorted(saved.items(), key=lambda item: int(item[0])):
        if isinstance(token, dict) and isinstance(token.get("content"), str):
            tokens.append(AddedToken(**{key: token[key] for key in (
                "content", "single_word", "lstrip", "rstrip", "normalized", "special")
                if key in token}))
    return tokens


def build_tokenizer(path: Path, saved: JsonObject, tokenizer_class: TokenizerClass,
                    settings: JsonObject) -> tuple[tokenizers.Tokenizer, str | None]:
    """The `tokenizers.Tokenizer` transformers' class builds, and the name of its pad token
    (None: none)."""
    from tokenizers import Tokenizer

    special, extra = special_tokens(tokenizer_class, settings)
    contents = {name: str(token.content) for name, token in special.items() if token is not None}
    try:
        if tokenizer_class.model is None or tokenizer_class.pipeline is None:  # used as saved
            tokenizer = Tokenizer.from_str(json.dumps(saved))
        else:
            tokenizer = Tokenizer(tokenizer_class.model(saved, settings, contents))
            normalizer, pre_tokenizer, decoder = tokenizer_class.pipeline(saved, settings)
            if normalizer is not None:
                tokenizer.normalizer = normalizer
            tokenizer.pre_tokenizer, tokenizer.decoder = pre_tokenizer, decoder
    except Exception as e:  # tokenizers raises a bare Exception for bad files
        raise ValueError(f"{path} is not a valid tokenizer.json: {e}") from e
    if path.name == "vocab.txt":
        missing = [t for t in contents.values() if t not in saved["model"]["vocab"]]
        if missing:
            raise ValueError(f"{path} lacks the special tokens {missing}")
    present = {token.content for token in tokenizer.get_added_tokens_decoder().values()}
    for token in (added_tokens(settings) + [t for t in special.values() if t is not None]
                  + extra):
        if token.content not in present:  # as transformers: tokens already there stay as they are
            (tokenizer.add_special_tokens if token.special else tokenizer.add_tokens)([token])
            present.add(token.content)
    if tokenizer_class.post_processor is not None:
        tokenizer.post_processor = tokenizer_class.post_processor(tokenizer, settings, contents)
    pad_token = contents.get("pad_token") or (saved.get("padding") or {}).get("pad_token")
    return tokenizer, pad_token


def read_vocab(path: Path) -> dict[str, int]:
    """vocab.txt as {token: line number}, read as transformers' load_vocab reads it."""
    text = read_text(path)
    if not text:
        raise ValueError(f"{path} is empty")
    return {token: i for i, token in enumerate(text.removesuffix("\n").split("\n"))}


def read_text(path: Path) -> str:
    """The UTF-8 text of `path` (universal newlines), or a ValueError naming the file."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not UTF-8 text: {e}") from e


def read_json_object(path: Path | None, what: str = "valid JSON") -> JsonObject:
    """The JSON object in `path` ({} for no file), or an error naming the file and `what` it
    is not."""
    if path is None:
        return {}
    try:
        data = json.loads(read_text(path))
    except (json.JSONDecodeError, RecursionError) as e:  # RecursionError: nested too deep
        raise ValueError(f"{path} is not {what}: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(data).__name__}")
    return data


def token_setting(settings: JsonObject, name: str) -> str | None:
    """A special token of tokenizer_config.json: "[PAD]", or an AddedToken's {"content": ...}."""
    value = settings.get(name)
    value = value.get("content") if isinstance(value, dict) else value
    return value if isinstance(value, str) else None


@overload
def flag_setting(settings: JsonObject, name: str, default: bool) -> bool: ...
@overload
def flag_setting(settings: JsonObject, name: str, default: None) -> bool | None: ...
def flag_setting(settings: JsonObject, name: str, default: bool | None) -> bool | None:
    """A true/false setting of tokenizer_config.json (`default` if null or absent), checked."""
    value = settings.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValueError(f"tokenizer_config.json's {name} must be true, false or null, "
                         f"got {value!r}")
    return value


def model_max_length(settings: JsonObject) -> int | None:
    """model_max_length from tokenizer_config.json's settings, None for none or for
    transformers' "no limit": it writes 1e30 when no limit is known, and treats any value above
    1e20 (its LARGE_INTEGER) as none."""
    value: Any = settings.get("model_max_length")  # as JSON has it: checked here
    return value if integer_at_least(value, 1) and value <= 10**20 else None

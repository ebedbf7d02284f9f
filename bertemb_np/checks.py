"""Checking what users hand the layer: ids, weights, and the arguments of a forward pass.

Every check raises ValueError or TypeError naming the argument and the problem, never lets a
wrong answer through: NumPy would wrap a negative id to a row counted from the end, where
PyTorch raises, and an integer offset of a small dtype would wrap in arithmetic. What passes is
returned in a safe form (ids as np.intp) with the family's defaults filled in (`check_inputs`).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import NamedTuple, SupportsIndex

import numpy as np
import numpy.typing as npt

from . import positions
from .config import EmbeddingConfig

__all__ = ["Handover", "Inputs", "as_array", "check_broadcast", "check_flag", "check_ids",
           "check_inputs", "check_shapes", "check_weight", "max_tokens"]


def is_integer(dtype: np.dtype) -> bool:
    """Signed or unsigned integers; not bool, nor timedelta64 (which NumPy files under integers)."""
    return dtype.kind in "iu"


def check_ids(ids: npt.ArrayLike, rows: int, what: str, too_large: str = "") -> np.ndarray:
    """`ids` as an np.intp array, or raise if any id is not a row of a `rows`-row table
    (`too_large`: a hint for an id past the end)."""
    array = as_array(ids, what)
    if not is_integer(array.dtype):  # not bool, float, object, timedelta64, ...
        raise TypeError(f"{what} must be integers, got dtype {array.dtype}")
    wide = array.astype(np.intp, copy=False)  # wide: later arithmetic on ids cannot wrap
    # One pass finds both kinds of bad id: seen as unsigned, a negative id is larger than any row.
    if array.size and wide.view(np.uintp).max() >= rows:
        low, high = int(array.min()), int(array.max())
        bad = low if low < 0 else high
        hint = " (negative ids are never valid)" if bad < 0 else too_large
        raise ValueError(f"{what} must be in [0, {rows}), got {bad}{hint}")
    return wide


def check_flag(value: object, name: str) -> bool:
    """A switch such as training or project: True or False, not "False" (a true string)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def as_array(value: npt.ArrayLike, what: str) -> np.ndarray:
    """np.asarray(value), with an error naming the argument for ragged nested lists."""
    try:
        return np.asarray(value)
    except ValueError as e:  # "inhomogeneous shape": rows of different lengths
        raise ValueError(f"{what} must be a rectangular array, got ragged nested lists ({e})") from None


class Handover(np.ndarray):
    """An array no one else holds, fresh from the checkpoint reader: check_weight keeps it
    without a copy, so loading the word table peaks at its bytes once, not twice. Only for
    tables nothing is derived from (the word table: the hot path folds the others)."""


def check_weight(name: str, value: npt.ArrayLike, shape: tuple[int, ...], dtype: npt.DTypeLike
                 ) -> np.ndarray:
    """A read-only C-contiguous copy of `value` as `dtype`, after checking its shape, or raise.

    The copy is the module's own: the caller may keep editing the array it handed in, and no
    table derived from the weight (the hot path's folded table) can go stale. To change a
    weight, assign a new array. (A Handover array is taken as it is.)
    """
    array = as_array(value, name)
    if not np.issubdtype(array.dtype, np.floating):  # an integer table would round what it computes
        raise TypeError(f"{name} must be a float array, got dtype {array.dtype}")
    if array.shape != shape:
        raise ValueError(f"{name} has shape {array.shape}, but the config says {shape}")
    if isinstance(value, Handover):
        owned = np.asarray(array.view(np.ndarray), dtype=dtype, order="C")  # a copy only to convert
    else:
        owned = np.array(array, dtype=dtype, order="C", copy=True)
    owned.flags.writeable = False
    return owned.view()  # a view of a read-only copy: its writeable flag cannot be set back


def check_shapes(weights: Mapping[str, npt.ArrayLike], shapes: dict[str, tuple[int, ...]]
                 ) -> dict[str, np.ndarray]:
    """The weights named in `shapes`, as arrays, after checking each is there with its shape."""
    missing = sorted(set(shapes) - set(weights))
    if missing:
        raise ValueError(f"missing weights: {', '.join(missing)}")
    arrays = {name: np.asanyarray(weights[name]) for name in shapes}  # Handover arrays stay so
    for name, shape in shapes.items():
        if arrays[name].shape != shape:
            raise ValueError(f"{name} has shape {arrays[name].shape}, but the config says {shape}")
    return arrays


def check_broadcast(ids: np.ndarray, shape: tuple[int, int], name: str) -> np.ndarray:
    """Raise unless `ids` broadcasts to `shape` without changing it."""
    try:
        fits = np.broadcast_shapes(ids.shape, shape) == tuple(shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{name} of shape {ids.shape} does not broadcast to input shape {tuple(shape)}")
    return ids


class Inputs(NamedTuple):
    """The checked inputs of one forward pass, defaults filled in.

    Exactly one of input_ids and inputs_embeds is set; token_type_ids and position_ids are None
    when the model has no such term; ids broadcast to `shape`."""

    input_ids: np.ndarray | None  # [B, L] np.intp
    inputs_embeds: np.ndarray | None  # [B, L, E] in the compute dtype
    token_type_ids: np.ndarray | None  # broadcastable to [B, L]
    position_ids: np.ndarray | None  # broadcastable to [B, L]
    attention_mask: np.ndarray | None  # [B, L] in the compute dtype, 1 = token, 0 = padding
    shape: tuple[int, int]  # (B, L)


def who(config: EmbeddingConfig) -> str:
    """The layer, for messages: "RobertaEmbeddings (model_type 'xlm-roberta')"."""
    return f"{config.spec.class_name} (model_type {config.model_type!r})"


def check_inputs(config: EmbeddingConfig, dtype: np.dtype, input_ids: npt.ArrayLike | None = None,
                 token_type_ids: npt.ArrayLike | None = None,
                 position_ids: npt.ArrayLike | None = None,
                 inputs_embeds: npt.ArrayLike | None = None,
                 attention_mask: npt.ArrayLike | None = None, cache_length: int | None = None,
                 past_key_values_length: int | None = None) -> Inputs:
    """Check every argument of a forward pass and fill in the family's defaults, or raise."""
    spec = config.spec
    ids, embeds, shape = check_tokens(config, dtype, input_ids, inputs_embeds)
    offset_name, offset = check_offset(cache_length, past_key_values_length)
    if offset and not spec.cache_length:
        raise ValueError(f"{who(config)} takes no {offset_name}: "
                         "its positions always start at the same place")
    types = check_token_types(config, token_type_ids, shape)
    rule = spec.position_rule(config)
    positions_used: np.ndarray | None
    if rule is None:
        if position_ids is not None:
            raise ValueError(f"{who(config)} has no position table (position_embedding_type "
                             f"{config.position_embedding_type!r}): position_ids would do nothing")
        if offset:
            raise ValueError(f"{who(config)} has no position table: {offset_name} would do nothing")
        positions_used = None
    elif position_ids is not None:
        positions_used = check_broadcast(check_ids(position_ids, config.max_position_embeddings,
                                                   "position_ids"), shape, "position_ids")
    else:
        if rule == "from_padding" and ids is None and offset:
            raise ValueError(f"{offset_name} cannot be used with inputs_embeds by this model's position "
                             "rule (transformers ignores it there): pass position_ids instead")
        check_position_limit(config, rule, ids, shape[1], offset_name, offset)
        positions_used = positions.default_position_ids(rule, ids, shape[1], config.pad_token_id,
                                                        offset)
    mask = None if attention_mask is None else check_attention_mask(attention_mask, shape, dtype)
    return Inputs(ids, embeds, types, positions_used, mask, shape)


def check_tokens(config: EmbeddingConfig, dtype: np.dtype, input_ids: npt.ArrayLike | None,
                 inputs_embeds: npt.ArrayLike | None
                 ) -> tuple[np.ndarray | None, np.ndarray | None, tuple[int, int]]:
    """(input_ids [B, L] or None, inputs_embeds [B, L, E] or None, (B, L)): exactly one given."""
    if input_ids is not None and inputs_embeds is not None:
        raise ValueError("give exactly one of input_ids and inputs_embeds, not both")
    if isinstance(input_ids, Mapping):  # emb(tok(text)): the tokenizer's dict, not unpacked
        raise TypeError(f"input_ids is a dict (keys {', '.join(map(repr, input_ids))}): to pass "
                        "the tokenizer's output, unpack it: emb(**enc)")
    if input_ids is not None:
        ids = check_ids(input_ids, config.vocab_size, "input_ids")
        if ids.ndim != 2:
            raise ValueError(f"input_ids must be [batch, length], got shape {ids.shape}"
                             + (" (add a batch axis: ids[None])" if ids.ndim == 1 else ""))
        return ids, None, (ids.shape[0], ids.shape[1])
    if inputs_embeds is None:
        raise ValueError("give exactly one of input_ids and inputs_embeds, not neither")
    embeds = as_array(inputs_embeds, "inputs_embeds")
    if embeds.ndim != 3 or embeds.shape[-1] != config.E:
        width = "hidden_size" if config.E == config.hidden_size else "embedding_size"
        raise ValueError(f"inputs_embeds must be [batch, length, {width}={config.E}], "
                         f"got shape {embeds.shape}")
    if not np.issubdtype(embeds.dtype, np.floating):
        raise TypeError(f"inputs_embeds must be floating point, got dtype {embeds.dtype}")
    with np.errstate(over="ignore"):  # values beyond dtype's range are refused just below
        narrowed = embeds.astype(dtype, copy=False)
    if narrowed is not embeds and np.isinf(narrowed).any() and not np.isinf(embeds).any():
        raise ValueError(f"inputs_embeds has values beyond {np.dtype(dtype).name}'s range "
                         f"(|x| > {np.finfo(dtype).max:.3g}): load the layer with dtype=np.float64")
    return None, narrowed, (embeds.shape[0], embeds.shape[1])


def check_offset(cache_length: object, past_key_values_length: object) -> tuple[str, int]:
    """(the name the caller used, the offset as a Python int): cache_length is transformers 5's
    name, past_key_values_length 4.x's; giving both is an error."""
    if cache_length is not None and past_key_values_length is not None:
        raise ValueError("give cache_length or its old name past_key_values_length, not both")
    given: object
    if past_key_values_length is not None:
        name, given = "past_key_values_length", past_key_values_length
    else:
        name, given = "cache_length", 0 if cache_length is None else cache_length
    if isinstance(given, (bool, np.bool_)) or not isinstance(given, SupportsIndex):
        raise TypeError(f"{name} must be an integer, got {given!r}")
    value = operator.index(given)  # a Python int: np.int8(127) + 1 cannot wrap
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return name, value


def check_token_types(config: EmbeddingConfig, token_type_ids: npt.ArrayLike | None,
                      shape: tuple[int, int]) -> np.ndarray | None:
    """Token types broadcastable to `shape` (default zeros [L]), or None when the model has none."""
    T = config.type_vocab_size
    if T == 0 or not config.spec.token_types:  # DeBERTa-v3, gte-base-en-v1.5 (no table), and
        # DistilBERT, MPNet, ModernBERT (no type term): their transformers models take token
        # types (a pair's B is 1; **kwargs for the last three) and ignore them: checked, unused
        if token_type_ids is not None:
            types = check_broadcast(as_array(token_type_ids, "token_type_ids"), shape, "token_type_ids")
            if not is_integer(types.dtype):
                raise TypeError(f"token_type_ids must be integers, got dtype {types.dtype}")
        return None
    if token_type_ids is None:
        return np.zeros(shape[1], dtype=np.intp)  # [L]: sentence A everywhere
    single = " (this model has a single token type: leave token_type_ids out)" if T == 1 else ""
    types = check_ids(token_type_ids, T, "token_type_ids", single)
    return check_broadcast(types, shape, "token_type_ids")


def max_tokens(config: EmbeddingConfig) -> int | None:
    """The most tokens one sequence may have (512 for roberta-base's 514 rows), or None for a
    family without a position table (no limit in this layer)."""
    return positions.usable_positions(config.spec.position_rule(config),
                                      config.max_position_embeddings, config.pad_token_id)


def check_position_limit(config: EmbeddingConfig, rule: str, input_ids: np.ndarray | None,
                         length: int,
                         offset_name: str, offset: int) -> None:
    """Raise unless the default position ids of every sequence fit in the position table."""
    P, pad = config.max_position_embeddings, config.pad_token_id
    tokens = positions.tokens_numbered(rule, input_ids, length, pad)
    usable = P - positions.first_position(rule, pad)  # the rule numbers tokens: a table
    if tokens + offset > usable:
        total = f"sequence length {tokens} + {offset_name} {offset} = {tokens + offset}"
        limit = (f"max_position_embeddings={P}" if usable == P else
                 f"the {usable} tokens this model takes (max_position_embeddings={P}, and positions "
                 f"start after pad_token_id={pad})")
        room = usable - offset
        hint = (f"tokenize with truncation=True, max_length={room} (tok(text, truncation=True, "
                f"max_length={room}))" if room > 0 else f"{offset_name} must be below {usable}")
        raise ValueError(f"{total} exceeds {limit}: {hint}")


def check_attention_mask(attention_mask: npt.ArrayLike, shape: tuple[int, int], dtype: np.dtype
                         ) -> np.ndarray:
    """attention_mask as the compute dtype, after checking it is [B, L] of 0s and 1s."""
    mask = as_array(attention_mask, "attention_mask")
    if mask.shape != tuple(shape):
        raise ValueError(f"attention_mask must have the input's shape {tuple(shape)}, got {mask.shape}")
    if not (mask.dtype == bool or is_integer(mask.dtype)):
        raise TypeError(f"attention_mask must be integers or booleans (1 = token, 0 = padding), "
                        f"got dtype {mask.dtype}")
    if mask.size and not np.isin(mask, (0, 1)).all():
        raise ValueError("attention_mask must hold only 0 (padding) and 1 (token)")
    return mask.astype(dtype)

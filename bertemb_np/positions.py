"""How each family numbers its tokens: the position ids it uses when none are given.

Every family adds position[position_ids] to its embeddings, or has no position table at all,
and the families differ in how they number the tokens. Each rule is one pure function here,
citing the transformers v5.24.0 function it reproduces (src/transformers/models/...):

    rule            families                          first id   usable ids (of P rows)
    "absolute"      BERT, ELECTRA, ALBERT, DistilBERT,  cache_length     P
                    DeBERTa with position_biased_input
    "from_padding"  RoBERTa, XLM-R, MPNet, ...          pad + 1      P - pad - 1
    None            ModernBERT, NomicBERT, GTE (rotary), jina-v2 (ALiBi),
                    DeBERTa's relative attention: no table, positions enter in attention

DistilBERT's table may also be fixed rather than learned: sinusoidal_positions. Which rule a
config follows is data, in its family's spec (specs.py, `positions`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["absolute_position_ids", "default_position_ids", "first_position",
           "position_ids_from_padding", "sinusoidal_positions", "tokens_numbered",
           "usable_positions"]


def absolute_position_ids(length: int, start: int = 0) -> np.ndarray:
    """BERT's rule: arange(start, start + length), the same for every sequence: -> [L].

    start is cache_length (tokens already seen) for BERT and ELECTRA, 0 for ALBERT, DistilBERT
    and DeBERTa, and pad_token_id + 1 for RoBERTa and MPNet given inputs_embeds.
    Reproduces bert/modeling_bert.py, BertEmbeddings.forward:
    `self.position_ids[:, cache_length : seq_length + cache_length]`, and
    roberta/modeling_roberta.py, RobertaEmbeddings.create_position_ids_from_inputs_embeds."""
    return np.arange(start, start + length)  # [L]


def position_ids_from_padding(input_ids: np.ndarray, pad_token_id: int, start: int = 0) -> np.ndarray:
    """RoBERTa's rule: count the non-pad tokens, and put pad ids at the pads: [B, L] -> [B, L].

    A token's position is pad_token_id + (its rank among the row's non-pad tokens) + start, so
    the first real token gets pad_token_id + 1 and padding, left or right, keeps position
    pad_token_id (whose row is frozen). Hence P - pad_token_id - 1 usable positions.
    Reproduces roberta/modeling_roberta.py, RobertaEmbeddings.create_position_ids_from_input_ids
    (MPNet's create_position_ids_from_input_ids is the same, without start).
    """
    not_pad = (input_ids != pad_token_id).astype(np.intp)  # [B, L], 1 for real tokens
    return (np.cumsum(not_pad, axis=1) + start) * not_pad + pad_token_id  # [B, L]


def sinusoidal_positions(positions: int, width: int) -> np.ndarray:
    """The Transformer's fixed position table, as DistilBERT builds it: -> float64 [P, width].

    PE[p, 2i] = sin(p / 10000^(2i / width)), PE[p, 2i + 1] = cos(p / 10000^(2i / width)):
    column pair i is a wave of wavelength 2 pi 10000^(2i / width) positions, short to long.
    Reproduces distilbert/modeling_distilbert.py, _create_sinusoidal_embeddings (which then
    rounds it to float32); Vaswani et al., 2017, "Attention Is All You Need", section 3.5."""
    j = np.arange(width)  # [width]
    angle = np.arange(positions)[:, None] / np.power(10000, 2 * (j // 2) / width)  # [P, width]
    table = np.empty((positions, width))
    table[:, 0::2] = np.sin(angle[:, 0::2])
    table[:, 1::2] = np.cos(angle[:, 1::2])
    return table


def first_position(rule: str | None, pad_token_id: int | None) -> int:
    """The position id of a sequence's first token with no cache: pad_token_id + 1 for the
    "from_padding" rule (the rows before it are the pad's and unused ones), else 0."""
    return padding_of(pad_token_id) + 1 if rule == "from_padding" else 0


def padding_of(pad_token_id: int | None) -> int:
    """The pad id the "from_padding" rule numbers from (config.py refuses a config without)."""
    if pad_token_id is None:
        raise ValueError("the 'from_padding' position rule needs a pad_token_id")
    return pad_token_id


def usable_positions(rule: str | None, rows: int, pad_token_id: int | None) -> int | None:
    """How many tokens a `rows`-row table can number (512 for roberta-base's 514 rows), or None
    for no table (no limit in the embedding layer)."""
    return None if rule is None else rows - first_position(rule, pad_token_id)


def tokens_numbered(rule: str | None, input_ids: np.ndarray | None, length: int,
                    pad_token_id: int | None) -> int:
    """How many positions default_position_ids gives the longest sequence, counted without
    making them: its non-pad tokens for "from_padding" given input_ids, else the length L."""
    if rule == "from_padding" and input_ids is not None:
        return int((input_ids != pad_token_id).sum(axis=1).max(initial=0))
    return length


def default_position_ids(rule: str | None, input_ids: np.ndarray | None, length: int,
                         pad_token_id: int | None, start: int) -> np.ndarray | None:
    """The position ids of a family's rule ([L] or [B, L]), or None for no position table.

    Given inputs_embeds (input_ids None), where pads cannot be seen, "from_padding" numbers
    every token from pad + 1 and ignores `start`, as transformers does."""
    if rule is None:
        return None  # rotary, ALiBi, relative: positions enter in attention, not here
    if rule == "absolute":
        return absolute_position_ids(length, start)  # [L]
    if input_ids is None:
        return absolute_position_ids(length, padding_of(pad_token_id) + 1)  # [L]
    return position_ids_from_padding(input_ids, padding_of(pad_token_id), start)  # [B, L]

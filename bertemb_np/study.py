"""The numbers behind the study tools (`bertemb plot`, `bertemb explain`), in plain NumPy.

Each function takes a loaded embedding layer of any family (and token ids) and returns arrays;
plots.py draws them and cli.py prints them. The positional-encoding formula is that of Vaswani
et al., 2017, "Attention Is All You Need", section 3.5, which BERT replaced by learned rows.
"""

from __future__ import annotations

from typing import Any, TypedDict

import numpy as np

from .functional import sinusoidal_positions
from .modules import Embeddings

__all__ = ["DimensionCurves", "LearnedTable", "TokenTypeContrast", "band_width",
           "component_norms", "dimension_curves", "first_token_row", "learned_table",
           "mean_row_share", "position_similarity", "sinusoids_to_compare", "spread", "terms",
           "token_type_contrast", "top_spread_dimensions", "walk_through"]


class LearnedTable(TypedDict):
    """The numbers of a learned position table's map (learned_table)."""

    similarity: np.ndarray  # [P, P], cosines of every row with every other
    first: int  # the first token's row
    similarity_by_offset: np.ndarray  # [P - first], mean similarity of rows d apart
    band_width: int  # the first d where that drops below 0.5
    mean_row_share: float  # how much of each row is one vector shared by all


class DimensionCurves(TypedDict):
    """The numbers of the plot of the dimensions that vary most (dimension_curves)."""

    top_dimensions: np.ndarray  # [k], largest spread first
    spreads: np.ndarray  # [k]
    dimension_limit: float  # the y-axis half-height
    off_axis_positions: np.ndarray  # [n], of the values beyond it, largest first
    off_axis_dimensions: np.ndarray  # [n]
    off_axis_values: np.ndarray  # [n]


class TokenTypeContrast(TypedDict):
    """Token type B minus A beside the position rows (token_type_contrast)."""

    difference: np.ndarray  # [H]
    difference_norm: float
    norm_a: float
    norm_b: float
    mean_position_norm: float


def position_similarity(position_weight: np.ndarray) -> np.ndarray:
    """Cosine similarity of every position row with every other: [P, H] -> [P, P].

    An all-zero row (RoBERTa's padding position, never trained) has no direction: its
    similarities are 0, not the 0 / 0 = nan that would spoil the figure and its numbers."""
    w = position_weight.astype(np.float64)
    norms = np.linalg.norm(w, axis=1, keepdims=True)  # [P, 1]
    unit = np.divide(w, norms, out=np.zeros_like(w), where=norms > 0)  # [P, H], of length 1 or 0
    return unit @ unit.T  # [P, P]


def first_token_row(emb: Embeddings) -> int:
    """The row of the position table that a sequence's first token takes, asked of the layer's
    own rule: 0 for BERT; pad_token_id + 1 for RoBERTa and MPNet (2), whose rows 0 .. pad never
    hold a real token (the pad row holds every pad, the rows below it nothing)."""
    token = 1 if emb.config.pad_token_id == 0 else 0  # any id but the pad
    position_ids = emb.check(np.array([[token]])).position_ids
    if position_ids is None:
        raise ValueError(f"{emb.config.model_type} has no position table: no first row")
    return int(np.ravel(position_ids)[0])


def band_width(similarity: np.ndarray, level: float = 0.5, first: int = 0
               ) -> tuple[np.ndarray, int]:
    """(mean similarity of positions d apart, for d = 0..P-first-1; the first d where it drops
    below `level`), over the rows real tokens take (rows first.. of the table).

    The second number is how wide the bright band along the diagonal is.
    """
    used = similarity[first:, first:]  # [P - first, P - first]
    P = len(used)
    by_offset = np.array([np.diagonal(used, d).mean() for d in range(P)])  # [P - first]
    below = np.flatnonzero(by_offset < level)
    return by_offset, int(below[0]) if below.size else P


def mean_row_share(position_weight: np.ndarray, first: int = 0) -> float:
    """|mean row|^2 / mean |row|^2 over the rows real tokens take: how much of each row is one
    vector shared by all positions (cosines near 1 everywhere when large), not position."""
    rows = position_weight[first:].astype(np.float64)  # [P - first, E]
    return float(np.sum(rows.mean(axis=0) ** 2) / np.mean(np.sum(rows ** 2, axis=1)))


def learned_table(emb: Embeddings) -> LearnedTable:
    """The numbers of a learned position table's map: "similarity" [P, P], "first" (the first
    token's row), "similarity_by_offset" [P - first] and "band_width" over the rows real tokens
    take, and "mean_row_share"."""
    if emb.position_embeddings is None:
        raise ValueError(f"{emb.config.model_type} has no position table: no map of it")
    table = emb.position_embeddings.weight  # [P, E]
    first = first_token_row(emb)
    similarity = position_similarity(table)  # [P, P]
    by_offset, band = band_width(similarity, first=first)
    return {"similarity": similarity, "first": first, "similarity_by_offset": by_offset,
            "band_width": band, "mean_row_share": mean_row_share(table, first)}


def spread(position_weight: np.ndarray, first: int = 0) -> np.ndarray:
    """How much each hidden dimension varies across the rows real tokens take: [P, H] -> [H],
    the interquartile range (75th minus 25th percentile) of rows first..P-1. Robust: one
    outlying row, such as BERT's position 0 ([CLS] in every input), cannot make a dimension
    that is flat everywhere else look varying, as it does the variance."""
    quartiles = np.percentile(position_weight[first:].astype(np.float64), [25, 75], axis=0)
    return quartiles[1] - quartiles[0]  # [H]


def top_spread_dimensions(position_weight: np.ndarray, k: int, first: int = 0) -> np.ndarray:
    """The k hidden dimensions of largest spread across positions, largest first."""
    return np.argsort(-spread(position_weight, first), kind="stable")[:k]


def dimension_curves(position_weight: np.ndarray, k: int, first: int = 0) -> DimensionCurves:
    """The k dimensions of largest spread [P, H] -> the numbers of their plot: "top_dimensions"
    [k] and their "spreads" [k]; "dimension_limit", the y-axis half-height, 1.2 x the 99.5th
    percentile of their |values| on the rows real tokens take (from `first`), so that a few
    outliers (BERT's position 0) do not flatten every curve; and every value beyond it, largest
    first: "off_axis_positions", "off_axis_dimensions", "off_axis_values" [n]."""
    dims = top_spread_dimensions(position_weight, k, first)
    values = position_weight[:, dims].astype(np.float64)  # [P, k]
    limit = 1.2 * np.percentile(np.abs(values[first:]), 99.5)
    rows, columns = np.nonzero(np.abs(values) > limit)
    order = np.argsort(-np.abs(values[rows, columns]), kind="stable")
    rows, columns = rows[order], columns[order]
    return {"top_dimensions": dims, "spreads": spread(position_weight, first)[dims],
            "dimension_limit": float(limit), "off_axis_positions": rows,
            "off_axis_dimensions": dims[columns], "off_axis_values": values[rows, columns]}


def sinusoids_to_compare(positions: int, width: int, k: int) -> dict[str, np.ndarray]:
    """k sine columns of the encoding, of wavelengths nearest P, P/2, P/4, ...: the ones whose
    shape can be seen over P positions. "sinusoids" [P, k], "sinusoid_wavelengths" [k]."""
    encoding = sinusoidal_positions(positions, width)
    wavelengths = 2 * np.pi * 10000 ** (np.arange(0, width, 2) / width)  # of sine columns 0, 2, ...
    picked = [int(np.argmin(np.abs(np.log(wavelengths / (positions / 2 ** j))))) for j in range(k)]
    return {"sinusoids": encoding[:, [2 * i for i in picked]],
            "sinusoid_wavelengths": wavelengths[picked]}


def terms(emb: Embeddings, input_ids: np.ndarray, token_type_ids: np.ndarray | None = None
          ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray | None]:
    """For one sequence [L]: ({term: its rows [L, E]} for the terms the family has, in the order
    it sums them; their sum [L, E]; the position ids the layer uses [L], or None)."""
    x = emb.check(input_ids[None], None if token_type_ids is None else token_type_ids[None])

    def full(ids: np.ndarray) -> np.ndarray:
        return np.broadcast_to(ids, x.shape)[0]  # [L] of ids broadcast to [1, L]

    rows = {"word": emb.words(input_ids)}  # [L, E]
    type_table, position_table = emb.token_type_embeddings, emb.position_embeddings  # or None
    if x.token_type_ids is not None and type_table is not None:
        rows["token_type"] = type_table(full(x.token_type_ids))  # [L, E]
    if x.position_ids is not None and position_table is not None:
        rows["position"] = position_table(full(x.position_ids))  # [L, E]
    ordered = {name: rows[name] for name in emb.spec.sum_order if name in rows}
    positions = None if x.position_ids is None else full(x.position_ids)
    return ordered, emb.summed_terms(x)[0], positions


def normalized(emb: Embeddings, total: np.ndarray) -> np.ndarray:
    """The layer's LayerNorm of the summed terms [L, E] (after DeBERTa's embed_proj): [L, H]."""
    pre = emb.pre_norm_projection
    return emb.norm_layer(total if pre is None else pre(total))


def component_norms(emb: Embeddings, input_ids: np.ndarray,
                    token_type_ids: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """For one sequence [L]: the norm per token of each term of the sum, of the sum, and after
    LayerNorm."""
    rows, total, _ = terms(emb, input_ids, token_type_ids)
    return {**{name: np.linalg.norm(r, axis=1) for name, r in rows.items()},
            "sum": np.linalg.norm(total, axis=1),
            "layer_norm": np.linalg.norm(normalized(emb, total), axis=1)}


def token_type_contrast(emb: Embeddings) -> TokenTypeContrast:
    """Token type B minus A (the difference vector and its norm) beside the mean position-row
    norm."""
    rows = None if emb.token_type_embeddings is None else emb.token_type_embeddings.weight
    if rows is None or len(rows) < 2 or emb.position_embeddings is None:
        raise ValueError("this model has no second token type "
                         "or no position table to compare it with")
    difference = rows[1] - rows[0]  # [H]
    position_norms = np.linalg.norm(emb.position_embeddings.weight, axis=1)  # [P]
    return {"difference": difference, "difference_norm": float(np.linalg.norm(difference)),
            "norm_a": float(np.linalg.norm(rows[0])), "norm_b": float(np.linalg.norm(rows[1])),
            "mean_position_norm": float(position_norms.mean())}


def walk_through(emb: Embeddings, tokens: list[str], input_ids: np.ndarray,
                 token_type_ids: np.ndarray | None = None) -> dict[str, Any]:
    """Everything `bertemb explain` shows about one input [L], as plain data (what --json prints).

    Terms the family does not have (ModernBERT's token types, rotary families' positions) are
    null; "position" is the position id the layer really uses (RoBERTa's start at pad + 1)."""
    L = len(input_ids)
    rows, total, positions = terms(emb, input_ids, token_type_ids)
    by_hand = normalized(emb, total)  # [L, H]
    types = None if token_type_ids is None else token_type_ids[None]
    module = emb(input_ids[None], token_type_ids=types)[0]  # [L, H]

    def norm(name: str, p: int) -> float | None:
        return float(np.linalg.norm(rows[name][p])) if name in rows else None

    table = [{"token": token, "id": int(i),
              "position": None if positions is None else int(positions[p]),
              "type": None if token_type_ids is None else int(token_type_ids[p]),
              "word_norm": norm("word", p), "position_norm": norm("position", p),
              "type_norm": norm("token_type", p), "sum_mean": float(total[p].mean()),
              "sum_std": float(total[p].std()), "output_norm": float(np.linalg.norm(module[p]))}
             for p, (token, i) in enumerate(zip(tokens, input_ids, strict=True))]
    E, H = emb.config.E, module.shape[-1]
    shapes = {"input_ids": [1, L], "word[input_ids]": [1, L, E],
              **{f"{name}[{name}_ids]": [1, L, E] for name in rows if name != "word"},
              "sum": [1, L, E], "LayerNorm(sum)": [1, L, H]}
    return {"model_type": emb.config.model_type, "terms": list(rows), "tokens": table,
            "shapes": shapes, "repeats": repeats(tokens, input_ids, token_type_ids, module),
            "max_abs_diff_module_vs_by_hand": float(np.abs(module - by_hand).max())}


def repeats(tokens: list[str], input_ids: np.ndarray, token_type_ids: np.ndarray | None,
            output: np.ndarray) -> list[dict[str, Any]]:
    """Each token id found more than once in [L]: where (indexes into the input), with which
    token types ([] for a model without), and the least cosine between its outputs [L, H]."""
    found = []
    for i in np.unique(input_ids):
        where = np.flatnonzero(input_ids == i)
        if len(where) > 1:
            unit = output[where] / np.linalg.norm(output[where], axis=1, keepdims=True)
            found.append({"token": tokens[where[0]], "id": int(i), "positions": where.tolist(),
                          "types": [] if token_type_ids is None else token_type_ids[where].tolist(),
                          "min_output_cosine": float((unit @ unit.T).min())})
    return found

"""The numbers behind the study tools (`bertemb plot`, `bertemb explain`), in plain NumPy.

Each function takes a loaded BertEmbeddings (and token ids) and returns arrays; plots.py draws
them and cli.py prints them. The positional-encoding formula is that of Vaswani et al., 2017,
"Attention Is All You Need", section 3.5, which BERT replaced by learned position rows.
"""

from __future__ import annotations

import numpy as np

from .modules import BertEmbeddings

__all__ = ["band_width", "component_norms", "position_similarity", "sinusoidal_encoding", "sinusoids_to_compare",
           "token_type_contrast", "top_variance_dimensions", "walk_through"]


def position_similarity(position_weight: np.ndarray) -> np.ndarray:
    """Cosine similarity of every position row with every other: [P, H] -> [P, P]."""
    w = position_weight.astype(np.float64)
    unit = w / np.linalg.norm(w, axis=1, keepdims=True)  # [P, H], rows of length 1
    return unit @ unit.T  # [P, P]


def band_width(similarity: np.ndarray, level: float = 0.5) -> tuple[np.ndarray, int]:
    """(mean similarity of positions d apart, for d = 0..P-1; the first d where it drops below `level`).

    The second number is how wide the bright band along the diagonal is.
    """
    P = len(similarity)
    by_offset = np.array([np.diagonal(similarity, d).mean() for d in range(P)])  # [P]
    below = np.flatnonzero(by_offset < level)
    return by_offset, int(below[0]) if below.size else P


def top_variance_dimensions(position_weight: np.ndarray, k: int) -> np.ndarray:
    """The k hidden dimensions whose values vary most across positions, most varying first."""
    return np.argsort(position_weight.var(axis=0))[::-1][:k]


def sinusoidal_encoding(positions: int, width: int) -> np.ndarray:
    """PE[p, 2i] = sin(p / 10000^(2i/width)), PE[p, 2i+1] = cos(...): [P, width].

    Column 2i is a wave of wavelength 2 pi 10000^(2i/width) positions: short first, long last."""
    p = np.arange(positions)[:, None]  # [P, 1]
    frequency = 1.0 / 10000 ** (np.arange(0, width, 2) / width)  # [width / 2]
    encoding = np.zeros((positions, width))
    encoding[:, 0::2] = np.sin(p * frequency)
    encoding[:, 1::2] = np.cos(p * frequency[: width // 2])
    return encoding


def sinusoids_to_compare(positions: int, width: int, k: int) -> np.ndarray:
    """k sine columns of the encoding, of wavelengths nearest P, P/2, P/4, ...: the ones whose
    shape can be seen over P positions. [P, k]"""
    encoding = sinusoidal_encoding(positions, width)
    wavelengths = 2 * np.pi * 10000 ** (np.arange(0, width, 2) / width)  # of the sine columns 0, 2, 4, ...
    picked = [int(np.argmin(np.abs(np.log(wavelengths / (positions / 2 ** j))))) for j in range(k)]
    return encoding[:, [2 * i for i in picked]]


def terms(emb: BertEmbeddings, input_ids: np.ndarray, token_type_ids: np.ndarray) -> tuple[np.ndarray, ...]:
    """For one sequence [L]: the word, position and token-type rows and their sum, each [L, H]."""
    word = emb.word_embeddings(input_ids)  # [L, H]
    position = emb.position_embeddings(np.arange(len(input_ids)))  # [L, H]
    token_type = emb.token_type_embeddings(token_type_ids)  # [L, H]
    return word, position, token_type, word + token_type + position  # the sum in transformers' order


def component_norms(emb: BertEmbeddings, input_ids: np.ndarray, token_type_ids: np.ndarray) -> dict[str, np.ndarray]:
    """For one sequence [L]: the norm per token of each term of the sum, of the sum, and after LayerNorm."""
    word, position, token_type, total = terms(emb, input_ids, token_type_ids)
    return {"word": np.linalg.norm(word, axis=1), "position": np.linalg.norm(position, axis=1),
            "token_type": np.linalg.norm(token_type, axis=1), "sum": np.linalg.norm(total, axis=1),
            "layer_norm": np.linalg.norm(emb.LayerNorm(total), axis=1)}


def token_type_contrast(emb: BertEmbeddings) -> dict[str, np.ndarray | float]:
    """Token type B minus A (the difference vector and its norm) beside the mean position-row norm."""
    rows = emb.token_type_embeddings.weight
    if len(rows) < 2:
        raise ValueError(f"this model has type_vocab_size={len(rows)}: there is no token type B to compare")
    difference = rows[1] - rows[0]  # [H]
    return {"difference": difference, "difference_norm": float(np.linalg.norm(difference)),
            "norm_a": float(np.linalg.norm(rows[0])), "norm_b": float(np.linalg.norm(rows[1])),
            "mean_position_norm": float(np.linalg.norm(emb.position_embeddings.weight, axis=1).mean())}


def walk_through(emb: BertEmbeddings, tokens: list[str], input_ids: np.ndarray, token_type_ids: np.ndarray) -> dict:
    """Everything `bertemb explain` shows about one input [L], as plain data (what --json prints)."""
    L, H = len(input_ids), emb.config.hidden_size
    word, position, token_type, total = terms(emb, input_ids, token_type_ids)  # [L, H] each
    by_hand = emb.LayerNorm(total)  # [L, H]
    module = emb(input_ids[None], token_type_ids=token_type_ids[None])[0]  # [L, H]
    rows = [{"token": token, "id": int(i), "position": p, "type": int(t),
             "word_norm": float(np.linalg.norm(word[p])), "position_norm": float(np.linalg.norm(position[p])),
             "type_norm": float(np.linalg.norm(token_type[p])), "sum_mean": float(total[p].mean()),
             "sum_std": float(total[p].std()), "output_norm": float(np.linalg.norm(module[p]))}
            for p, (token, i, t) in enumerate(zip(tokens, input_ids, token_type_ids))]
    repeats = []
    for i in np.unique(input_ids):
        where = np.flatnonzero(input_ids == i)
        if len(where) > 1:
            unit = module[where] / np.linalg.norm(module[where], axis=1, keepdims=True)
            cosine = unit @ unit.T
            repeats.append({"token": tokens[where[0]], "id": int(i), "positions": where.tolist(),
                            "min_output_cosine": float(cosine.min())})
    shapes = {"input_ids": [1, L], "word[input_ids]": [1, L, H], "token_type[token_type_ids]": [1, L, H],
              "position[position_ids]": [1, L, H], "sum": [1, L, H], "LayerNorm(sum)": [1, L, H]}
    return {"tokens": rows, "shapes": shapes, "repeats": repeats,
            "max_abs_diff_module_vs_by_hand": float(np.abs(module - by_hand).max())}

"""The math of BERT's embedding layer, one pure function per operation.

Nothing here holds weights or checks input: the modules in `modules.py` do that, then call
these. Each function is the textbook definition, written for reading.

References:
- BERT: Devlin et al., 2018, "BERT: Pre-training of Deep Bidirectional Transformers", section 3.
- Layer normalization: Ba, Kiros and Hinton, 2016, "Layer Normalization", equation 4.
- PyTorch's `nn.Embedding` and `nn.LayerNorm`, which transformers' BertEmbeddings uses.
"""

from __future__ import annotations

import numpy as np

__all__ = ["embedding", "layer_norm"]


def embedding(weight: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Look up one row of `weight` for each id: [V, H] and [...] -> [..., H].

    An embedding is a table: row i is the learned vector of token (or position, or type) i.
    """
    return weight[ids]  # [V, H], [...] -> [..., H]


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """Normalize each row of x to mean 0 and variance 1, then scale and shift it: [..., H] -> [..., H].

    y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias, over the last axis, with the
    biased variance (divided by H, not H - 1) and eps inside the square root, as PyTorch does.
    """
    mean = x.mean(axis=-1, keepdims=True)  # [..., H] -> [..., 1]
    centred = x - mean  # [..., H]
    var = (centred * centred).mean(axis=-1, keepdims=True)  # [..., 1], biased: divided by H
    return centred / np.sqrt(var + eps) * weight + bias  # [..., H]

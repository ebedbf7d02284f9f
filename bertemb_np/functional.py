"""The math of the BERT family's embedding layer, one pure function per operation.

Nothing here holds weights or checks input: the modules (nn.py, modules.py) do that, then
call these. Each function is the textbook definition, written for reading.

References:
- BERT: Devlin et al., 2018, "BERT: Pre-training of Deep Bidirectional Transformers", section 3.
- Layer normalization: Ba, Kiros and Hinton, 2016, "Layer Normalization", equation 4.
- PyTorch's `nn.Embedding`, `nn.LayerNorm` and `nn.Dropout`, which transformers' BertEmbeddings uses.
- Dropout: Srivastava et al., 2014, "Dropout: A Simple Way to Prevent Neural Networks from Overfitting".

How each family numbers its positions is math too, kept in positions.py so that one file shows
every family's rule; its functions are importable from here as well.
"""

from __future__ import annotations

import numpy as np

from .positions import absolute_position_ids, position_ids_from_padding, sinusoidal_positions

__all__ = ["absolute_position_ids", "dropout", "dropout_backward", "embedding", "embedding_backward",
           "layer_norm", "layer_norm_backward", "linear", "linear_backward", "position_ids_from_padding",
           "sinusoidal_positions", "standardize"]


def embedding(weight: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Look up one row of `weight` for each id: [V, H] and [...] -> [..., H].

    An embedding is a table: row i is the learned vector of token (or position, or type) i.
    """
    return weight[ids]  # [V, H], [...] -> [..., H]


def standardize(x: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """x_hat = (x - mean(x)) / sigma, sigma = sqrt(var(x) + eps), per row: -> [..., H], [..., 1].

    The variance is the biased one (divided by H, not H - 1), with eps inside the square root,
    as in PyTorch. Both statistics are taken of x - x[..., :1]: subtracting a constant changes
    neither, but the mean's rounding error then scales with the row's spread, not with its size.
    So a constant row gives x_hat = 0 exactly (LayerNorm returns exactly its bias, as PyTorch
    does) and 1e4 +- 1e-3 keeps its digits. Rows whose squares overflow (float32 values near
    1e19) are computed again in float64, rather than silently normalized by an infinite sigma.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is caught below
        shifted = x - x[..., :1]  # [..., H], exact for values within a factor 2 of the first
        centred = shifted - shifted.mean(axis=-1, keepdims=True)  # [..., H]
        var = (centred * centred).mean(axis=-1, keepdims=True)  # [..., 1]
    overflow = ~np.isfinite(var[..., 0])  # [...]
    if x.dtype != np.float64 and overflow.any():
        overflow &= np.isfinite(x).all(axis=-1)  # rows holding inf or nan stay nan, as in PyTorch
    if overflow.any() and x.dtype != np.float64:
        wide_hat, wide_sigma = standardize(x[overflow].astype(np.float64), eps)
        x_hat, sigma = standardize(np.where(overflow[..., None], 0, x), eps)  # the rest as above
        x_hat[overflow], sigma[overflow] = wide_hat, wide_sigma
        return x_hat, sigma
    sigma = np.sqrt(var + eps)  # [..., 1]
    return centred / sigma, sigma


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, eps: float) -> np.ndarray:
    """Normalize each row of x to mean 0 and variance 1, then scale and shift it: [..., H] -> [..., H].

    y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias, over the last axis (standardize).
    bias None: no shift (ModernBERT's LayerNorm has no bias).
    """
    y = standardize(x, eps)[0] * weight  # [..., H]
    return y if bias is None else y + bias


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """y = x W^T + b, like torch.nn.Linear: [..., E], [H, E], [H] -> [..., H]."""
    y = x @ weight.T  # [..., E] @ [E, H] -> [..., H]
    return y if bias is None else y + bias


# --- training: dropout, and the backward pass of each operation ------------------------------------


def dropout(x: np.ndarray, p: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Inverted dropout: zero each element with probability p, scale the rest by 1 / (1 - p).

    Returns (y, keep), keep being the boolean mask of kept elements. Scaling at training time
    keeps E[y] = x, so inference needs no rescaling (dropout is then simply not applied).
    """
    keep = rng.random(x.shape, dtype=np.float32) >= p  # [...], True with probability 1 - p
    if p >= 1:
        return np.zeros_like(x), keep  # everything dropped: 1 / (1 - p) would be infinite
    return x * keep * x.dtype.type(1.0 / (1.0 - p)), keep


def dropout_backward(grad: np.ndarray, keep: np.ndarray, p: float) -> np.ndarray:
    """y = x * keep / (1 - p) is linear in x, so dL/dx = dL/dy * keep / (1 - p): zero where dropped."""
    if p >= 1:
        return np.zeros_like(grad)
    return grad * keep * grad.dtype.type(1.0 / (1.0 - p))


def embedding_backward(grad: np.ndarray, ids: np.ndarray, num_embeddings: int,
                       padding_idx: int | None = None) -> np.ndarray:
    """Gradient of embedding(weight, ids) with respect to weight: [..., H], [...] -> [V, H].

    y[n] = weight[ids[n]] copies a row, so dL/dweight[v] = sum of dL/dy[n] over every n with
    ids[n] == v: a scatter-add. Rows never looked up get zero; an id used k times adds k
    gradients. As in PyTorch's nn.Embedding(padding_idx=...), the padding row gets no gradient.
    """
    grad_weight = np.zeros((num_embeddings, grad.shape[-1]), dtype=grad.dtype)  # [V, H]
    np.add.at(grad_weight, ids.reshape(-1), grad.reshape(-1, grad.shape[-1]))  # [V, H] += [N, H] by row
    if padding_idx is not None:
        grad_weight[padding_idx] = 0
    return grad_weight


def linear_backward(grad: np.ndarray, x: np.ndarray, weight: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of y = linear(x, weight, bias) given dy = grad: (dx, dweight, dbias).

    y = x W^T + b, so dx = dy W [..., E], dW = sum over rows of dy^T x [H, E], db = sum of dy [H]."""
    rows_dy, rows_x = grad.reshape(-1, grad.shape[-1]), x.reshape(-1, x.shape[-1])  # [N, H], [N, E]
    return grad @ weight, rows_dy.T @ rows_x, rows_dy.sum(axis=0)


def layer_norm_backward(grad: np.ndarray, x: np.ndarray, weight: np.ndarray,
                        eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of y = layer_norm(x, weight, bias, eps) given dy = grad: (dx, dweight, dbias).

    With mu = mean(x), sigma = sqrt(var(x) + eps) (biased variance) and x_hat = (x - mu) / sigma,
    y = x_hat * weight + bias. Then, summing over every axis but the last:
        dbias   = sum(dy)                        [H]
        dweight = sum(dy * x_hat)                [H]
    and with g = dy * weight (the gradient reaching x_hat), for each row:
        dx = (g - mean(g) - x_hat * mean(g * x_hat)) / sigma                  [..., H]
    Why three terms: each x_j reaches the output by three paths. Directly, through
    x_hat_j = (x_j - mu) / sigma: the first term. Through the mean, which every x_j moves by
    1/H, shifting every x_hat_i: the second term. Through sigma, which every x_j moves by
    x_hat_j / (H sigma), rescaling every x_hat_i: the third term. The last two remove the parts
    of g that the normalization itself would undo (a shift and a rescaling of the row).
    """
    x_hat, sigma = standardize(x, eps)  # [..., H], [..., 1]
    rows = tuple(range(x.ndim - 1))
    grad_bias = grad.sum(axis=rows)  # [H]
    grad_weight = (grad * x_hat).sum(axis=rows)  # [H]
    g = grad * weight  # [..., H]
    mean_g = g.mean(axis=-1, keepdims=True)  # [..., 1]
    mean_g_x_hat = (g * x_hat).mean(axis=-1, keepdims=True)  # [..., 1]
    grad_x = (g - mean_g - x_hat * mean_g_x_hat) / sigma
    return grad_x, grad_weight, grad_bias

"""The hot path's own paths: rare rows (issue 16's numerics), the small-input path, the output
mask, the forward that keeps what the backward needs, the LayerNorm backward from it and the
sparse word gradient.

Expected values come from exact float64 math written here (never typed in) or from the plain
reference functions in functional.py. Tolerances are stated next to each assertion.
"""

from __future__ import annotations

import numpy as np
import pytest

from bertemb_np import fast, functional
from conftest import max_abs_error

RARE_TOLERANCE = 1e-5  # float32 outputs against exact float64 math, as test_hardening.py's LN_TOLERANCE


def exact_layer_norm(x: np.ndarray, weight, bias, eps: float) -> np.ndarray:
    """LayerNorm computed in float64, two passes, of the rows shifted by their first value
    (which changes neither mean-free values nor the variance, and is exact in float64 for the
    rows here): a constant row is then 0 exactly, and this gives exactly the bias, also where
    its float64 sum would overflow."""
    x = x.astype(np.float64)
    shifted = x - x[:, :1]
    centred = shifted - shifted.mean(axis=-1, keepdims=True)
    return centred / np.sqrt((centred ** 2).mean(axis=-1, keepdims=True) + eps) * weight + bias


def hot_path_layer_norms(x: np.ndarray, weight, bias, eps: float) -> dict[str, np.ndarray]:
    """The rows x [N, H] through every LayerNorm path: the textbook one, normalize_rows, and the
    full embed_layer_norm (rows looked up by id, one and two threads, small and large blocks)."""
    hot = x.copy()
    fast.normalize_rows(hot, weight, bias, eps)
    paths = {"functional.layer_norm": functional.layer_norm(x, weight, bias, eps),
             "fast.normalize_rows": hot}
    ids = np.arange(len(x))
    for threads, block_rows in ((1, fast.BLOCK_ROWS), (2, 7)):
        paths[f"embed_layer_norm {threads} threads, blocks of {block_rows}"] = fast.embed_layer_norm(
            x, ids, None, None, None, weight, bias, eps, threads, block_rows=block_rows)
    return paths


def constant_rows(dtype) -> np.ndarray:
    """Constant rows at every magnitude of the dtype, both signs, short and long mantissas."""
    finfo = np.finfo(dtype)
    exponents = np.arange(np.floor(np.log10(finfo.tiny)), np.floor(np.log10(finfo.max)) + 1, 1.0)
    values = np.concatenate([10.0 ** exponents, 10.0 ** exponents / 3, [finfo.max, finfo.max / 3, 0.7]])
    values = values[(values >= finfo.tiny) & (values <= finfo.max)]
    values = np.concatenate([values, -values]).astype(dtype)
    return np.repeat(values[:, None], 768, axis=1)  # [rows, 768]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("eps", [1e-12, 1e-5])
def test_constant_rows_give_exactly_the_bias_at_every_magnitude(dtype, eps):
    """Issue 16: a float32 row of the constant 1e30 came out 0.84 of scale from the exact answer;
    1e-3 with eps 1e-5 came out 2e-7 off. The exact answer, derived in float64, is the bias."""
    rng = np.random.default_rng(0)
    x = constant_rows(dtype)
    weight, bias = rng.normal(1, 0.3, 768).astype(dtype), rng.normal(0, 0.3, 768).astype(dtype)
    expected = exact_layer_norm(x, weight, bias, eps).astype(dtype)
    assert np.array_equal(expected, np.broadcast_to(bias, x.shape))  # what exact math says
    for path, out in hot_path_layer_norms(x, weight, bias, eps).items():
        wrong = np.flatnonzero((out != expected).any(axis=1))
        assert not len(wrong), (f"{path}, eps {eps:g}: {len(wrong)} constant rows are not exactly the "
                                f"bias, e.g. the row of {x[wrong[0], 0]:g}: max error "
                                f"{max_abs_error(out[wrong], expected[wrong]):.3g}")


def nearly_constant_rows(rng: np.random.Generator) -> np.ndarray:
    """float32 rows c * (1 + k * 2^-23) for k in 0..5 at random: a few ulps of spread around c,
    for c from 1e15 (squares still finite) to 1e38 (sums overflow), both signs."""
    rows = []
    for c in (1e15, 1e19, 1e20, 1e25, 1e30, 1e34, 1e36, 1e38, 3e38):
        for sign in (1, -1):
            ulps = rng.integers(0, 6, 768)
            row = np.float32(sign * c) * (1 + ulps * np.float32(2.0 ** -23))
            rows.append(row.astype(np.float32))
    return np.array(rows)  # [18, 768]


@pytest.mark.parametrize("eps", [1e-12, 1e-5])
def test_rows_of_huge_values_with_a_few_ulps_of_spread(eps):
    """The neighbours of the constant rows: a mean far larger than the spread, with squares or
    sums that overflow in float32. Within RARE_TOLERANCE of exact float64 math."""
    rng = np.random.default_rng(1)
    x = nearly_constant_rows(rng)
    assert np.isfinite(x).all()
    weight, bias = rng.normal(1, 0.3, 768).astype(np.float32), rng.normal(0, 0.3, 768).astype(np.float32)
    expected = exact_layer_norm(x, weight, bias, eps)
    for path, out in hot_path_layer_norms(x, weight, bias, eps).items():
        errors = np.abs(out - expected).max(axis=1)
        worst = int(np.argmax(errors))
        assert errors[worst] <= RARE_TOLERANCE, (
            f"{path}, eps {eps:g}: the row around {x[worst, 0]:g} is {errors[worst]:.3g} from exact")

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


# --- the small-input path, the output mask, the saved forward -------------------------------------

def tiny_tables(dtype=np.float32, seed=0):
    """A word table [V, E], a folded position + type table [T * P, E] and LayerNorm weights."""
    rng = np.random.default_rng(seed)
    word = rng.normal(0, 0.5, (1000, 48)).astype(dtype)
    added = fast.AddedRows(rng.normal(0, 0.5, (64, 48)).astype(dtype),
                           rng.normal(0, 0.5, (2, 48)).astype(dtype))
    weight, bias = rng.normal(1, 0.3, 48).astype(dtype), rng.normal(0, 0.3, 48).astype(dtype)
    return rng, word, added, weight, bias


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_row_gives_the_same_bits_in_a_short_batch_as_in_a_long_one(dtype):
    """The small-input path (<= SMALL_ROWS rows) against the blocked one, bitwise, with and
    without the mask and the bias: a row's output must not depend on its batch."""
    rng, word, added, weight, bias = tiny_tables(dtype)
    long_ids = rng.integers(0, 1000, (20, 50))  # 1000 rows: blocked, on two threads
    long_types = rng.integers(0, 2, (20, 50))
    mask = (rng.random(1000) < 0.8).astype(dtype)
    table_ids = added.ids(np.arange(50), long_types, (20, 50)).ravel()
    for b in (None, bias):
        for m in (None, mask):
            long = fast.embed_layer_norm(word, long_ids.ravel(), None, added.table, table_ids, weight, b,
                                         1e-12, 2, block_rows=128, mask=m)
            for rows in (slice(0, 1), slice(0, 7), slice(100, 164), slice(993, 1000)):
                n = rows.stop - rows.start
                assert n <= fast.SMALL_ROWS
                short = fast.embed_layer_norm(word, long_ids.ravel()[rows], None, added.table,
                                              table_ids[rows], weight, b, 1e-12, 2,
                                              mask=None if m is None else m[rows])
                assert np.array_equal(short, long[rows]), (
                    f"{n} rows (bias {b is not None}, mask {m is not None}): max diff "
                    f"{max_abs_error(short, long[rows]):.3g}")


@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 2e-6), (np.float64, 1e-12)])
def test_the_mask_and_the_saved_forward_against_the_reference(dtype, tolerance):
    """embed_layer_norm(mask=) against functional.layer_norm(...) * mask; embed_layer_norm_saved
    gives bitwise the same output, and x_hat and 1/sigma within `tolerance` (test_fast.py's) of
    functional.standardize's. Short and long batches, with inputs_embeds too."""
    rng, word, added, weight, bias = tiny_tables(dtype, seed=1)
    for n in (7, 1000):
        ids = rng.integers(0, 1000, n)
        table_ids = rng.integers(0, len(added.table), n)
        mask = (rng.random(n) < 0.7).astype(dtype)
        summed = word[ids] + added.table[table_ids]
        expected = functional.layer_norm(summed, weight, bias, 1e-12) * mask[:, None]
        x_hat, sigma = functional.standardize(summed, 1e-12)
        for embeds in (None, rng.normal(0, 0.5, (n, 48)).astype(dtype)):
            if embeds is not None:
                summed_here = embeds + added.table[table_ids]
                expected = functional.layer_norm(summed_here, weight, bias, 1e-12) * mask[:, None]
                x_hat, sigma = functional.standardize(summed_here, 1e-12)
            args = (word, None if embeds is not None else ids, embeds, added.table, table_ids, weight,
                    bias, 1e-12, 2)
            out = fast.embed_layer_norm(*args, block_rows=128, mask=mask)
            error = max_abs_error(out, expected)
            assert error <= tolerance, f"{n} rows, mask: {error:.3g} from functional"
            kept_out, saved = fast.embed_layer_norm_saved(*args, block_rows=128, mask=mask)
            assert np.array_equal(kept_out, out), f"{n} rows: the saved forward's output differs"
            error = max_abs_error(saved.x_hat, x_hat)
            assert error <= tolerance, f"{n} rows: x_hat {error:.3g} from functional.standardize"
            error = float(np.max(np.abs(saved.inv_sigma * sigma[:, 0] - 1)))
            assert error <= tolerance, f"{n} rows: 1/sigma {error:.3g} (relative) from functional"


def test_the_saved_forward_keeps_rare_rows_exact():
    """Rare rows (constant, huge) in the saved forward: x_hat exactly functional.standardize's."""
    x = np.concatenate([constant_rows(np.float32)[::7], nearly_constant_rows(np.random.default_rng(3)),
                        np.random.default_rng(4).normal(0, 1, (30, 768)).astype(np.float32)])
    weight, bias = np.ones(768, np.float32), np.zeros(768, np.float32)
    out, saved = fast.layer_norm_rows_saved(x, weight, bias, 1e-12, num_threads=2, block_rows=16)
    x_hat, sigma = functional.standardize(x, 1e-12)
    rare = np.arange(len(x) - 30)
    assert np.array_equal(saved.x_hat[rare], x_hat[rare])
    assert np.array_equal(saved.inv_sigma[rare], 1 / sigma[rare, 0])
    assert np.array_equal(out[rare], x_hat[rare])


# --- the LayerNorm backward from the saved forward ------------------------------------------------

@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_layer_norm_backward_from_the_saved_forward(dtype, tolerance):
    """layer_norm_backward_saved (the forward's x_hat, 1/sigma) against functional's textbook
    backward, within `tolerance` of scale (test_gradients.py's); bitwise the same for any
    thread count."""
    rng = np.random.default_rng(5)
    x = (rng.normal(0, 1, (1500, 48)) * rng.uniform(0.01, 10, (1500, 1)) + 0.3).astype(dtype)
    x[7] = 2.5  # a constant row (rare): its x_hat is 0 exactly
    grad = rng.normal(0, 1, (1500, 48)).astype(dtype)
    weight, bias = rng.normal(1, 0.3, 48).astype(dtype), rng.normal(0, 0.3, 48).astype(dtype)
    reference = functional.layer_norm_backward(grad, x, weight, 1e-5)
    _, saved = fast.layer_norm_rows_saved(x, weight, bias, 1e-5, num_threads=2, block_rows=100)
    results = [fast.layer_norm_backward_saved(grad, saved, weight, n, block_rows=100) for n in (1, 2, 3)]
    for ours, expected, name in zip(results[0], reference, ("dx", "dweight", "dbias"), strict=True):
        error = max_abs_error(ours, expected) / float(np.max(np.abs(expected)))
        assert ours.dtype == dtype and error <= tolerance, f"{name}: {error:.3g} of scale"
    for other in results[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(results[0], other, strict=True)), (
            "differs by thread count")


# --- the sparse word gradient ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_sparse_rows_against_the_dense_gradient_and_np_add_at(dtype, tolerance):
    """embedding_backward_sparse: the used ids once each, sorted, the padding id left out, their
    summed rows within `tolerance` of scale of np.add.at's (functional.embedding_backward:
    another summation order); .dense() equal to fast.embedding_backward's [V, E] bitwise."""
    rng = np.random.default_rng(6)
    for rows, n in ((30522, 4096), (512, 4096), (20, 300), (7, 3), (100, 0)):
        ids = rng.integers(0, rows, size=(n,))
        ids[: n // 4] = ids[0] if n else 0  # a heavily repeated id (more than RANK_LOOP_MAX times)
        grad = rng.normal(0, 1, (n, 16)).astype(dtype)
        for padding_idx in (None, int(ids[1]) if n > 1 else 0):
            sparse = fast.embedding_backward_sparse(grad, ids, rows, padding_idx)
            used = np.unique(ids[ids != padding_idx] if padding_idx is not None else ids)
            assert np.array_equal(sparse.indices, used), (rows, n, padding_idx)
            assert sparse.values.shape == (len(used), 16) and sparse.values.dtype == dtype
            assert sparse.num_embeddings == rows
            reference = functional.embedding_backward(grad, ids, rows, padding_idx)
            scale = max(float(np.max(np.abs(reference), initial=0)), 1.0)
            error = max_abs_error(sparse.values, reference[used]) / scale
            assert error <= tolerance, f"{rows} rows, {n} ids: {error:.3g} of scale from np.add.at"
            dense = sparse.dense()
            assert dense.shape == (rows, 16) and not np.delete(dense, used, axis=0).any()
            if rows > fast.SMALL_TABLE:
                assert np.array_equal(dense, fast.embedding_backward(grad, ids, rows, padding_idx))


def test_the_saved_forward_with_a_projection_keeps_the_summed_terms():
    """DeBERTa's embed_proj [H, E] before the norm: the saved forward keeps the summed terms
    [N, E] (for the projection's gradient), bitwise word + table; the output within 2e-6
    (test_fast.py's float32 tolerance) of functional's layer_norm(linear(summed))."""
    rng, word, added, weight, bias = tiny_tables(seed=7)
    projection = rng.normal(0, 0.2, (32, 48)).astype(np.float32)  # [H, E]: E = 48 -> H = 32
    weight, bias = weight[:32], bias[:32]
    for n in (7, 700):
        ids, table_ids = rng.integers(0, 1000, n), rng.integers(0, len(added.table), n)
        summed = word[ids] + added.table[table_ids]
        expected = functional.layer_norm(functional.linear(summed, projection, None), weight, bias, 1e-7)
        out, saved = fast.embed_layer_norm_saved(word, ids, None, added.table, table_ids, weight, bias,
                                                 1e-7, 2, block_rows=100, projection=projection)
        assert np.array_equal(saved.summed, summed), f"{n} rows: the kept sum differs"
        assert saved.x_hat.shape == (n, 32) and saved.inv_sigma.shape == (n,)
        error = max_abs_error(out, expected)
        assert error <= 2e-6, f"{n} rows: {error:.3g} from functional"
        assert np.array_equal(out, fast.embed_layer_norm(word, ids, None, added.table, table_ids, weight,
                                                         bias, 1e-7, 2, block_rows=100,
                                                         projection=projection))

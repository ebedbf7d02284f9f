"""The hot paths: LayerNorm(sum of the terms) in blocks of rows on threads; its backward; the
scatter-adds of the embedding gradients.

It computes the same math as the readable version in `functional.py` (see
`BertEmbeddings.reference`), and the tests hold the two within 2e-6 in float32 and 1e-12 in
float64. What changes is only how the work is laid out, because the layer is memory-bound: each
pass over a block of rows costs about as much as another, so the count of passes (and, for
short batches, of NumPy calls) is the cost.

1. Position and token-type rows are folded ahead of time into one table (AddedRows),
   table[type * P + position] = token_type[type] + position[position]   # [T * P, H]
   so the sum is one gather-add instead of two (or none, for a family with neither).
   When every sequence has the same table ids and they run first, first + 1, ... (default
   positions, one token type), a block adds slices of the table instead (sequence_runs).
2. LayerNorm in six passes over a block (normalize_block), after the gather and the table's
   one or two: two reads for the row sums and sums of squares (mean, and the variance as
   E[x^2] - mean^2, so no centring pass), then two products made by small matrix products
   [b, 2] @ [2, H] and one multiply-add:
       A = (1/sigma) (x) weight             C = bias - (mean/sigma) (x) weight      # [b, H]
       y = x * A + C                        = (x - mean) / sigma * weight + bias
   so there is no divide and no [b, H] op that broadcasts a per-row number (NumPy runs those
   row by row, at half speed). The few rows where E[x^2] - mean^2 loses digits (mean larger
   than the spread, constant rows, overflowing squares: never an ordinary row) are found by
   one comparison per row and done by functional.standardize instead. Up to SMALL_ROWS rows,
   small_layer_norm does the same arithmetic in fewer calls.
3. Blocks of BLOCK_ROWS rows, written straight into the output: no full-size temporary, only
   [block, H] scratch buffers per thread. Each thread takes a contiguous run of rows; NumPy
   releases the GIL inside its loops, so the threads really run in parallel.

Every row is normalized on its own, by the same sequence of operations whatever block, batch
or thread it falls in, so the result is bitwise identical for any thread count, block size or
batch size (tests/test_fast.py, tests/test_fast_paths.py).
"""

from __future__ import annotations

import os
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np

from . import functional

__all__ = ["BLOCK_ROWS", "MIN_RUN", "AddedRows", "Saved", "SparseRows", "default_num_threads",
           "embed_layer_norm", "embed_layer_norm_saved", "embedding_backward",
           "embedding_backward_sparse", "layer_norm_backward_saved",
           "layer_norm_rows_saved", "normalize_rows"]

BLOCK_ROWS = 512  # rows per block: enough that two threads scale (few GIL hand-offs per row), in L3
# A run of table ids at least this long can be added as a slice of the table: a slice-add of
# 256 rows takes half the time of their gather + add, but each slice costs a NumPy call (~1 us).
MIN_RUN = 32
MATMUL_ELEMENTS = 2 ** 17  # rows * H of one matrix product of normalize_block (matrix_product)
NUM_THREADS_ENV = "BERTEMB_NUM_THREADS"


def default_num_threads() -> int:
    """BERTEMB_NUM_THREADS if set, else the number of cores this process may run on."""
    value = os.environ.get(NUM_THREADS_ENV)
    if value is None:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if not (value.isascii() and value.isdigit()) or int(value) < 1:  # not "²", which isdigit takes
        raise ValueError(f"{NUM_THREADS_ENV} must be a positive integer, got {value!r}")
    return int(value)


class AddedRows:
    """The rows added to every word row, position and token type, folded into one table:

        table[type * P + position] = token_type[type] + position[position]   # [T * P, E]

    Either table may be None (a family without it): then P = 1 or T = 1 and its ids are 0.
    Made from the weight arrays given; the module makes a new one when a weight is replaced.
    """

    def __init__(self, position: np.ndarray | None, token_type: np.ndarray | None):
        self.position, self.token_type = position, token_type
        self.positions = 1 if position is None else len(position)  # P
        if position is None and token_type is None:
            self.table = None
        elif token_type is None:
            self.table = position
        elif position is None:
            self.table = token_type
        else:
            self.table = (token_type[:, None, :] + position[None, :, :]).reshape(-1, position.shape[1])

    def ids(self, position_ids: np.ndarray | None, token_type_ids: np.ndarray | None,
            shape: tuple[int, int]) -> np.ndarray | None:
        """The table row of each of the B * L tokens (ids broadcastable to shape): -> [L] when
        they are the same in every sequence (default positions, no per-sequence token types:
        embed_layer_norm then finds their runs in that one row), else [B, L]."""
        if self.table is None:
            return None
        types = 0 if token_type_ids is None else token_type_ids * self.positions
        ids = np.asarray(types + (0 if position_ids is None else position_ids))
        L = shape[1]
        if ids.shape in ((L,), (1, L)):
            return ids.reshape(L)  # [L]
        return ids if ids.shape == tuple(shape) else np.broadcast_to(ids, shape)  # [B, L]


def long_runs(ids: np.ndarray, min_run: int) -> tuple[list[int], list[int]]:
    """The maximal runs ids[a:b] = ids[a], ids[a] + 1, ..., ids[a] + b - a - 1 at least min_run
    long: (their starts a, their stops b), sorted."""
    # ids[:1] before and ids[-1:] after differ from their neighbour by 0: runs also end there
    edges = np.flatnonzero(np.diff(ids, prepend=ids[:1], append=ids[-1:]) != 1)  # [runs + 1]
    long = np.flatnonzero(np.diff(edges) >= min_run)
    return edges[long].tolist(), edges[long + 1].tolist()


def block_runs(lo: int, hi: int, starts: list[int],
               stops: list[int]) -> list[tuple[int, int]] | None:
    """The runs (starts, stops) cut to the block [lo, hi), as (a, b), if they cover it all; else
    None. A block with gaps is gathered whole: a slice per piece costs more calls than it saves."""
    first, last = bisect_right(stops, lo), bisect_left(starts, hi)  # the runs that overlap it
    pieces = [(max(starts[i], lo), min(stops[i], hi)) for i in range(first, last)]
    return pieces if sum(b - a for a, b in pieces) == hi - lo else None


def sequence_runs(row: np.ndarray, sequences: int, min_run: int) -> tuple[list[int], list[int]]:
    """The long_runs of the ids `row` [L] that each of `sequences` sequences has, as (starts,
    stops) in the flattened [sequences * L]."""
    starts, stops = long_runs(row, min_run)  # in the row
    offsets = range(0, sequences * len(row), len(row))  # where each sequence starts
    return [o + a for o in offsets for a in starts], [o + b for o in offsets for b in stops]


def flat_ids(table_ids: np.ndarray, n: int) -> np.ndarray:
    """[N] table ids from [L] (the same in each of the N / L sequences) or [B, L]."""
    if table_ids.ndim == 2 or len(table_ids) == n:
        return table_ids.ravel()  # a copy only for a broadcast view
    flat = np.empty((n // len(table_ids), len(table_ids)), dtype=table_ids.dtype)  # [B, L]
    flat[:] = table_ids  # a fifth of the time of np.broadcast_to(...).ravel() (~3 us)
    return flat.ravel()


class Saved(NamedTuple):
    """What the LayerNorm backward needs from its forward pass (embed_layer_norm_saved)."""

    x_hat: np.ndarray  # [N, H]: (x - mean) / sigma of each row, before weight and bias
    inv_sigma: np.ndarray  # [N]: 1 / sqrt(var + eps)
    summed: np.ndarray | None  # [N, E]: the summed terms before a projection, when there is one


def embed_layer_norm(word_weight: np.ndarray, input_ids: np.ndarray | None,
                     inputs_embeds: np.ndarray | None, table: np.ndarray | None,
                     table_ids: np.ndarray | None, ln_weight: np.ndarray, ln_bias: np.ndarray | None,
                     eps: float, num_threads: int, block_rows: int = BLOCK_ROWS,
                     projection: np.ndarray | None = None, min_run: int | None = MIN_RUN,
                     mask: np.ndarray | None = None) -> np.ndarray:
    """LayerNorm(word[input_ids] + table[table_ids]) * mask for N rows: -> [N, H].

    input_ids [N] (already checked to be in range) or inputs_embeds [N, E] gives the first term;
    table_ids (AddedRows.ids) picks the folded position + token-type row of each: [L], the same
    in each of the N / L sequences, or [B, L] (no table: no second term).
    projection [H, E] (DeBERTa's embed_proj) maps each summed row from E to H before the norm.
    mask [N] (DeBERTa's attention_mask, flattened), if given, multiplies each output row.
    With [L] table_ids, in calls of BLOCK_ROWS rows or more, a block covered by runs of at
    least min_run ids adds them as slices of the table: the same rows in the same order, so
    bitwise the same result. min_run=None gathers every row.
    """
    return _embed_layer_norm(word_weight, input_ids, inputs_embeds, table, table_ids, ln_weight,
                             ln_bias, eps, num_threads, block_rows, projection, min_run, mask,
                             keep=False)[0]


def embed_layer_norm_saved(word_weight: np.ndarray, input_ids: np.ndarray | None,
                           inputs_embeds: np.ndarray | None, table: np.ndarray | None,
                           table_ids: np.ndarray | None, ln_weight: np.ndarray,
                           ln_bias: np.ndarray | None, eps: float, num_threads: int,
                           block_rows: int = BLOCK_ROWS, projection: np.ndarray | None = None,
                           min_run: int | None = MIN_RUN,
                           mask: np.ndarray | None = None) -> tuple[np.ndarray, Saved]:
    """embed_layer_norm (bitwise the same output) and what layer_norm_backward_saved needs:
    -> ([N, H], Saved). Four more passes per block: x_hat = x * A' + C', like the output."""
    out, saved = _embed_layer_norm(word_weight, input_ids, inputs_embeds, table, table_ids,
                                   ln_weight, ln_bias, eps, num_threads, block_rows, projection,
                                   min_run, mask, keep=True)
    assert saved is not None  # keep=True: kept
    return out, saved


# Any: arrays or None, in the pairs the two functions above pass (input_ids or inputs_embeds;
# table_ids with a table), which a type checker cannot follow through the branches below
def _embed_layer_norm(word_weight: np.ndarray, input_ids: Any, inputs_embeds: Any, table: Any,
                      table_ids: Any, ln_weight: np.ndarray, ln_bias: np.ndarray | None,
                      eps: float, num_threads: int, block_rows: int,
                      projection: np.ndarray | None, min_run: int | None, mask: np.ndarray | None,
                      keep: bool) -> tuple[np.ndarray, Saved | None]:
    n, e = len(input_ids) if inputs_embeds is None else len(inputs_embeds), word_weight.shape[1]
    dtype = word_weight.dtype
    if n <= SMALL_ROWS and projection is None and not keep:  # a short batch: few NumPy calls
        x = word_weight.take(input_ids, axis=0) if inputs_embeds is None else inputs_embeds
        if table is not None:
            x = x + table.take(flat_ids(table_ids, n), axis=0)  # [N, E]
        elif inputs_embeds is not None:
            x = x.copy()  # ours to write the output in
        out = small_layer_norm(x, ln_weight, ln_bias, eps, mask)
        if out is not None:
            return out, None
    runs = None  # (starts, stops) in [N] of the runs to slice; None: gather every block
    if table is not None:
        # Runs are looked for only in ids shared by all sequences: scanning B rows, each with
        # its padding, costs more than slicing saves; so does any scan below BLOCK_ROWS rows.
        if table_ids.ndim == 1 and min_run is not None and n >= BLOCK_ROWS:
            runs = sequence_runs(table_ids, n // len(table_ids), min_run)
        table_ids = flat_ids(table_ids, n)  # [N]
    summed = None
    if projection is not None:
        summed = np.empty((n, e), dtype=dtype) if keep else None  # kept for the backward

    def terms(lo: int, hi: int, block: np.ndarray, scratch: Scratch) -> np.ndarray:
        """The sum of the terms of rows lo:hi, [b, H]: in `block` (the output's rows) or, for
        inputs_embeds alone, a view of them."""
        b = hi - lo
        if projection is None:
            x = block
        else:  # the sum goes to scratch (or the kept array), its projection to the block
            x = summed[lo:hi] if summed is not None else scratch.summed(b, e)
        if inputs_embeds is None:
            # mode="clip" skips NumPy's buffered bounds check; the ids were checked before.
            np.take(word_weight, input_ids[lo:hi], axis=0, out=x, mode="clip")  # x = word[ids]
        elif table is None and projection is None:
            x = inputs_embeds[lo:hi]  # read where it is: no copy
        else:
            np.copyto(x, inputs_embeds[lo:hi])  # x = inputs_embeds
        pieces = None if runs is None else block_runs(lo, hi, *runs)
        if pieces is not None:  # x += token_type + position, as slices of the table
            for a, c in pieces:
                part, first = x[a - lo:c - lo], table_ids[a]  # [c - a, E], its first row
                np.add(part, table[first:first + c - a], out=part)
        elif table is not None:  # x += token_type + position, gathered row by row
            extra = scratch.extra(b, e)  # [b, E]
            np.take(table, table_ids[lo:hi], axis=0, out=extra, mode="clip")
            np.add(x, extra, out=x)
        if projection is not None:
            np.matmul(x, projection.T, out=block)  # [b, E] @ [E, H] -> [b, H]
            x = block
        return x

    h = e if projection is None else projection.shape[0]
    out, saved = layer_norm_blocks(terms, n, h, dtype, ln_weight, ln_bias, eps, num_threads,
                                   block_rows, mask, keep)
    return out, None if saved is None else saved._replace(summed=summed)


def normalize_rows(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, eps: float,
                   num_threads: int = 1, block_rows: int = BLOCK_ROWS) -> None:
    """LayerNorm of each row of x [N, H], in place; the same math as functional.layer_norm."""
    layer_norm_blocks(lambda lo, hi, block, scratch: block, len(x), x.shape[1], x.dtype, weight,
                      bias, eps, num_threads, block_rows, None, False, out=x)


def layer_norm_rows_saved(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, eps: float,
                          num_threads: int = 1, block_rows: int = BLOCK_ROWS
                          ) -> tuple[np.ndarray, Saved]:
    """LayerNorm of each row of x [N, H] and what its backward needs: -> ([N, H], Saved)."""
    out, saved = layer_norm_blocks(lambda lo, hi, block, scratch: x[lo:hi], len(x), x.shape[1],
                                   x.dtype, weight, bias, eps, num_threads, block_rows, None, True)
    assert saved is not None  # keep=True: kept
    return out, saved


SMALL_ROWS = 64  # up to this many rows, small_layer_norm: a call's overhead is all its cost there
# (H, dtype) -> ones [H], read-only: the row-sum vector of small_layer_norm
_ones: dict[tuple[int, np.dtype], np.ndarray] = {}


def small_layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, eps: float,
                     mask: np.ndarray | None) -> np.ndarray | None:
    """LayerNorm(x) (* mask) of a few rows, in place in x [n, H]: normalize_block's arithmetic,
    bitwise, in fewer calls (no scratch, no blocks, no threads): A and C are np.multiply.outer,
    which rounds r * w and (-mean r) * w + b as the [b, 2] @ [2, H] products do (one of their
    two terms is exact). None, x untouched, if a row is rare: the blocked path handles those.
    """
    h, dtype = x.shape[1], x.dtype
    ones = _ones.get((h, dtype))
    if ones is None:
        ones = _ones[h, dtype] = np.ones(h, dtype)
        ones.flags.writeable = False
    with np.errstate(all="ignore"):  # inf, nan and overflow make a row rare: checked below
        neg_mean = row_dots(x, ones, np.empty(len(x), dtype))
        var = row_dots(x, x, np.empty(len(x), dtype))
        neg_mean *= dtype.type(-1.0 / h)  # Scratch.scale, rounded alike
        var *= dtype.type(1.0 / h)
        squares = neg_mean * neg_mean
        var -= squares
        if not all_ordinary(squares, var):
            return None
        var += dtype.type(eps)
        inv_sigma = np.divide(1, np.sqrt(var, out=var), out=var)
        neg_mean *= inv_sigma  # -mean/sigma
        if mask is not None:
            inv_sigma *= mask
            neg_mean *= mask
        product = np.multiply.outer(inv_sigma, weight)  # A
        x *= product
        product = np.multiply.outer(neg_mean, weight, out=product)
        if bias is not None:
            product += bias if mask is None else np.multiply.outer(mask, bias)  # C
        x += product
    return x


def row_dots(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out[i] = x[i] . y[i] (y [H] or [b, H]) -> out [b]: as [b, 1, H] @ [..., H, 1], a BLAS dot
    per row, so the same bits in any block (numpy >= 2 calls this np.vecdot). 4x einsum's speed."""
    np.matmul(x[:, None, :], y[..., None], out=out[:, None, None])
    return out


def all_ordinary(squares: np.ndarray, var: np.ndarray) -> bool:
    """Whether mean^2 < var < inf in every row (False for a nan): then E[x^2] - mean^2 kept its
    digits. Strictly less: a constant row whose squares underflow (1e-30) has 0 for both, and
    so has an all-zero row: rare. (Direct ufunc reductions: ndarray.all and .max cost a Python
    layer each.)"""
    margin = var - squares  # [b]: inf where var is, -inf or nan where squares are
    return (np.minimum.reduce(margin, initial=np.inf) > 0
            and np.maximum.reduce(margin, initial=0) < np.inf)


class Scratch:
    """One thread's work buffers for blocks of up to `rows` rows, made once per call."""

    def __init__(self, rows: int, width: int, dtype: np.dtype, products: int) -> None:
        self.rows, self.dtype = rows, dtype
        self.sums = np.empty((2, rows), dtype)  # [2, b]: -mean and the mean of squares, per row
        self.squares = np.empty(rows, dtype)  # [b]: mean^2
        self.ones = np.ones(width, dtype)  # [H]: x . ones is the row sum
        self.scale = np.array([[-1.0 / width], [1.0 / width]], dtype)  # [2, 1]
        # [products, b, 2]: per row, the coefficients of `coefficient_rows`: [1/sigma, 0] -> A,
        # [-mean/sigma, 1] -> C (then [1/sigma, 0], [-mean/sigma, 0] -> x_hat's two, if kept)
        self.coef = np.zeros((products, rows, 2), dtype)
        self.coef[1, :, 1] = 1
        self.product = np.empty((rows, width), dtype)  # [b, H]: A, C, ... one at a time
        self._extra: np.ndarray | None = None  # made on first use
        self._summed: np.ndarray | None = None

    def extra(self, b: int, e: int) -> np.ndarray:
        """[b, E]: the gathered table rows (the products' buffer, free until they are made)."""
        if e == self.product.shape[1]:
            return self.product[:b]
        if self._extra is None:
            self._extra = np.empty((self.rows, e), self.dtype)
        return self._extra[:b]

    def summed(self, b: int, e: int) -> np.ndarray:
        """[b, E]: the summed terms before a projection."""
        if self._summed is None:
            self._summed = np.empty((self.rows, e), self.dtype)
        return self._summed[:b]


def coefficient_rows(weight: np.ndarray, bias: np.ndarray | None, keep: bool) -> np.ndarray:
    """[products, 2, H]: the rows each per-row pair of coefficients multiplies (Scratch.coef):
    [weight; 0] -> A, [weight; bias] -> C, and if keep, [1; 0] twice -> x_hat's A and C."""
    rows = np.zeros((4 if keep else 2, 2, len(weight)), weight.dtype)
    rows[:2, 0] = weight
    if bias is not None:
        rows[1, 1] = bias
    rows[2:, 0] = 1
    return rows


def layer_norm_blocks(terms: Callable[[int, int, np.ndarray, Scratch], np.ndarray], n: int,
                      h: int, dtype: np.dtype, weight: np.ndarray, bias: np.ndarray | None,
                      eps: float, num_threads: int, block_rows: int, mask: np.ndarray | None,
                      keep: bool, out: np.ndarray | None = None) -> tuple[np.ndarray, Saved | None]:
    """LayerNorm of the rows terms(lo, hi, out[lo:hi], scratch) gives, block by block, times
    mask [N] if given: -> (out [N, H], Saved if keep else None)."""
    out = np.empty((n, h), dtype=dtype) if out is None else out  # [N, H], the only full-size array
    saved = Saved(np.empty((n, h), dtype), np.empty(n, dtype), None) if keep else None
    rows = coefficient_rows(weight, bias, keep)
    eps = dtype.type(eps)

    def run(start: int, stop: int) -> None:
        scratch = Scratch(min(block_rows, stop - start), h, dtype, len(rows))
        with np.errstate(all="ignore"):  # rare rows (inf, nan, overflow) are redone in the block
            for lo in range(start, stop, block_rows):
                hi = min(lo + block_rows, stop)
                kept = None if saved is None else (saved.x_hat[lo:hi], saved.inv_sigma[lo:hi])
                normalize_block(terms(lo, hi, out[lo:hi], scratch), out[lo:hi], rows, weight,
                                bias, eps, scratch, None if mask is None else mask[lo:hi], kept)

    parallel_blocks(run, n, num_threads, block_rows)
    return out, saved


def normalize_block(x: np.ndarray, out: np.ndarray, rows: np.ndarray, weight: np.ndarray,
                    bias: np.ndarray | None, eps: float, scratch: Scratch, mask: np.ndarray | None,
                    kept: tuple[np.ndarray, np.ndarray] | None) -> None:
    """out = LayerNorm(x) (* mask) for the block x [b, H] (out may be x);
    kept = (x_hat [b, H], 1/sigma [b]), if given, are filled too.

    The variance is E[x^2] - mean^2: one read for the sums, none to centre. It loses digits
    only where mean^2 is large against the variance, so a row is done this way only where
    mean^2 < var (then its error is that of the two-pass formula: tests/test_fast_paths.py);
    every other row is rare (a constant row; 1e4 +- 1e-3; squares that overflow; inf or nan)
    and goes through functional.standardize, the reference: a constant row then gives exactly
    the bias, as in PyTorch. (With mean^2 > var, the sums also cancel in C.)
    """
    b = len(x)
    sums, squares, coef = scratch.sums[:, :b], scratch.squares[:b], scratch.coef[:, :b]
    row_dots(x, scratch.ones, sums[0])  # row sums
    row_dots(x, x, sums[1])  # row sums of squares
    sums *= scratch.scale  # -mean, mean of squares
    neg_mean, var = sums  # [b] each
    np.multiply(neg_mean, neg_mean, out=squares)
    var -= squares  # the biased variance, E[x^2] - mean^2
    rare = None
    if not all_ordinary(squares, var):
        rare = np.flatnonzero(~((squares < var) & (var < np.inf)))  # [k]
        x_hat, sigma = functional.standardize(x[rare], float(eps))  # [k, H], [k, 1]
        neg_mean[rare], var[rare] = 0, 1  # anything finite: their rows are overwritten below
    var += eps
    np.sqrt(var, out=var)  # sigma
    np.divide(1, var, out=coef[0, :, 0])  # 1/sigma
    np.multiply(neg_mean, coef[0, :, 0], out=coef[1, :, 0])  # -mean/sigma
    if kept is not None:
        np.copyto(coef[2:, :, 0], coef[:2, :, 0])  # x_hat = x * A' + C', without weight and mask
    if mask is not None:
        np.multiply(coef[:2, :, 0], mask, out=coef[:2, :, 0])
        np.copyto(coef[1, :, 1], mask)  # bias * mask
    product = scratch.product[:b]  # [b, H]: A, then C (then x_hat's two), one at a time
    if kept is not None:
        kept_x_hat, kept_inv_sigma = kept
        # x_hat = (x - mean) / sigma
        multiply_add(x, coef[2], rows[2], coef[3], rows[3], product, kept_x_hat)
        np.copyto(kept_inv_sigma, coef[2, :, 0])
    multiply_add(x, coef[0], rows[0], coef[1], rows[1], product, out)  # (x - mean) / sigma * w + b
    if rare is not None:
        y = x_hat * weight
        if bias is not None:
            y += bias
        out[rare] = y if mask is None else y * mask[rare, None]
    if rare is not None and kept is not None:
        kept_x_hat[rare], kept_inv_sigma[rare] = x_hat, 1 / sigma[:, 0]


def multiply_add(x: np.ndarray, coef_a: np.ndarray, rows_a: np.ndarray, coef_c: np.ndarray,
                 rows_c: np.ndarray, product: np.ndarray, out: np.ndarray) -> None:
    """out = x * A + C, with A = coef_a [b, 2] @ rows_a [2, H] and C likewise, made one at a
    time in `product` [b, H], so a block needs one scratch buffer."""
    matrix_product(coef_a, rows_a, product)
    np.multiply(x, product, out=out)
    matrix_product(coef_c, rows_c, product)
    np.add(out, product, out=out)


def matrix_product(coef: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
    """out = coef [b, 2] @ rows [2, H], as a batch of products of at most MATMUL_ELEMENTS / H
    rows each: below OpenBLAS's threshold for threading one (m * n * k <= 65536 * 4), as its
    own threads inside ours would fight ours for the cores."""
    b, h = out.shape
    step = max(1, MATMUL_ELEMENTS // h)
    whole = b // step * step
    if whole:  # [b // step, step, 2] @ [2, H]: one call, one product per step rows
        np.matmul(coef[:whole].reshape(-1, step, 2), rows, out=out[:whole].reshape(-1, step, h))
    if whole < b:
        np.matmul(coef[whole:], rows, out=out[whole:])


def layer_norm_backward_saved(grad: np.ndarray, saved: Saved, weight: np.ndarray, num_threads: int,
                              block_rows: int = BLOCK_ROWS
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """functional.layer_norm_backward for [N, H] rows, block by block, from the forward's x_hat
    and 1/sigma (embed_layer_norm_saved): (dx, dweight, dbias).

    With g = dy * weight, per row: dx = (g - mean(g) - x_hat * mean(g * x_hat)) / sigma. Here
    mean(g) = dy . weight / H and mean(g * x_hat) = (dy * x_hat) . weight / H, so g itself is
    never written; dy * x_hat is written once and also summed into dweight. Then
        dx = dy * A + x_hat * S + C,   A = weight / sigma,  S = -mean(g x_hat) / sigma,
                                       C = -mean(g) / sigma      (products as in the forward)
    The weight and bias gradients are summed per block, then over the blocks in order (so the
    result does not depend on the thread count).
    """
    n, h = grad.shape
    dtype = weight.dtype
    grad_x = np.empty((n, h), dtype)  # [N, H]
    partial = np.zeros((2, -(-n // block_rows), h), dtype=dtype)  # per block: sums of dy x_hat, dy
    rows = np.zeros((3, 2, h), dtype)  # [weight; 0] -> A; [1; 0] twice -> S and C
    rows[0, 0], rows[1:, 0] = weight, 1
    minus_inv_h = dtype.type(-1.0 / h)

    def run(start: int, stop: int) -> None:
        b_max = min(block_rows, stop - start)
        scratch = Scratch(b_max, h, dtype, 4)  # its product buffer and row sums
        product = np.empty((b_max, h), dtype)  # [b, H]: dy * x_hat, then x_hat * S
        coef = np.zeros((3, b_max, 2), dtype)  # per row: [1/sigma, 0], [-mean(g x_hat)/sigma, 0], ...
        for lo in range(start, stop, block_rows):
            hi = min(lo + block_rows, stop)
            b, dy, dx = hi - lo, grad[lo:hi], grad_x[lo:hi]
            xh, inv_sigma = saved.x_hat[lo:hi], saved.inv_sigma[lo:hi]
            p, c, made = product[:b], coef[:, :b], scratch.product[:b]
            np.add.reduce(dy, axis=0, out=partial[1, lo // block_rows])  # dbias, this block
            np.multiply(dy, xh, out=p)
            np.add.reduce(p, axis=0, out=partial[0, lo // block_rows])  # dweight, this block
            dots = scratch.sums[:, :b]
            row_dots(p, weight, dots[0])  # H mean(g x_hat)
            row_dots(dy, weight, dots[1])  # H mean(g)
            np.copyto(c[0, :, 0], inv_sigma)
            np.multiply(dots, minus_inv_h, out=dots)
            np.multiply(dots, inv_sigma, out=c[1:, :, 0])  # -mean(...) / sigma
            matrix_product(c[0], rows[0], made)
            np.multiply(dy, made, out=dx)  # g / sigma
            matrix_product(c[1], rows[1], made)
            np.multiply(xh, made, out=p)
            np.add(dx, p, out=dx)  # - x_hat mean(g x_hat) / sigma
            matrix_product(c[2], rows[2], made)
            np.add(dx, made, out=dx)  # - mean(g) / sigma

    parallel_blocks(run, n, num_threads, block_rows)
    return grad_x, partial[0].sum(axis=0), partial[1].sum(axis=0)


SMALL_TABLE = 16  # up to this many rows (token types), the scatter-add is a one-hot matmul


class SparseRows(NamedTuple):
    """The gradient of a [V, E] table given only for the rows a batch used: what
    torch.nn.Embedding(sparse=True) gives, coalesced (torch's .coalesce()), without the padding row.

        indices: [K] the used row ids, sorted, each once
        values:  [K, E] the summed gradient of each
    """

    indices: np.ndarray
    values: np.ndarray
    num_embeddings: int  # V

    def dense(self) -> np.ndarray:
        """The same gradient as a [V, E] array, zero in the rows never used."""
        grad = np.zeros((self.num_embeddings, self.values.shape[1]), dtype=self.values.dtype)
        grad[self.indices] = self.values  # [K, E] into [V, E]
        return grad


def embedding_backward(grad: np.ndarray, ids: np.ndarray, num_embeddings: int,
                       padding_idx: int | None = None) -> np.ndarray:
    """The scatter-add of functional.embedding_backward, fast: [..., H], [...] -> [V, H].

    np.add.at is slow on rows, and so is np.add.reduceat along axis 0 (scripts/bench.py
    measures them). For a table of a few rows (token types), a one-hot [V, N] matrix times the
    gradient rows does it in one BLAS call. Otherwise the rows are summed per used id
    (embedding_backward_sparse) and written into a zero [V, H]: a zero-fill of the table (the
    kernel's, on first touch of each page) and one write per used row, which a dense gradient
    cannot do without. A non-finite gradient row (inf, nan) would spread through the matmul
    (0 * nan = nan) to rows it never reached: then the sort does it, as PyTorch would.
    """
    rows = grad.reshape(-1, grad.shape[-1])  # [N, H]
    ids = ids.reshape(-1)  # [N]
    if num_embeddings <= SMALL_TABLE:
        one_hot = (np.arange(num_embeddings)[:, None] == ids).astype(grad.dtype)  # [V, N]
        grad_weight = one_hot @ rows  # [V, H]
        if padding_idx is not None:
            grad_weight[padding_idx] = 0
        if np.isfinite(grad_weight).all():
            return grad_weight
    return embedding_backward_sparse(rows, ids, num_embeddings, padding_idx).dense()


RANK_LOOP_MAX = 64  # ids seen at most this often are summed occurrence by occurrence, the rest id by id


def embedding_backward_sparse(grad: np.ndarray, ids: np.ndarray, num_embeddings: int,
                              padding_idx: int | None = None) -> SparseRows:
    """The gradient of embedding(weight, ids) for the used rows only: [..., E], [...] -> SparseRows.

    After a stable sort of the ids, the occurrences of each id sit together. The first
    occurrence of every id is copied in one step; then the k-th occurrences of all ids seen
    more than k times are added, one vectorized step per k. Ids seen more than RANK_LOOP_MAX
    times (at most N / 64 of them) are summed one by one instead, so neither loop runs long.
    The padding row (often the most frequent id of all) gets no gradient and is left out.
    """
    rows = grad.reshape(-1, grad.shape[-1])  # [N, E]
    ids = ids.reshape(-1)  # [N]
    order = np.argsort(ids, kind="stable")  # rows of equal ids, in their original order
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.diff(sorted_ids, prepend=-1))  # [K]: each id's first, in order
    counts = np.diff(starts, append=len(ids))  # [K]
    if padding_idx is not None:
        kept = sorted_ids[starts] != padding_idx
        starts, counts = starts[kept], counts[kept]
    values = np.take(rows, order[starts], axis=0)  # [K, E]: first occurrences
    few = np.flatnonzero(counts <= RANK_LOOP_MAX)  # [k]: positions in values
    for k in range(1, int(counts[few].max(initial=1))):
        few = few[counts[few] > k]  # ids seen more than k times: add their (k+1)-th row
        values[few] += rows[order[starts[few] + k]]
    for i in np.flatnonzero(counts > RANK_LOOP_MAX):
        values[i] = rows[order[starts[i]: starts[i] + counts[i]]].sum(axis=0)
    return SparseRows(sorted_ids[starts], values, num_embeddings)


_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()


def worker_pool(workers: int) -> ThreadPoolExecutor:
    """One process-wide pool with at least `workers` threads, made on first use, grown when asked."""
    global _pool, _pool_size
    with _pool_lock:
        # replaced, never shut down: another thread may be submitting to it right now; its
        # idle workers exit once no one holds it (ThreadPoolExecutor's weakref)
        if _pool is None or _pool_size < workers:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bertemb")
            _pool_size = workers
        return _pool


def parallel_blocks(run: Callable[[int, int], None], n: int, num_threads: int,
                    block_rows: int) -> None:
    """Call run(start, stop) on contiguous runs of whole blocks covering range(n), on up to
    num_threads threads.

    The calling thread takes the first run itself; the others go to the pool. Each thread gets
    at least one whole block: handing over a run costs tens of microseconds, a block hundreds.
    """
    threads = max(1, min(num_threads, n // block_rows))
    if threads == 1:
        run(0, n)
        return
    blocks = -(-n // block_rows)
    edges = [min(n, (blocks * i // threads) * block_rows) for i in range(threads + 1)]
    pool = worker_pool(threads - 1)
    futures = [pool.submit(run, edges[i], edges[i + 1]) for i in range(1, threads)]
    try:
        run(edges[0], edges[1])
    finally:
        for future in futures:
            future.result()

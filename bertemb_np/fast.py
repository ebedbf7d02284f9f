"""The hot paths: forward and LayerNorm backward in cache-sized blocks on threads; a fast scatter-add.

It computes the same math as the readable version in `functional.py` (see
`BertEmbeddings.reference`), and the tests hold the two within 2e-6 in float32 and 1e-12 in
float64. What changes is only how the work is laid out, because the layer is memory-bound:

1. Position and token-type rows are folded ahead of time into one table (AddedRows),
   table[type * P + position] = token_type[type] + position[position]   # [T * P, H]
   so the sum is one gather-add instead of two (or none, for a family with neither).
   When every sequence has the same table ids and they run first, first + 1, ... (default
   positions, one token type), a block adds slices of the table instead (sequence_runs).
2. Rows are processed in blocks of BLOCK_ROWS (256 rows x 768 floats x 4 bytes = 768 KiB,
   which stays in a core's L2 cache) written straight into the output with `out=` ufuncs:
   no full-size temporary is ever made, only one [block, H] scratch buffer per thread.
3. Each thread takes a contiguous run of whole blocks. NumPy releases the GIL inside its
   loops, so the threads really run in parallel.

Every row is normalized on its own, by the same sequence of operations whatever block or thread
it falls in, so the result is bitwise identical for any thread count or block size.
"""

from __future__ import annotations

import os
import threading
from bisect import bisect_left, bisect_right
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import functional

__all__ = ["BLOCK_ROWS", "MIN_RUN", "AddedRows", "default_num_threads", "embed_layer_norm",
           "embedding_backward", "layer_norm_backward"]

BLOCK_ROWS = 256  # rows per block: small enough for L2, large enough to amortize NumPy's call overhead
# A run of table ids at least this long can be added as a slice of the table: a slice-add of
# 256 rows takes half the time of their gather + add, but each slice costs a NumPy call (~1 us).
MIN_RUN = 32
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


def embed_layer_norm(word_weight: np.ndarray, input_ids: np.ndarray | None,
                     inputs_embeds: np.ndarray | None, table: np.ndarray | None,
                     table_ids: np.ndarray | None, ln_weight: np.ndarray, ln_bias: np.ndarray | None,
                     eps: float, num_threads: int, block_rows: int = BLOCK_ROWS,
                     projection: np.ndarray | None = None, min_run: int | None = MIN_RUN) -> np.ndarray:
    """LayerNorm(word[input_ids] + table[table_ids]) for N rows: -> [N, H].

    input_ids [N] (already checked to be in range) or inputs_embeds [N, E] gives the first term;
    table_ids (AddedRows.ids) picks the folded position + token-type row of each: [L], the same
    in each of the N / L sequences, or [B, L] (no table: no second term).
    projection [H, E] (DeBERTa's embed_proj) maps each summed row from E to H before the norm.
    With [L] table_ids, in calls of BLOCK_ROWS rows or more, a block covered by runs of at
    least min_run ids adds them as slices of the table: the same rows in the same order, so
    bitwise the same result. min_run=None gathers every row.
    """
    n, e = len(input_ids) if inputs_embeds is None else len(inputs_embeds), word_weight.shape[1]
    h = e if projection is None else projection.shape[0]
    dtype = word_weight.dtype
    out = np.empty((n, h), dtype=dtype)  # [N, H], the only full-size array
    runs = None  # (starts, stops) in [N] of the runs to slice; None: gather every block
    if table is not None:
        # Runs are looked for only in ids shared by all sequences: scanning B rows, each with
        # its padding, costs more than slicing saves; so does any scan below BLOCK_ROWS rows.
        if table_ids.ndim == 1 and min_run is not None and n >= BLOCK_ROWS:
            runs = sequence_runs(table_ids, n // len(table_ids), min_run)
        table_ids = flat_ids(table_ids, n)  # [N]

    def run(start: int, stop: int) -> None:
        rows = min(block_rows, stop - start)
        extra = np.empty((rows, e), dtype=dtype)  # [block, E], reused: the added rows
        summed = None if projection is None else np.empty((rows, e), dtype=dtype)  # before the norm
        for lo in range(start, stop, block_rows):
            hi = min(lo + block_rows, stop)
            block = out[lo:hi]  # [b, H] view
            x = block if projection is None else summed[: hi - lo]  # [b, E]
            if inputs_embeds is None:
                # mode="clip" skips NumPy's buffered bounds check; the ids were checked before.
                np.take(word_weight, input_ids[lo:hi], axis=0, out=x, mode="clip")  # x = word[ids]
            else:
                np.copyto(x, inputs_embeds[lo:hi])  # x = inputs_embeds
            pieces = None if runs is None else block_runs(lo, hi, *runs)
            if pieces is not None:  # x += token_type + position, as slices of the table
                for a, b in pieces:
                    part, first = x[a - lo:b - lo], table_ids[a]  # [b - a, E], its first row
                    np.add(part, table[first:first + b - a], out=part)
            elif table is not None:  # x += token_type + position, gathered row by row
                np.take(table, table_ids[lo:hi], axis=0, out=extra[: hi - lo], mode="clip")
                np.add(x, extra[: hi - lo], out=x)
            if projection is not None:
                np.matmul(x, projection.T, out=block)  # [b, E] @ [E, H] -> [b, H]
            normalize_rows(block, ln_weight, ln_bias, eps)

    parallel_blocks(run, n, num_threads, block_rows)
    return out


CANCELLATION = 4.0  # rows whose |mean| exceeds this many sigmas are centred again (see below)


def standardize_rows(x: np.ndarray, eps: float, out: np.ndarray) -> np.ndarray:
    """out = x_hat = (x - mean(x)) / sigma for each row of the block x [b, H] (out may be x);
    returns sigma = sqrt(var(x) + eps) [b], with the biased variance.

    Where a row's mean is large against its spread (a constant row, 1e4 +- 1e-3), the rounding
    error of the mean (about 1e-7 of it) shifts every centred value alike and is no longer small
    against sigma. functional.standardize avoids it by shifting each row by its first value,
    which costs a pass over the block; here only the rows whose |mean| exceeds CANCELLATION
    sigmas (never an ordinary row) are centred again by their centred mean: a constant row then
    gives x_hat = 0 exactly, as PyTorch does. Rows whose sum of squares overflows get their
    variance in float64, not an infinite sigma.
    """
    h = x.dtype.type(x.shape[1])
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is caught below
        mean = np.einsum("ij->i", x)  # [b]: row sums (einsum sums each row the same way in any block)
        mean /= h  # a division: exact where the sum is H times a float (a constant row's)
        textbook = None
        if not np.isfinite(mean.sum()):  # a sum overflowed (or a row holds inf, nan): those rows
            overflowed = ~np.isfinite(mean)  # are done the textbook way, before out overwrites x
            textbook = overflowed, functional.standardize(x[overflowed], eps)
            mean[overflowed] = 0
        np.subtract(x, mean[:, None], out=out)  # centre
        sigma = np.einsum("ij,ij->i", out, out)  # [b]: sum of squares of the centred row
    sigma /= h  # biased variance
    sigma += x.dtype.type(eps)
    np.sqrt(sigma, out=sigma)
    np.abs(mean, out=mean)
    mean /= sigma  # [b]: |mean| in sigmas
    if not mean.max() <= CANCELLATION:  # (nan too) a rare row: centre it again
        again = np.flatnonzero(~(mean <= CANCELLATION))
        rows = out[again]  # [k, H]
        rows -= (np.einsum("ij->i", rows) / h)[:, None]  # minus the centred row's own mean
        out[again] = rows
        sigma[again] = np.sqrt(np.einsum("ij,ij->i", rows, rows) / h + x.dtype.type(eps))
    if sigma.max() == np.inf and x.dtype != np.float64:
        overflow = np.isinf(sigma)
        centred = out[overflow].astype(np.float64)  # [k, H], finite: only the squares overflowed
        sigma[overflow] = np.sqrt(np.einsum("ij,ij->i", centred, centred) / x.shape[1] + eps)  # [k]
    np.divide(out, sigma[:, None], out=out)
    if textbook is not None:
        rows, (x_hat, row_sigma) = textbook
        out[rows], sigma[rows] = x_hat, row_sigma[:, 0]
    return sigma


def normalize_rows(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, eps: float) -> None:
    """LayerNorm of each row of the block x [b, H], in place; the same math as functional.layer_norm."""
    standardize_rows(x, eps, out=x)
    np.multiply(x, weight, out=x)
    if bias is not None:
        np.add(x, bias, out=x)


def layer_norm_backward(grad: np.ndarray, x: np.ndarray, weight: np.ndarray, eps: float,
                        num_threads: int, block_rows: int = BLOCK_ROWS
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """functional.layer_norm_backward for [N, H] rows, blocked and in place like the forward pass.

    The textbook version makes a dozen full-size temporaries; here each block of rows is worked
    on in two [block, H] scratch buffers, and the weight and bias gradients are summed per block,
    then over the blocks in order (so the result does not depend on the thread count).
    """
    n, h = x.shape
    grad_x = np.empty_like(x)  # [N, H]
    blocks = -(-n // block_rows)
    partial = np.zeros((2, blocks, h), dtype=x.dtype)  # per block: sums of dy * x_hat and of dy
    inv_h = x.dtype.type(1.0 / h)

    def run(start: int, stop: int) -> None:
        x_hat = np.empty((min(block_rows, stop - start), h), dtype=x.dtype)  # [b, H] scratch
        g = np.empty_like(x_hat)
        for lo in range(start, stop, block_rows):
            hi = min(lo + block_rows, stop)
            xh, gb, dy, dx = x_hat[: hi - lo], g[: hi - lo], grad[lo:hi], grad_x[lo:hi]
            sigma = standardize_rows(x[lo:hi], eps, out=xh)  # xh = x_hat
            np.add.reduce(dy, axis=0, out=partial[1, lo // block_rows])  # dbias, this block
            np.multiply(dy, xh, out=gb)
            np.add.reduce(gb, axis=0, out=partial[0, lo // block_rows])  # dweight, this block
            np.multiply(dy, weight, out=gb)  # g = dy * weight
            mean_g = np.einsum("ij->i", gb) * inv_h
            mean_gx = np.einsum("ij,ij->i", gb, xh) * inv_h
            # the three terms: g - mean(g) - x_hat * mean(g x_hat)
            np.multiply(xh, mean_gx[:, None], out=dx)
            np.subtract(gb, dx, out=dx)
            np.subtract(dx, mean_g[:, None], out=dx)
            np.divide(dx, sigma[:, None], out=dx)

    parallel_blocks(run, n, num_threads, block_rows)
    return grad_x, partial[0].sum(axis=0), partial[1].sum(axis=0)


SMALL_TABLE = 16  # up to this many rows (token types), the scatter-add is a one-hot matmul


def embedding_backward(grad: np.ndarray, ids: np.ndarray, num_embeddings: int,
                       padding_idx: int | None = None) -> np.ndarray:
    """The scatter-add of functional.embedding_backward, fast: [..., H], [...] -> [V, H].

    np.add.at is slow on rows, and so is np.add.reduceat along axis 0 (scripts/bench.py
    measures them). For a table of a few rows (token types), a one-hot [V, N] matrix times the
    gradient rows does it in one BLAS call. Otherwise the ids are sorted (sorted_scatter_add).
    np.zeros of [V, H] costs nothing until rows are written, so a big vocabulary is cheap when
    few of its rows are used. A non-finite gradient row (inf, nan) would spread through the
    matmul (0 * nan = nan) to rows it never reached: then the sort does it, as PyTorch would.
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
    return sorted_scatter_add(rows, ids, num_embeddings, skip=padding_idx)


RANK_LOOP_MAX = 64  # ids seen at most this often are summed occurrence by occurrence, the rest id by id


def sorted_scatter_add(rows: np.ndarray, ids: np.ndarray, num_embeddings: int,
                       skip: int | None) -> np.ndarray:
    """[V, H] whose row v is the sum of rows[n] over ids[n] == v (row `skip` left zero), by
    sorting the ids.

    After a stable sort, the occurrences of each id sit together. The first occurrence of every
    id is copied in one step; then the k-th occurrences of all ids seen more than k times are
    added, one vectorized step per k. Ids seen more than RANK_LOOP_MAX times (at most N / 64 of
    them) are summed one by one instead, so neither loop runs long.
    """
    if not len(ids):
        return np.zeros((num_embeddings, rows.shape[1]), dtype=rows.dtype)  # an empty batch
    order = np.argsort(ids, kind="stable")  # rows of equal ids, in their original order
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1])))  # each id's 1st
    counts = np.diff(np.append(starts, len(ids)))
    if skip is not None:  # e.g. the padding id, often the most frequent of all: never summed
        kept = sorted_ids[starts] != skip
        starts, counts = starts[kept], counts[kept]
    grad_weight = np.zeros((num_embeddings, rows.shape[1]), dtype=rows.dtype)  # [V, H]
    few = counts <= RANK_LOOP_MAX
    few_starts, few_counts = starts[few], counts[few]
    grad_weight[sorted_ids[few_starts]] = rows[order[few_starts]]  # first occurrences
    for k in range(1, int(few_counts.max(initial=1))):
        alive = few_starts[few_counts > k]  # ids seen more than k times: add their (k+1)-th row
        grad_weight[sorted_ids[alive]] += rows[order[alive + k]]
    for start, count in zip(starts[~few], counts[~few]):
        grad_weight[sorted_ids[start]] = rows[order[start: start + count]].sum(axis=0)
    return grad_weight


_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()


def worker_pool(workers: int) -> ThreadPoolExecutor:
    """One process-wide pool with at least `workers` threads, made on first use, grown when asked."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool_size < workers:  # replaced, never shut down: another thread may be submitting to
            # it right now; its idle workers exit once no one holds it (ThreadPoolExecutor's weakref)
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bertemb")
            _pool_size = workers
        return _pool


def parallel_blocks(run, n: int, num_threads: int, block_rows: int) -> None:
    """Call run(start, stop) on contiguous runs of whole blocks covering range(n), on up to
    num_threads threads.

    The calling thread takes the first run itself; the others go to the pool. Each thread gets
    at least two blocks: for less, handing work over costs more than it saves.
    """
    threads = max(1, min(num_threads, n // (2 * block_rows)))
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

"""The hot paths: the forward pass fused into cache-sized blocks on threads, and a fast scatter-add.

It computes the same math as the readable version in `functional.py` (see
`BertEmbeddings.reference`), and the tests hold the two within 2e-6 in float32 and 1e-12 in
float64. What changes is only how the work is laid out, because the layer is memory-bound:

1. Position and token-type rows are folded ahead of time into one table,
   table[type * P + position] = token_type[type] + position[position]   # [T * P, H]
   so the sum is one gather-add instead of two.
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
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["BLOCK_ROWS", "default_num_threads", "embed_layer_norm", "embedding_backward", "position_type_table"]

BLOCK_ROWS = 256  # rows per block: small enough to stay in L2, large enough to amortize NumPy's call overhead
NUM_THREADS_ENV = "BERTEMB_NUM_THREADS"


def default_num_threads() -> int:
    """BERTEMB_NUM_THREADS if set, else the number of cores this process may run on."""
    value = os.environ.get(NUM_THREADS_ENV)
    if value is None:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{NUM_THREADS_ENV} must be a positive integer, got {value!r}")
    return int(value)


def position_type_table(position_weight: np.ndarray, token_type_weight: np.ndarray) -> np.ndarray:
    """table[t * P + p] = token_type_weight[t] + position_weight[p]: [P, H], [T, H] -> [T * P, H]."""
    return (token_type_weight[:, None, :] + position_weight[None, :, :]).reshape(-1, position_weight.shape[1])


def embed_layer_norm(word_weight: np.ndarray, input_ids: np.ndarray | None, inputs_embeds: np.ndarray | None,
                     table: np.ndarray, table_ids: np.ndarray, ln_weight: np.ndarray, ln_bias: np.ndarray,
                     eps: float, num_threads: int, block_rows: int = BLOCK_ROWS) -> np.ndarray:
    """LayerNorm(word[input_ids] + table[table_ids]) for N rows: -> [N, H].

    input_ids [N] (already checked to be in range) or inputs_embeds [N, H] gives the first term;
    table_ids [N] picks the folded position + token-type row of each.
    """
    n, h = len(table_ids), table.shape[1]
    out = np.empty((n, h), dtype=table.dtype)  # [N, H], the only full-size array

    def run(start: int, stop: int) -> None:
        scratch = np.empty((min(block_rows, stop - start), h), dtype=table.dtype)  # [block, H], reused
        for lo in range(start, stop, block_rows):
            hi = min(lo + block_rows, stop)
            block, extra = out[lo:hi], scratch[: hi - lo]  # [b, H] views
            if inputs_embeds is None:
                # mode="clip" skips NumPy's buffered bounds check; the ids were checked before.
                np.take(word_weight, input_ids[lo:hi], axis=0, out=block, mode="clip")  # x = word[ids]
            else:
                np.copyto(block, inputs_embeds[lo:hi])  # x = inputs_embeds
            np.take(table, table_ids[lo:hi], axis=0, out=extra, mode="clip")
            np.add(block, extra, out=block)  # x += token_type + position
            normalize_rows(block, ln_weight, ln_bias, eps)

    parallel_blocks(run, n, num_threads, block_rows)
    return out


def normalize_rows(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> None:
    """LayerNorm of each row of the block x [b, H], in place; the same math as functional.layer_norm."""
    inv_h = x.dtype.type(1.0 / x.shape[1])
    mean = np.einsum("ij->i", x)  # [b]: row sums (einsum sums each row the same way in any block)
    mean *= inv_h
    np.subtract(x, mean[:, None], out=x)  # centre
    std = np.einsum("ij,ij->i", x, x)  # [b]: sum of squares of the centred row
    std *= inv_h  # biased variance
    std += x.dtype.type(eps)
    np.sqrt(std, out=std)
    np.divide(x, std[:, None], out=x)
    np.multiply(x, weight, out=x)
    np.add(x, bias, out=x)


def embedding_backward(grad: np.ndarray, ids: np.ndarray, num_embeddings: int,
                       padding_idx: int | None = None) -> np.ndarray:
    """The scatter-add of functional.embedding_backward, fast: [..., H], [...] -> [V, H].

    np.add.at is slow on rows, and so is np.add.reduceat along axis 0 (scripts/bench.py
    measures them). Instead: sort the ids, so that equal ids sit together; an id seen once just
    has its gradient row copied (most word ids in a batch); an id seen k > 1 times gets the sum
    of its k rows. np.zeros of [V, H] costs nothing until rows are written, so a big vocabulary
    is cheap when few of its rows are used.
    """
    rows = grad.reshape(-1, grad.shape[-1])  # [N, H]
    ids = ids.reshape(-1)  # [N]
    order = np.argsort(ids, kind="stable")  # rows of equal ids, in their original order
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1])))  # first of each id
    counts = np.diff(np.append(starts, len(ids)))
    grad_weight = np.zeros((num_embeddings, rows.shape[1]), dtype=grad.dtype)  # [V, H]
    once = counts == 1
    grad_weight[sorted_ids[starts[once]]] = rows[order[starts[once]]]
    for start, count in zip(starts[~once], counts[~once]):
        grad_weight[sorted_ids[start]] = rows[order[start: start + count]].sum(axis=0)
    if padding_idx is not None:
        grad_weight[padding_idx] = 0
    return grad_weight


_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()


def worker_pool(workers: int) -> ThreadPoolExecutor:
    """One process-wide pool with at least `workers` threads, made on first use, grown when asked."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool_size < workers:
            if _pool is not None:
                _pool.shutdown(wait=False)  # its queued work still runs; new work goes to the bigger pool
            _pool, _pool_size = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bertemb"), workers
        return _pool


def parallel_blocks(run, n: int, num_threads: int, block_rows: int) -> None:
    """Call run(start, stop) on contiguous runs of whole blocks covering range(n), on up to num_threads threads.

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

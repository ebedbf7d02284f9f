"""The hot path (fast.py) against the readable reference path, across threads and block sizes.

Tolerances: within 2e-6 max abs error in float32 (a few float32 ulps at the outputs' magnitude,
up to ~8 here: the hot path adds token_type + position first) and 1e-12 in float64.
"""

from __future__ import annotations

import numpy as np
import pytest

import bertemb_np as be
from bertemb_np import fast
from conftest import FIXTURES, TINY_MODELS, load_cases, max_abs_error, run_in_threads, split_case

TOLERANCE = {np.float32: 2e-6, np.float64: 1e-12}


def check_paths_agree(emb, kwargs, label):
    error = max_abs_error(emb(**kwargs), emb.reference(**kwargs))
    assert error <= TOLERANCE[emb.dtype.type], (f"{label}: hot path vs reference max abs error "
                                                f"{error:.3g}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", TINY_MODELS)
def test_hot_path_matches_reference_on_tiny_models(name, dtype):
    emb = be.BertEmbeddings.from_pretrained(FIXTURES / name, dtype=dtype)
    assert load_cases(name), f"{name}: no cases"
    for case_name, case in load_cases(name).items():
        check_paths_agree(emb, split_case(case)[0], f"{name}/{case_name}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hot_path_matches_reference_on_minilm(minilm_dir, dtype):
    emb = be.BertEmbeddings.from_pretrained(minilm_dir, dtype=dtype)
    assert load_cases("minilm"), "minilm: no cases"
    for case_name, case in load_cases("minilm").items():
        check_paths_agree(emb, split_case(case)[0], f"minilm/{case_name}")
    rng = np.random.default_rng(0)  # a batch big enough to run on every thread: 16 x 512 rows
    ids = rng.integers(0, 30522, size=(16, 512))
    types = rng.integers(0, 2, size=(16, 512))
    check_paths_agree(emb, {"input_ids": ids, "token_type_ids": types}, "minilm/16x512")


def test_bitwise_identical_for_any_thread_count_or_block_size(minilm_dir):
    emb = be.BertEmbeddings.from_pretrained(minilm_dir)
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 30522, size=(3, 300)).ravel()
    table_ids = (rng.integers(0, 2, size=(3, 300)) * 512 + np.arange(300)).ravel()
    args = (emb.word_embeddings.weight, ids, None, emb.added_rows().table, table_ids,
            emb.LayerNorm.weight, emb.LayerNorm.bias, emb.LayerNorm.eps)
    expected = fast.embed_layer_norm(*args, num_threads=1, block_rows=fast.BLOCK_ROWS)
    for num_threads in (1, 2, 3, 7):
        for block_rows in (1, 3, 64, 100, 256, 1000):
            out = fast.embed_layer_norm(*args, num_threads=num_threads, block_rows=block_rows)
            assert np.array_equal(out, expected), (
                f"{num_threads} threads, blocks of {block_rows}: "
                f"max diff {max_abs_error(out, expected):.3g}")


def test_runs_are_found_in_the_row_that_all_sequences_share():
    ids = np.array([5, 6, 7, 1, 1, 2, 3, 9])  # runs [0, 3), [3, 4), [4, 7), [7, 8)
    assert fast.long_runs(ids, 2) == ([0, 4], [3, 7])
    assert fast.long_runs(ids, 1) == ([0, 3, 4, 7], [3, 4, 7, 8])
    assert fast.sequence_runs(ids, 2, 2) == ([0, 4, 8, 12], [3, 7, 11, 15])  # in [2 * 8]
    added = fast.AddedRows(np.zeros((8, 1)), np.zeros((2, 1)))  # P = 8, T = 2
    assert added.ids(np.arange(4), None, (3, 4)).shape == (4,)  # shared: one row
    assert added.ids(np.arange(4), np.array([[1, 1, 1, 1]]), (3, 4)).tolist() == [8, 9, 10, 11]
    assert added.ids(np.arange(4), np.array([[0], [1], [0]]), (3, 4)).shape == (3, 4)


def table_id_cases(added: fast.AddedRows, rng: np.random.Generator) -> dict[str, tuple]:
    """(B * L, folded table ids [L] or [B, L]) with and without runs, the same in every sequence
    (where runs are sliced) or not; B * L >= BLOCK_ROWS, so that runs are looked for."""
    first_b = rng.integers(1, 300)  # a sentence pair: sentence A before first_b, B from there
    padded = rng.integers(1, 30522, size=(4, 300))
    padded[1::2, 200:] = 0  # right-padded rows: the pad id is 0
    positions = be.functional.position_ids_from_padding
    cases = {
        "default positions": (np.arange(300), None, (3, 300)),  # one run per sequence
        "a sentence pair": (np.arange(300), np.arange(300) >= first_b, (3, 300)),  # two
        "padding": (np.where(np.arange(300) < 250, np.arange(300) + 1, 0), None, (3, 300)),
        "L=1": (np.zeros(1, np.intp), None, (300, 1)),  # no run longer than 1
        "one padded sequence": (positions(padded[1:2], 0), None, (1, 300)),
        "padded rows": (positions(padded, 0), None, (4, 300)),  # not shared: gathered
        "random": (rng.integers(0, 512, (3, 300)), rng.integers(0, 2, (3, 300)), (3, 300)),
    }
    return {case: (B * L, added.ids(*ids, (B, L))) for case, (*ids, (B, L)) in cases.items()}


def test_slicing_runs_is_bitwise_the_gather(minilm_dir):
    emb = be.BertEmbeddings.from_pretrained(minilm_dir)
    added, rng = emb.added_rows(), np.random.default_rng(4)
    for case, (n, table_ids) in table_id_cases(added, rng).items():
        args = (emb.word_embeddings.weight, rng.integers(0, 30522, size=n), None, added.table,
                table_ids, emb.LayerNorm.weight, emb.LayerNorm.bias, emb.LayerNorm.eps)
        gathered = fast.embed_layer_norm(*args, num_threads=1, min_run=None)  # the plain way
        for min_run in (1, 2, fast.MIN_RUN):
            for num_threads, block_rows in ((1, 1), (1, 3), (2, 64), (3, 100), (2, 256), (1, 1000)):
                out = fast.embed_layer_norm(*args, num_threads=num_threads, block_rows=block_rows,
                                            min_run=min_run)
                assert np.array_equal(out, gathered), (
                    f"{case}, runs of {min_run}+, {num_threads} threads, blocks of {block_rows}: "
                    f"max diff {max_abs_error(out, gathered):.3g}")


def test_module_thread_count_does_not_change_the_result(minilm_dir, monkeypatch):
    ids = np.random.default_rng(2).integers(0, 30522, size=(8, 256))
    outs = [be.BertEmbeddings.from_pretrained(minilm_dir, num_threads=n)(ids) for n in (1, 2, 4)]
    monkeypatch.setenv("BERTEMB_NUM_THREADS", "3")
    from_env = be.BertEmbeddings.from_pretrained(minilm_dir)
    assert from_env.num_threads == 3
    outs.append(from_env(ids))
    assert all(np.array_equal(out, outs[0]) for out in outs)


def test_bad_thread_count_in_the_environment(monkeypatch):
    monkeypatch.setenv("BERTEMB_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="BERTEMB_NUM_THREADS must be a positive integer, got 'many'"):
        be.BertEmbeddings.from_pretrained(FIXTURES / "tiny-model-eps5")


def test_concurrent_calls_from_python_threads(minilm_dir):
    emb = be.BertEmbeddings.from_pretrained(minilm_dir, num_threads=2)
    rng = np.random.default_rng(3)
    inputs = [rng.integers(0, 30522, size=(4, 200)) for _ in range(6)]
    expected = [emb.reference(ids) for ids in inputs]
    errors = []

    def work(k):
        for _ in range(5):
            for i in range(len(inputs)):
                j = (i + k) % len(inputs)
                error = max_abs_error(emb(inputs[j]), expected[j])
                if error > TOLERANCE[np.float32]:
                    errors.append((k, j, error))

    run_in_threads(work, 6)
    assert not errors, ("wrong results from concurrent calls (thread, input, max abs error): "
                        f"{errors[:5]}")


def test_replacing_a_weight_remakes_the_folded_table():
    emb = be.BertEmbeddings.from_pretrained(FIXTURES / "tiny-model-eps5")
    ids = np.array([[1, 2, 3]])
    before = emb(ids)
    emb.position_embeddings.weight = emb.position_embeddings.weight * 2
    assert not np.allclose(emb(ids), before)
    check_paths_agree(emb, {"input_ids": ids}, "after replacing position_embeddings.weight")

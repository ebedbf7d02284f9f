"""Training semantics: vjp against PyTorch autograd and finite differences, and dropout.

Tolerances: gradients within 1e-5 of their scale in float32 (max abs error / max(1, max |ref|):
MiniLM's gradients reach ~200, where float32 sums carry ~1e-5 absolute noise on both sides)
and 1e-10 of scale in float64; finite differences within 1e-6 relative.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bertemb_np as be
from bertemb_np import fast, functional
from conftest import (
    FIXTURES,
    TINY_MODELS,
    gradient_references,
    load_cases,
    run_in_threads,
    split_case,
)

SCALED_TOLERANCE = {"float32": 1e-5, "float64": 1e-10}


def scaled_error(ours: np.ndarray, reference: np.ndarray) -> float:
    assert ours.shape == reference.shape, f"shape {ours.shape} != reference {reference.shape}"
    return float(np.abs(ours.astype(np.float64) - reference).max() / max(1.0, np.abs(reference).max()))


def check_gradients(folder, name: str) -> int:
    checked = 0
    for case_name, case in load_cases(name).items():
        kwargs, _ = split_case(case)
        for dtype, references in gradient_references(case).items():
            emb = be.AutoEmbeddings.from_pretrained(folder, dtype=np.dtype(dtype))
            grads = emb.vjp(**kwargs)[1](case["grad_out"])
            assert set(grads) == set(references), f"{name}/{case_name}: {sorted(grads)} != {sorted(references)}"
            for param, reference in references.items():
                error = scaled_error(grads[param], reference)
                assert grads[param].dtype == np.dtype(dtype)
                assert error <= SCALED_TOLERANCE[dtype], (
                    f"{name}/{case_name} {dtype} d{param}: max abs error {error:.3g} of scale "
                    f"{max(1.0, np.abs(reference).max()):.3g} > {SCALED_TOLERANCE[dtype]:g}")
                checked += 1
    return checked


@pytest.mark.parametrize("name", TINY_MODELS)
def test_tiny_model_gradients_match_pytorch_autograd(name):
    assert check_gradients(FIXTURES / name, name) >= 18  # 2 cases x 2 dtypes x 5 gradients, less word in one


def test_minilm_gradients_match_pytorch_autograd(minilm_dir):
    case = load_cases("minilm")["padded_pairs"]
    ids = case["input_ids"]
    assert (ids == 0).any() and len(np.unique(ids)) < ids.size and len(np.unique(case["token_type_ids"])) == 2
    assert check_gradients(minilm_dir, "minilm") >= 18


def test_vjp_against_central_differences():
    """d/dh L(w + h D) at h = 0, for L = sum(out * grad_out) and a random direction D of each input,
    equals <dL/dw, D>: float64, h = 1e-5, so truncation (h^2) and rounding (1e-16 / h) are far below 1e-6."""
    folder = FIXTURES / "tiny-model-eps5"
    emb = be.BertEmbeddings.from_pretrained(folder, dtype=np.float64)
    rng = np.random.default_rng(0)
    ids = np.array([[1, 5, 5, 7, 60, 1], [3, 1, 0, 2, 2, 9]])  # pad id 1 and repeats
    types = np.array([[0, 0, 1, 1, 2, 2], [2, 1, 0, 0, 1, 2]])
    embeds = rng.normal(0, 1, (2, 6, 24))
    grad_out = rng.normal(0, 1, (2, 6, 24))
    h = 1e-5
    weights = {"word_embeddings.weight": emb.word_embeddings.weight,
               "position_embeddings.weight": emb.position_embeddings.weight,
               "token_type_embeddings.weight": emb.token_type_embeddings.weight,
               "LayerNorm.weight": emb.LayerNorm.weight, "LayerNorm.bias": emb.LayerNorm.bias}

    def loss(changed: dict, **inputs) -> float:
        moved = be.BertEmbeddings(emb.config, {**weights, **changed}, dtype=np.float64)
        return float((moved.reference(**inputs) * grad_out).sum())

    for inputs in ({"input_ids": ids, "token_type_ids": types}, {"inputs_embeds": embeds, "token_type_ids": types}):
        grads = emb.vjp(**inputs)[1](grad_out)
        for name, weight in weights.items():
            if name == "word_embeddings.weight" and "inputs_embeds" in inputs:
                continue
            direction = rng.normal(0, 1, weight.shape)
            if name == "word_embeddings.weight":  # the padding row is frozen (padding_idx): no gradient by design
                direction[emb.config.pad_token_id] = 0
            numeric = (loss({name: weight + h * direction}, **inputs)
                       - loss({name: weight - h * direction}, **inputs)) / (2 * h)
            analytic = float((grads[name] * direction).sum())
            assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(analytic)), (name, numeric, analytic)
        if "inputs_embeds" in inputs:
            direction = rng.normal(0, 1, embeds.shape)
            numeric = (loss({}, inputs_embeds=embeds + h * direction, token_type_ids=types)
                       - loss({}, inputs_embeds=embeds - h * direction, token_type_ids=types)) / (2 * h)
            analytic = float((grads["inputs_embeds"] * direction).sum())
            assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(analytic)), ("inputs_embeds", numeric, analytic)


def test_padding_row_gets_no_gradient_and_unused_rows_get_zero():
    emb = be.BertEmbeddings.from_pretrained(FIXTURES / "tiny-model-eps5")  # pad_token_id = 1
    ids = np.array([[1, 1, 4, 4, 4]])
    grads = emb.vjp(ids)[1](np.ones((1, 5, 24), np.float32))
    word = grads["word_embeddings.weight"]
    assert not word[1].any(), "the padding row must get no gradient"
    assert word[4].any() and not np.delete(word, 4, axis=0).any()
    position = grads["position_embeddings.weight"]
    assert position[:5].any(axis=1).all() and not position[5:].any(), "only the positions used"


@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_fast_scatter_add_matches_np_add_at(dtype, tolerance):
    """fast.embedding_backward against the textbook functional.embedding_backward (np.add.at),
    within `tolerance` of scale: they add the same rows in another order."""
    rng = np.random.default_rng(1)
    for rows, n in ((30522, 4096), (512, 4096), (2, 4096), (7, 3)):
        ids = rng.integers(0, rows, size=(n,))
        ids[: n // 4] = ids[0]  # a heavily repeated id
        grad = rng.normal(0, 1, (n, 16)).astype(dtype)
        for padding_idx in (None, int(ids[1])):
            ours = fast.embedding_backward(grad, ids, rows, padding_idx)
            reference = functional.embedding_backward(grad, ids, rows, padding_idx)
            assert ours.dtype == dtype and scaled_error(ours, reference) <= tolerance, (rows, padding_idx)


@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_blocked_layer_norm_backward_matches_the_textbook_one(dtype, tolerance):
    """fast.layer_norm_backward_saved (from the saved forward) against
    functional.layer_norm_backward, within `tolerance` of scale, and bitwise the same for any
    thread count."""
    rng = np.random.default_rng(2)
    x = (rng.normal(0, 1, (1000, 48)) * rng.uniform(0.01, 10, (1000, 1)) + 3).astype(dtype)
    grad = rng.normal(0, 1, (1000, 48)).astype(dtype)
    weight = rng.normal(1, 0.3, 48).astype(dtype)
    reference = functional.layer_norm_backward(grad, x, weight, 1e-5)
    _, saved = fast.layer_norm_rows_saved(x, weight, None, 1e-5, num_threads=2, block_rows=64)
    results = [fast.layer_norm_backward_saved(grad, saved, weight, n, block_rows=64) for n in (1, 2, 3)]
    for ours, expected, name in zip(results[0], reference, ("dx", "dweight", "dbias"), strict=True):
        assert ours.dtype == dtype and scaled_error(ours, expected) <= tolerance, name
    for other in results[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(results[0], other, strict=True))


def test_grad_out_must_have_the_output_shape():
    emb = be.BertEmbeddings.from_pretrained(FIXTURES / "tiny-model-eps5")
    _, vjp = emb.vjp(np.array([[1, 2, 3]]))
    with pytest.raises(ValueError, match=r"grad_out must be a float array of the output's shape \(1, 3, 24\)"):
        vjp(np.ones((1, 3, 23)))


def test_vjp_keeps_no_state_on_the_module_and_is_thread_safe(minilm_dir):
    emb = be.BertEmbeddings.from_pretrained(minilm_dir)
    emb(np.zeros((1, 1), int))  # the hot path folds its position + type table once, on first use
    before = dict(vars(emb))
    rng = np.random.default_rng(2)
    inputs = [rng.integers(0, 30522, size=(2, 40)) for _ in range(4)]
    grad_outs = [rng.normal(0, 1, (2, 40, 384)).astype(np.float32) for _ in range(4)]
    expected = [emb.vjp(ids)[1](g) for ids, g in zip(inputs, grad_outs, strict=True)]
    closures = [emb.vjp(ids)[1] for ids in inputs]  # several alive at once
    assert vars(emb) == before
    failures = []

    def work(k):
        for i in range(len(inputs)):
            j = (i + k) % len(inputs)
            grads = closures[j](grad_outs[j])
            failures.extend((j, name) for name in grads if not np.array_equal(grads[name], expected[j][name]))

    run_in_threads(work, 4)
    assert not failures


# --- dropout -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def minilm(minilm_dir):
    return be.BertEmbeddings.from_pretrained(minilm_dir)


IDS = np.random.default_rng(3).integers(0, 30522, size=(8, 128))


def test_dropout_zero_fraction_is_within_statistical_bounds(minilm):
    """Each of the n = 8 * 128 * 384 outputs is dropped independently with probability p, so the
    dropped fraction has mean p and standard deviation sqrt(p (1 - p) / n) (about 5e-4 here);
    6 standard deviations leave a chance below 2e-9 of failing by bad luck."""
    p = minilm.config.hidden_dropout_prob
    assert p == 0.1
    out = minilm(IDS, training=True, rng=np.random.default_rng(0))
    n = out.size
    assert not (minilm(IDS) == 0).any()  # so every zero below comes from dropout
    fraction = float((out == 0).mean())
    bound = 6 * np.sqrt(p * (1 - p) / n)
    assert abs(fraction - p) <= bound, f"dropped fraction {fraction:.5f}, expected {p} +- {bound:.5f}"


def test_kept_values_are_scaled_by_one_over_one_minus_p(minilm):
    p = minilm.config.hidden_dropout_prob
    out = minilm(IDS, training=True, rng=np.random.default_rng(0))
    kept = out != 0
    expected = minilm(IDS) * np.float32(1 / (1 - p))
    np.testing.assert_array_equal(out[kept], expected[kept])  # exact: the same two float32 products


def test_same_seed_same_mask_and_different_seed_different_mask(minilm):
    a = minilm(IDS, training=True, rng=np.random.default_rng(5))
    b = minilm(IDS, training=True, rng=np.random.default_rng(5))
    c = minilm(IDS, training=True, rng=np.random.default_rng(6))
    assert np.array_equal(a, b) and not np.array_equal(a == 0, c == 0)
    out, _ = minilm.vjp(IDS, training=True, rng=np.random.default_rng(5))
    assert np.array_equal(out == 0, a == 0), "vjp must draw the same mask as the forward pass"
    ref = minilm.reference(IDS, training=True, rng=np.random.default_rng(5))
    assert np.array_equal(ref == 0, a == 0)


def test_inference_never_drops(minilm):
    assert np.array_equal(minilm(IDS, training=False, rng=np.random.default_rng(0)), minilm(IDS))
    assert not (minilm(IDS) == 0).any()


def test_gradient_is_zero_exactly_where_dropped(minilm):
    out, vjp = minilm.vjp(IDS[:2], training=True, rng=np.random.default_rng(1))
    dropped = out == 0
    assert dropped.any()
    grads = vjp(dropped.astype(np.float32))  # a loss that only sees dropped outputs
    assert all(not g.any() for g in grads.values()), "dropped outputs must not pass any gradient back"
    g = np.random.default_rng(2).normal(size=out.shape).astype(np.float32)
    keep = ~dropped
    passed = functional.dropout_backward(g, keep, minilm.config.hidden_dropout_prob)
    assert not passed[dropped].any() and (passed[keep] != 0).all()


def test_rng_must_be_a_generator(minilm):
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        minilm(IDS, training=True, rng=0)


def train_step_losses(*args: str) -> list[float]:
    script = Path(__file__).parent.parent / "scripts" / "train_step.py"
    result = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return [float(line.split("loss")[1]) for line in result.stdout.splitlines() if line.startswith("step")]


def test_train_step_script_lowers_the_loss():
    losses = train_step_losses()
    assert len(losses) == 9
    assert all(b < a for a, b in itertools.pairwise(losses)), f"the loss must fall at every step: {losses}"
    assert losses[-1] < 0.5 * losses[0]


def test_train_step_with_the_sparse_word_gradient_takes_the_same_steps():
    dense, sparse = train_step_losses(), train_step_losses("--sparse")
    assert len(sparse) == 9
    error = max(abs(a - b) / a for a, b in zip(dense, sparse, strict=True))
    assert error <= 1e-6, f"sparse steps' losses {sparse} differ from dense {dense} by {error:.3g}"


# --- the sparse word gradient ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["minilm", "tiny-model-eps5", "tiny-roberta", "tiny-deberta-v3"])
def test_sparse_word_gradient_is_autograds_on_the_rows_used_and_the_dense_one(name, minilm_dir):
    """vjp(..., sparse=True): the used rows' ids (sorted, once each, no padding row) and their
    summed gradients, as torch.nn.Embedding(sparse=True) coalesced: within the autograd
    tolerance of the reference's rows, zero elsewhere in the reference, and bitwise the dense
    gradient's rows."""
    folder = minilm_dir if name == "minilm" else FIXTURES / name
    checked = 0
    for case_name, case in load_cases(name).items():
        kwargs, _ = split_case(case)
        for dtype, references in gradient_references(case).items():
            word = next((p for p in references if p.endswith("embeddings.weight")
                         and "position" not in p and "token_type" not in p), None)
            if word is None:  # inputs_embeds: no word table gradient
                continue
            emb = be.AutoEmbeddings.from_pretrained(folder, dtype=np.dtype(dtype))
            sparse = emb.vjp(**kwargs, sparse=True)[1](case["grad_out"])[word]
            dense = emb.vjp(**kwargs)[1](case["grad_out"])[word]
            reference = references[word]
            used = np.unique(kwargs["input_ids"])
            used = used[used != emb.words.padding_idx] if emb.words.padding_idx is not None else used
            np.testing.assert_array_equal(sparse.indices, used)
            assert sparse.values.dtype == np.dtype(dtype) and sparse.num_embeddings == len(dense)
            np.testing.assert_array_equal(sparse.values, dense[sparse.indices])
            np.testing.assert_array_equal(sparse.dense(), dense)
            unused = np.setdiff1d(np.arange(len(reference)), sparse.indices)
            assert not reference[unused].any(), f"{name}/{case_name}: autograd has unused rows"
            error = scaled_error(sparse.values, reference[sparse.indices])
            assert error <= SCALED_TOLERANCE[dtype], (
                f"{name}/{case_name} {dtype} sparse d{word}: max abs error {error:.3g} of scale > "
                f"{SCALED_TOLERANCE[dtype]:g}")
            checked += 1
    assert checked >= 2, f"{name}: too few sparse gradients compared"


def test_sparse_must_be_a_switch():
    emb = be.AutoEmbeddings.from_pretrained(FIXTURES / "tiny-model-eps5")
    with pytest.raises(TypeError, match="sparse must be True or False"):
        emb.vjp(np.ones((1, 3), int), sparse="yes")

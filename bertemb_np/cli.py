"""The `bertemb` command: embed a text, plot the position embeddings, or explain one input,
for any model of the family (AutoEmbeddings picks the class from config.json).

    bertemb embed "text" --model ID_OR_DIR [--out x.npy]
    bertemb plot --out DIR [--text "..."] [--sinusoid] --model ID_OR_DIR
    bertemb explain "text" [--pair "text B"] [--json] --model ID_OR_DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .modules import AutoEmbeddings, Embeddings
from .tokenizer import Tokenizer

__all__ = ["main", "format_array"]

NOTEBOOK_TEXT = "We lived above the clouds"

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
    parser.add_argument("--whole-file", action="store_true",
                        help="from the Hub, download whole checkpoint files, not only the embedding bytes")
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

    plot = commands.add_parser("plot", parents=[model_options()],
                               help="draw the position embeddings and one sentence's parts as PNG figures")
    plot.add_argument("--out", required=True, help="folder for the PNG files (and figures.npz, their numbers)")
    plot.add_argument("--text", default=NOTEBOOK_TEXT, help=f"sentence for the norms figure ({NOTEBOOK_TEXT!r})")
    plot.add_argument("--dims", type=int, default=4, help="how many dimensions to follow across positions (4)")
    plot.add_argument("--sinusoid", action="store_true", help="overlay the Transformer's sinusoidal encoding")
    plot.set_defaults(run=run_plot)

    explain = commands.add_parser("explain", parents=[model_options()],
                                  help="walk one input through the layer, token by token")
    explain.add_argument("text")
    explain.add_argument("--pair", help="second sentence: its tokens get token type 1")
    explain.add_argument("--json", action="store_true", help="print the same data as JSON")
    explain.set_defaults(run=run_explain)
    return parser


def load(args) -> tuple[Tokenizer, Embeddings]:
    """The layer first, so that a config.json of the wrong kind is reported before the tokenizer."""
    emb = AutoEmbeddings.from_pretrained(args.model, revision=args.revision, partial=not args.whole_file,
                                         dtype=np.dtype(args.dtype))
    return Tokenizer.from_pretrained(args.model, revision=args.revision), emb


def run_embed(args) -> None:
    tok, emb = load(args)
    enc = tok(args.text, args.pair)
    x = emb(**enc)  # [1, L, H]
    print("tokens:", " ".join(tok.convert_ids_to_tokens(enc["input_ids"])))
    print("input_ids:", enc["input_ids"].tolist())
    print(format_array(x))
    print("shape:", x.shape, x.dtype)
    if args.out:
        np.save(args.out, x)
        print("saved to", args.out)


def encode_one(tok: Tokenizer, text: str, pair: str | None) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """(tokens, ids [L], token types [L] or None when the model takes none) of one input;
    an empty sentence is an error."""
    for name, value in (("text", text), ("pair", pair)):
        if value is not None and not value.strip():
            raise ValueError(f"the {name} is empty: give a sentence to embed")
    enc = tok(text, pair)
    types = enc.get("token_type_ids")
    return tok.convert_ids_to_tokens(enc["input_ids"]), enc["input_ids"][0], None if types is None else types[0]


def run_plot(args) -> None:
    from . import plots, study

    tok, emb = load(args)
    tokens, ids, types = encode_one(tok, args.text, None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    norms = study.component_norms(emb, ids, types)
    numbers = {f"norms_{k}": v for k, v in norms.items()}
    figures = []
    if emb.position_embeddings is None:
        print(f"position_similarity.png, position_dimensions.png: skipped, {emb.config.model_type} has no "
              f"position table (position_embedding_type {emb.config.position_embedding_type!r})")
    else:
        position = emb.position_embeddings.weight  # [P, E]
        similarity = study.position_similarity(position)  # [P, P]
        by_offset, band = study.band_width(similarity)
        dims = study.top_variance_dimensions(position, args.dims)
        sinusoid = study.sinusoids_to_compare(*position.shape, args.dims) if args.sinusoid else None
        numbers.update({"similarity": similarity, "similarity_by_offset": by_offset, "band_width": band,
                        "top_dimensions": dims})
        figures += [
            (plots.position_similarity(similarity, band, out / "position_similarity.png"),
             f"the bright band along the diagonal: nearby positions are\n  alike; the mean "
             f"similarity falls below 0.5 at {band} positions apart"),
            (plots.dimensions_across_positions(position, dims, sinusoid, out / "position_dimensions.png"),
             "waves of several wavelengths, learned, not designed;\n  compare their shapes with the sinusoids"),
        ]
    figures.append((plots.component_norms(tokens, norms, out / "component_norms.png"),
                    "how much each term brings to the sum,\n  and the common scale LayerNorm gives it"))
    T = emb.config.type_vocab_size
    if T > 1 and emb.position_embeddings is not None:
        contrast = study.token_type_contrast(emb)
        numbers.update({"type_difference": contrast["difference"], "type_difference_norm": contrast["difference_norm"],
                        "mean_position_norm": contrast["mean_position_norm"]})
        figures.append((plots.token_types(contrast, out / "token_types.png"),
                        f"the B - A difference (norm {contrast['difference_norm']:.3f}) against\n  "
                        f"the mean position norm ({contrast['mean_position_norm']:.3f})"))
    else:
        print(f"token_types.png: skipped, this model has {T if T else 'no'} token type{'s' if T != 1 else ''}"
              + ("" if T < 2 else " but no position table to compare with"))
    np.savez(out / "figures.npz", **numbers)
    for path, caption in figures:
        print(f"{path} ({plots.FIGURE_PIXELS[0]}x{plots.FIGURE_PIXELS[1]}):\n  {caption}")
    print(f"{out / 'figures.npz'}: the numbers behind the figures")


def run_explain(args) -> None:
    from . import study

    tok, emb = load(args)
    tokens, ids, types = encode_one(tok, args.text, args.pair)
    walk = study.walk_through(emb, tokens, ids, types)
    if args.json:
        print(json.dumps(walk, indent=1))
        return

    def cell(value, width: int, spec: str) -> str:  # "-" for a term the family does not have
        return f"{'-' if value is None else format(value, spec):>{width}}"

    print(f"{emb.config.model_type}: the sum is {' + '.join(walk['terms'])}")
    print(f"{'token':<14}{'id':>6}{'pos':>4}{'type':>5}{'|word|':>8}{'|pos|':>7}{'|type|':>7}"
          f"{'mean':>9}{'std':>7}{'|out|':>7}")
    print("-" * 74)
    for r in walk["tokens"]:
        print(f"{r['token'][:13]:<14}{r['id']:>6}{cell(r['position'], 4, 'd')}{cell(r['type'], 5, 'd')}"
              f"{cell(r['word_norm'], 8, '.3f')}{cell(r['position_norm'], 7, '.3f')}"
              f"{cell(r['type_norm'], 7, '.3f')}{r['sum_mean']:>9.4f}{r['sum_std']:>7.4f}{r['output_norm']:>7.2f}")
    print("(pos: position id used; mean, std: of the sum before LayerNorm; |out|: after it)\n")
    for name, shape in walk["shapes"].items():
        print(f"  {name:<28} {shape}")
    print(f"\nemb(ids) vs LayerNorm(the sum) by hand: max |diff| = {walk['max_abs_diff_module_vs_by_hand']:.2g}")
    for r in walk["repeats"]:
        rows = [name for name, differs in (("position", "position" in walk["terms"]),
                                           ("token type", len(set(r["types"])) > 1)) if differs]
        why = (f"but a different {' and '.join(rows)} row, so the outputs differ (cosine down to "
               f"{r['min_output_cosine']:.3f})" if rows else
               "and nothing else differs in this layer: the outputs are identical here\n"
               "(this model adds positions later, in attention)")
        print(f"\n{r['token']!r} (id {r['id']}) is at positions {r['positions']}: the same word row each time,\n"
              f"{why}.")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (OSError, ValueError, TypeError, ImportError) as e:
        print(f"bertemb: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

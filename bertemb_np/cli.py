"""The `bertemb` command: embed a text, plot the position embeddings, or explain one input.

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

from .modules import BertEmbeddings
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


def load(args) -> tuple[Tokenizer, BertEmbeddings]:
    tok = Tokenizer.from_pretrained(args.model, revision=args.revision)
    emb = BertEmbeddings.from_pretrained(args.model, revision=args.revision, partial=not args.whole_file,
                                         dtype=np.dtype(args.dtype))
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


def encode_one(tok: Tokenizer, text: str, pair: str | None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(tokens, ids [L], token types [L]) of one input; an empty sentence is an error."""
    for name, value in (("text", text), ("pair", pair)):
        if value is not None and not value.strip():
            raise ValueError(f"the {name} is empty: give a sentence to embed")
    enc = tok(text, pair)
    return tok.convert_ids_to_tokens(enc["input_ids"]), enc["input_ids"][0], enc["token_type_ids"][0]


def run_plot(args) -> None:
    from . import plots, study

    tok, emb = load(args)
    tokens, ids, types = encode_one(tok, args.text, None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    position = emb.position_embeddings.weight  # [P, H]
    similarity = study.position_similarity(position)  # [P, P]
    by_offset, band = study.band_width(similarity)
    dims = study.top_variance_dimensions(position, args.dims)
    sinusoid = study.sinusoids_to_compare(*position.shape, args.dims) if args.sinusoid else None
    norms = study.component_norms(emb, ids, types)
    numbers = {"similarity": similarity, "similarity_by_offset": by_offset, "band_width": band,
               "top_dimensions": dims, **{f"norms_{k}": v for k, v in norms.items()}}
    figures = [
        (plots.position_similarity(similarity, band, out / "position_similarity.png"),
         f"the bright band along the diagonal: nearby positions are\n  alike; the mean "
         f"similarity falls below 0.5 at {band} positions apart"),
        (plots.dimensions_across_positions(position, dims, sinusoid, out / "position_dimensions.png"),
         "waves of several wavelengths, learned, not designed;\n  compare their shapes with the sinusoids"),
        (plots.component_norms(tokens, norms, out / "component_norms.png"),
         "how much word, position and type each bring to the sum,\n  and the common scale LayerNorm gives it"),
    ]
    if emb.config.type_vocab_size > 1:
        contrast = study.token_type_contrast(emb)
        numbers.update({"type_difference": contrast["difference"], "type_difference_norm": contrast["difference_norm"],
                        "mean_position_norm": contrast["mean_position_norm"]})
        figures.append((plots.token_types(contrast, out / "token_types.png"),
                        f"the B - A difference (norm {contrast['difference_norm']:.3f}) against\n  "
                        f"the mean position norm ({contrast['mean_position_norm']:.3f})"))
    else:
        print("token_types.png: skipped, this model has a single token type")
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
    print(f"{'token':<14}{'id':>6}{'pos':>4}{'type':>5}{'|word|':>8}{'|pos|':>7}{'|type|':>7}"
          f"{'mean':>9}{'std':>7}{'|out|':>7}")
    print("-" * 74)
    for r in walk["tokens"]:
        print(f"{r['token'][:13]:<14}{r['id']:>6}{r['position']:>4}{r['type']:>5}{r['word_norm']:>8.3f}"
              f"{r['position_norm']:>7.3f}{r['type_norm']:>7.3f}{r['sum_mean']:>9.4f}{r['sum_std']:>7.4f}"
              f"{r['output_norm']:>7.2f}")
    print("(mean, std: of word + type + position, before LayerNorm; |out|: norm after)\n")
    for name, shape in walk["shapes"].items():
        print(f"  {name:<28} {shape}")
    print(f"\nemb(ids) vs LayerNorm(word + type + position) by hand: max |diff| = "
          f"{walk['max_abs_diff_module_vs_by_hand']:.2g}")
    for r in walk["repeats"]:
        print(f"\n{r['token']!r} (id {r['id']}) is at positions {r['positions']}: the same word row each time,\n"
              f"but a different position row, so the outputs differ (cosine down to {r['min_output_cosine']:.3f}).")


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

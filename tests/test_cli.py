"""The `bertemb` command and the notebook demo, on the real weights."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

import bertemb_np as be
from bertemb_np.cli import main

ROOT = Path(__file__).parent.parent


def test_embed_prints_and_saves(minilm_dir, tmp_path, capsys):
    out = tmp_path / "x.npy"
    assert main(["embed", "We lived above the clouds", "--model", str(minilm_dir), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "[[101, 2057, 2973, 2682, 1996, 8044, 102]]" in printed
    assert "shape: (1, 7, 384) float32" in printed
    emb = be.BertEmbeddings.from_pretrained(minilm_dir)
    np.testing.assert_array_equal(np.load(out), emb(np.array([[101, 2057, 2973, 2682, 1996, 8044, 102]])))


def test_embed_pair_and_float64(minilm_dir, tmp_path, capsys):
    out = tmp_path / "pair.npy"
    assert main(["embed", "The man went to the store.", "--pair", "He bought milk.", "--model", str(minilm_dir),
                 "--dtype", "float64", "--out", str(out)]) == 0
    tok = be.Tokenizer.from_pretrained(minilm_dir)
    enc = tok("The man went to the store.", "He bought milk.")
    emb = be.BertEmbeddings.from_pretrained(minilm_dir, dtype=np.float64)
    np.testing.assert_array_equal(np.load(out), emb(enc["input_ids"], token_type_ids=enc["token_type_ids"]))


def test_embed_missing_model_is_a_one_line_error(capsys):
    assert main(["embed", "hi", "--model", "./no-such-model"]) == 1
    assert capsys.readouterr().err.strip() == "bertemb: error: model folder ./no-such-model does not exist"


def test_help_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "bertemb_np.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "embed" in result.stdout


def test_demo_replays_the_notebook(minilm_dir):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py"), "--model", str(minilm_dir)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "[[101, 2057, 2973, 2682, 1996, 8044, 102]]" in out
    assert "Embedding(30522, 384, padding_idx=0)" in out
    assert "[CLS] rows identical across the two sentences: True; [SEP] rows identical: True" in out
    max_diff = float(out.split("LayerNorm(word + position + token_type)| = ")[1].split()[0])
    assert max_diff <= 1e-5, f"demo's hand-written LayerNorm differs from emb(ids) by {max_diff}"  # float32 rounding
    assert "LayerNorm((word + token_type) + position): True" in out
    assert out.rstrip().endswith("(1, 7, 384)")

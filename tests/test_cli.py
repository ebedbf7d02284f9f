"""The `bertemb` command and the notebook demo, on the real weights."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import bertemb_np as be
from bertemb_np import cli
from bertemb_np.cli import main
from conftest import FIXTURES
from fake_hub import COMMIT

ROOT = Path(__file__).parent.parent


def test_embed_prints_and_saves(minilm_dir, tmp_path, capsys):
    out = tmp_path / "x.npy"
    assert main(["embed", "We lived above the clouds", "--model", str(minilm_dir),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "[[101, 2057, 2973, 2682, 1996, 8044, 102]]" in printed
    assert "shape: (1, 7, 384) float32" in printed
    emb = be.BertEmbeddings.from_pretrained(minilm_dir)
    ids = np.array([[101, 2057, 2973, 2682, 1996, 8044, 102]])
    np.testing.assert_array_equal(np.load(out), emb(ids))


def test_embed_pair_and_float64(minilm_dir, tmp_path, capsys):
    out = tmp_path / "pair.npy"
    assert main(["embed", "The man went to the store.", "--pair", "He bought milk.",
                 "--model", str(minilm_dir), "--dtype", "float64", "--out", str(out)]) == 0
    tok = be.Tokenizer.from_pretrained(minilm_dir)
    enc = tok("The man went to the store.", "He bought milk.")
    emb = be.BertEmbeddings.from_pretrained(minilm_dir, dtype=np.float64)
    np.testing.assert_array_equal(np.load(out),
                                  emb(enc["input_ids"], token_type_ids=enc["token_type_ids"]))


def test_embed_missing_model_is_a_one_line_error(capsys):
    assert main(["embed", "hi", "--model", "./no-such-model"]) == 1
    assert (capsys.readouterr().err.strip()
            == "bertemb: error: model folder ./no-such-model does not exist")


def test_help_runs_as_a_module():
    result = bertemb("--help")
    assert result.returncode == 0 and "embed" in result.stdout


def test_demo_replays_the_notebook(minilm_dir):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py"),
                             "--model", str(minilm_dir)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "[[101, 2057, 2973, 2682, 1996, 8044, 102]]" in out
    assert "Embedding(30522, 384, padding_idx=0)" in out
    assert "[CLS] rows identical across the two sentences: True; [SEP] rows identical: True" in out
    max_diff = float(out.split("LayerNorm(word + position + token_type)| = ")[1].split()[0])
    # float32 rounding
    assert max_diff <= 1e-5, f"demo's hand-written LayerNorm differs from emb(ids) by {max_diff}"
    assert "LayerNorm((word + token_type) + position): True" in out
    assert out.rstrip().endswith("(1, 7, 384)")


# --- errors a user can cause: one line, never a traceback -------------------------------------

TINY = FIXTURES / "tiny-model-eps5"  # P = 20, E = 24
LONG = " ".join(["the dog"] * 15)  # 32 tokens with [CLS] and [SEP]


def bertemb(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    """`python -m bertemb_np ARGS` in a fresh process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "bertemb_np", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120)


def one_error_line(result) -> str:
    """The one `bertemb: error: ...` line of a run that failed, checked to end its stderr."""
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("bertemb: error: ")]
    assert len(errors) == 1 and result.stderr.rstrip().endswith(errors[0]), result.stderr
    return errors[0]


@pytest.fixture
def closed_port():
    """A port of 127.0.0.1 where nothing listens (bound, not listening): connecting is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def cache_config(hf_home: Path, repo: str, folder: Path) -> None:
    """Put `folder`'s config.json in the HF cache as hf_hub_download leaves it: the load then
    reads it from there and meets the network first when it asks for the checkpoint."""
    snapshot = hf_home / "hub" / f"models--{repo.replace('/', '--')}" / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    shutil.copy(folder / "config.json", snapshot)
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text(COMMIT)


@pytest.mark.parametrize("scheme, cached, offline", [
    ("http", True, None),  # config.json from the cache, then a refused connection: httpx's error
    ("ftp", False, None),  # an HF_ENDPOINT httpx cannot speak
    ("http", False, "1"),  # HF_HUB_OFFLINE and nothing cached
])
def test_hub_errors_are_one_line_that_points_to_a_local_folder(scheme, cached, offline,
                                                                 closed_port, tmp_path, minilm_dir):
    env = {name: value for name, value in os.environ.items()
           if name not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=f"{scheme}://127.0.0.1:{closed_port}", HF_HOME=str(tmp_path / "hf"),
               HF_HUB_ETAG_TIMEOUT="1", HF_HUB_DOWNLOAD_TIMEOUT="1",
               BERTEMB_CACHE=str(tmp_path / "bertemb"))
    if offline:
        env["HF_HUB_OFFLINE"] = offline
    if cached:
        cache_config(tmp_path / "hf", "org/tiny", TINY)
    line = one_error_line(bertemb("embed", "hi", "--model", "org/tiny", env=env, cwd=tmp_path))
    assert "a local model folder" in line, line
    assert f"such as the installed all-MiniLM-L6-v2: --model {minilm_dir}" in line, line


def test_the_way_out_names_minilm_only_when_it_is_installed(monkeypatch, minilm_dir):
    assert cli.installed_minilm() == minilm_dir
    monkeypatch.setattr(cli, "MINILM_PACKAGE", "no_such_package_of_bertemb")
    assert cli.installed_minilm() is None
    way_on = cli.without_the_hub(OSError("not reached"))
    assert "--model DIR" in way_on and "MiniLM" not in way_on


def test_ctrl_c_is_one_line(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "load", interrupted)
    assert main(["embed", "hi", "--model", str(TINY)]) == 130
    assert capsys.readouterr().err == "bertemb: interrupted\n"


def test_a_reader_that_stops_early_is_not_an_error(minilm_dir):
    """`bertemb explain ... --json | head -1`: more output than a pipe holds, its reader gone."""
    proc = subprocess.Popen([sys.executable, "-m", "bertemb_np", "explain", LONG * 20, "--json",
                             "--truncate", "--model", str(minilm_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "{\n"
    proc.stdout.close()
    assert proc.stderr.read() == "" and proc.wait(timeout=60) == 1


def test_embed_refuses_a_folder_as_out_and_prints_the_file_it_writes(tmp_path, capsys):
    folder = tmp_path / "figures"
    folder.mkdir()
    assert main(["embed", "hi", "--model", str(TINY), "--out", str(folder)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"bertemb: error: --out {folder} is a folder: give a file name, such as {folder}/x.npy")
    assert list(tmp_path.iterdir()) == [folder] and not list(folder.iterdir())
    assert main(["embed", "hi", "--model", str(TINY), "--out", str(tmp_path / "x")]) == 0
    assert f"saved to {tmp_path / 'x.npy'}\n" in capsys.readouterr().out  # np.save adds .npy
    assert (tmp_path / "x.npy").is_file()


@pytest.mark.parametrize("dims", ["0", "-2", "two"])
def test_plot_refuses_dims_that_are_not_positive(dims, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["plot", "--out", str(tmp_path), "--model", str(TINY), "--dims", dims])
    assert f"argument --dims: must be a positive integer, got {dims!r}" in capsys.readouterr().err


def test_plot_refuses_more_dims_than_the_position_table_has(tmp_path, capsys):
    assert main(["plot", "--out", str(tmp_path / "out"), "--model", str(TINY), "--dims", "25"]) == 1
    assert capsys.readouterr().err.strip() == (
        "bertemb: error: --dims 25: the position table has 24 dimensions, give 1 to 24")
    assert not (tmp_path / "out").exists()


def test_version_and_python_dash_m():
    result = bertemb("--version")
    assert result.returncode == 0 and result.stdout == f"bertemb {be.__version__}\n"
    assert be.__version__ == importlib.metadata.version("bertemb-np")
    result = bertemb("embed", "hi", "--model", str(TINY))
    assert result.returncode == 0 and "shape: (1, 3, 24) float32" in result.stdout, result.stderr


# --- long texts: one message in every subcommand, and --truncate ------------------------------

@pytest.mark.parametrize("model, limit", [
    ("tiny-model-eps5", 20),  # BERT: P = 20 positions from 0
    ("tiny-roberta", 20),  # RoBERTa: P = 22, positions from pad_token_id + 1 = 2
])
@pytest.mark.parametrize("command", ["embed", "explain", "plot"])
def test_a_long_text_is_one_message_everywhere_and_truncate_cuts_it(command, model, limit,
                                                                     tmp_path, capsys):
    folder = FIXTURES / model
    args = {"embed": ["embed", LONG, "--out", str(tmp_path / "x.npy")],
            "explain": ["explain", LONG, "--json"],
            "plot": ["plot", "--text", LONG, "--out", str(tmp_path)]}[command]
    length = be.Tokenizer.from_pretrained(folder)(LONG, verbose=False)["input_ids"].shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the one line below, not the tokenizer's warning too
        assert main([*args, "--model", str(folder)]) == 1
    assert capsys.readouterr().err == (
        f"bertemb: error: {length} tokens, this model takes at most {limit}: pass --truncate\n")
    assert main([*args, "--model", str(folder), "--truncate"]) == 0
    printed = capsys.readouterr().out
    if command == "embed":
        assert np.load(tmp_path / "x.npy").shape[1] == limit
    elif command == "explain":
        assert len(json.loads(printed)["tokens"]) == limit
    else:
        with np.load(tmp_path / "figures.npz") as numbers:
            assert len(numbers["norms_word"]) == limit


def test_explain_json_refuses_nan_rather_than_printing_invalid_json(tmp_path, capsys):
    from safetensors.numpy import load_file, save_file

    folder = tmp_path / "nan-model"
    shutil.copytree(FIXTURES / "tiny-model-eps5", folder)
    tensors = load_file(folder / "model.safetensors")
    tensors["embeddings.LayerNorm.weight"][:] = np.nan
    save_file(tensors, folder / "model.safetensors")
    assert main(["explain", "we lived", "--model", str(folder), "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "which JSON cannot carry" in captured.err


# --- what is wrong with the arguments is said before any work, in one true line ---------------

@pytest.fixture
def no_work(monkeypatch):
    """Loading the model fails the test: the argument must be refused before it."""
    def load(args):
        raise AssertionError("the model was loaded before the argument was checked")

    monkeypatch.setattr(cli, "load", load)


@pytest.mark.parametrize("command", ["embed", "plot"])
def test_out_in_a_folder_that_does_not_exist_is_refused_before_the_work(command, tmp_path,
                                                                        capsys, no_work):
    out = tmp_path / "missing" / "x.npy"
    args = (["embed", "hi", "--out", str(out)] if command == "embed"
            else ["plot", "--out", str(tmp_path / "file.txt" / "figures")])
    if command == "plot":
        (tmp_path / "file.txt").write_text("")
    assert main([*args, "--model", str(TINY)]) == 1
    expected = (f"--out {out}: the folder {out.parent} does not exist" if command == "embed"
                else f"--out {tmp_path / 'file.txt' / 'figures'}: {tmp_path / 'file.txt'} is a "
                     "file, not a folder")
    assert capsys.readouterr().err == f"bertemb: error: {expected}\n"


def test_plot_out_naming_an_existing_file_is_refused_before_the_work(tmp_path, capsys, no_work):
    out = tmp_path / "figure.png"
    out.write_bytes(b"")
    assert main(["plot", "--out", str(out), "--model", str(TINY)]) == 1
    assert capsys.readouterr().err == (
        f"bertemb: error: --out {out} is a file: plot writes its PNG files (and figures.npz) "
        "into a folder; give a folder's name\n")


@pytest.mark.parametrize("args, name, where", [
    (["embed", "caf\udce9"], "text", 3),  # as Python decodes the bytes b"caf\xe9" of argv
    (["embed", "ok", "--pair", "\udcff\udcfe"], "pair", 0),
    (["explain", "x\udcc3"], "text", 1),
    (["plot", "--out", "figures", "--text", "\udce9t\udce9"], "text", 0),
])
def test_text_that_is_not_utf8_is_one_line_before_the_work(args, name, where, capsys, no_work):
    assert main([*args, "--model", str(TINY)]) == 1
    byte = next(ord(c) - 0xDC00 for c in args[-1] if 0xDC80 <= ord(c) <= 0xDCFF)
    assert capsys.readouterr().err == (
        f"bertemb: error: the {name} is not valid UTF-8: its byte {where} is 0x{byte:02x}\n")


def test_text_that_is_not_utf8_from_a_real_command_line():
    result = subprocess.run([sys.executable, "-m", "bertemb_np", "embed", b"caf\xe9", "--model",
                             str(TINY)], capture_output=True, timeout=120)
    assert result.returncode == 1 and result.stderr == (
        b"bertemb: error: the text is not valid UTF-8: its byte 3 is 0xe9\n"), result.stderr


def test_explain_names_repeats_by_the_position_ids_of_its_table(capsys):
    """RoBERTa's position ids start at pad_token_id + 1 = 2: the summary of repeated tokens gives
    the same ids as the table's pos column, not the tokens' indices."""
    folder = FIXTURES / "tiny-roberta"
    text = "the dog saw the dog"
    assert main(["explain", text, "--model", str(folder), "--json"]) == 0
    walk = json.loads(capsys.readouterr().out)
    assert main(["explain", text, "--model", str(folder)]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert walk["repeats"]
    for repeat in walk["repeats"]:
        ids = [walk["tokens"][i]["position"] for i in repeat["positions"]]
        assert ids != repeat["positions"]  # RoBERTa: they differ, by 2
        assert f"(id {repeat['id']}) is at positions {ids}:" in printed, printed


def test_explain_names_repeats_by_token_index_where_the_family_has_no_position_ids():
    repeat = {"token": "dog", "id": 7, "positions": [2, 5], "types": [0, 0],
              "min_output_cosine": 1.0}
    line = cli.why_repeats_differ(repeat, False, [None] * 6)
    assert line.startswith("'dog' (id 7) is at token indices [2, 5]: the same word row"), line


def test_a_transfer_that_breaks_off_is_resumed_without_chatter(tmp_path):
    """The retry happens (the fake Hub drops the connection once, in the checkpoint's bytes),
    and the command prints its result and nothing on stderr: no retry warnings."""
    from fake_hub import FakeHub
    from test_hub import child_env

    config = (TINY / "config.json").stat().st_size
    with FakeHub({"org/tiny": TINY}, drop_after=config + 1000) as hub:
        result = bertemb("embed", "hi", "--model", "org/tiny", env=child_env(hub, tmp_path),
                         cwd=tmp_path)
        dropped = hub.dropped.is_set()
    assert dropped, "the fake Hub never dropped the connection"
    assert result.returncode == 0 and "shape: (1, 3, 24) float32" in result.stdout, result.stderr
    assert result.stderr == "", result.stderr

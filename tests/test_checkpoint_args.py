"""What a transformers user passes to from_pretrained: local_files_only=True, cache_dir=, a path
to model.safetensors itself, `~` in a path, revision= with a local folder (test_loading.py)."""

from __future__ import annotations

import inspect
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

import bertemb_np as be
from bertemb_np import loading
from conftest import FIXTURES
from fake_hub import COMMIT, FakeHub
from test_hub import child_env
from test_loading import COMMIT_B, make_hub_cache

TINY = FIXTURES / "tiny-model-eps5"
WORD = "embeddings.word_embeddings.weight"
SHAPES = be.BertConfig.from_json_file(TINY / "config.json").weight_shapes()


def stored_word_table(folder: Path = TINY) -> np.ndarray:
    return load_file(folder / "model.safetensors")[WORD]


@pytest.fixture
def no_network(monkeypatch):
    """Any connection attempt fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_checkpoint_takes_the_arguments_of_transformers_from_pretrained():
    parameters = inspect.signature(loading.Checkpoint).parameters
    assert {name: (p.kind, p.default) for name, p in parameters.items()} == {
        "model": (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty),
        **{name: (inspect.Parameter.KEYWORD_ONLY, default) for name, default in (
            ("revision", None), ("partial", True), ("token", None), ("local_files_only", False),
            ("cache_dir", None))}}


@pytest.mark.parametrize("partial", [True, False])
def test_local_files_only_reads_the_given_hf_cache_and_asks_nothing(partial, tmp_path,
                                                                    no_network, monkeypatch):
    monkeypatch.setenv("BERTEMB_CACHE", str(tmp_path / "bertemb"))
    cache = make_hub_cache(tmp_path)  # main -> commit B, whose word table is doubled
    checkpoint = loading.Checkpoint("org/tiny-bert", local_files_only=True, cache_dir=cache,
                                    partial=partial)
    assert checkpoint.commit == COMMIT_B
    weights = checkpoint.tensors(SHAPES)
    np.testing.assert_array_equal(weights["word_embeddings.weight"], 2 * stored_word_table())


def test_from_pretrained_passes_local_files_only_and_cache_dir_on(tmp_path, no_network,
                                                                 monkeypatch):
    monkeypatch.setenv("BERTEMB_CACHE", str(tmp_path / "bertemb"))
    cache = make_hub_cache(tmp_path)  # main -> commit B, whose word table is doubled
    emb = be.AutoEmbeddings.from_pretrained("org/tiny-bert", local_files_only=True, cache_dir=cache)
    np.testing.assert_array_equal(emb.words.weight, 2 * stored_word_table())
    # the tokenizer too: this cache has no tokenizer files, and nothing is asked of the Hub
    with pytest.raises(FileNotFoundError, match=r"tokenizer.json of hub repo 'org/tiny-bert' is "
                                                r"not in the local cache, and local_files_only=True"):
        be.Tokenizer.from_pretrained("org/tiny-bert", local_files_only=True, cache_dir=cache)


def test_local_files_only_without_the_files_in_the_cache_is_a_clear_error(tmp_path, no_network):
    with pytest.raises(FileNotFoundError, match=r"config.json of hub repo 'org/absent' is not in "
                                                r"the local cache, and local_files_only=True"):
        loading.Checkpoint("org/absent", local_files_only=True, cache_dir=tmp_path / "empty")


def test_local_files_only_names_a_checkpoint_missing_from_the_cache(tmp_path, no_network):
    cache = make_hub_cache(tmp_path)
    for file in (cache / "models--org--tiny-bert" / "snapshots").rglob("model.safetensors"):
        file.unlink()
    checkpoint = loading.Checkpoint("org/tiny-bert", local_files_only=True, cache_dir=cache,
                                    partial=False)
    with pytest.raises(FileNotFoundError, match="nor model.safetensors.index.json of hub repo "
                                                "'org/tiny-bert' is in the HF cache, and "
                                                "local_files_only=True"):
        checkpoint.tensors(SHAPES)


def test_local_files_only_with_a_local_folder_reads_it(no_network):
    weights = loading.Checkpoint(TINY, local_files_only=True).tensors(SHAPES)
    np.testing.assert_array_equal(weights["word_embeddings.weight"], stored_word_table())


CACHE_DIR_LOAD = """
import sys
from bertemb_np import loading
checkpoint = loading.Checkpoint("org/tiny", cache_dir=sys.argv[1], partial=sys.argv[2] == "partial")
checkpoint.tensors(checkpoint.config.weight_shapes())
"""


@pytest.mark.parametrize("partial", [True, False])
def test_cache_dir_holds_the_hub_downloads(partial, tmp_path):
    """As in transformers: cache_dir replaces HF_HUB_CACHE for hub downloads. The partial
    download's own cache goes beside it, as it goes beside HF_HOME/hub by default."""
    cache_dir = tmp_path / "mine" / "hf"
    with FakeHub({"org/tiny": TINY}) as hub:
        env = child_env(hub, tmp_path, BERTEMB_CACHE=None)
        how = "partial" if partial else "whole"
        result = subprocess.run([sys.executable, "-c", CACHE_DIR_LOAD, str(cache_dir), how],
                                env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    snapshot = cache_dir / "models--org--tiny" / "snapshots" / COMMIT
    assert (snapshot / "config.json").is_file()
    assert (snapshot / "model.safetensors").is_file() == (not partial)
    partial_entry = tmp_path / "mine" / "bertemb" / "models--org--tiny" / COMMIT
    assert (partial_entry / "model.safetensors").is_file() == partial
    unused = [tmp_path / "hf", tmp_path / "home" / "hub", tmp_path / "home" / "bertemb"]
    assert not [path for path in unused if path.exists()], "the default caches were used"


def test_a_path_to_model_safetensors_loads_its_folder(tmp_path):
    emb = be.AutoEmbeddings.from_pretrained(TINY / "model.safetensors")
    np.testing.assert_array_equal(emb.word_embeddings.weight, stored_word_table())
    tok = be.Tokenizer.from_pretrained(TINY / "model.safetensors")  # the folder's tokenizer
    assert tok("hello")["input_ids"].tolist() == be.Tokenizer.from_pretrained(TINY)(
        "hello")["input_ids"].tolist()


def test_a_path_to_a_safetensors_file_reads_that_file(tmp_path):
    """The file named is the checkpoint, whatever the folder's model.safetensors holds."""
    folder = tmp_path / "two"
    shutil.copytree(TINY, folder)
    tensors = load_file(TINY / "model.safetensors")
    tensors[WORD] = 3 * tensors[WORD]
    from safetensors.numpy import save_file

    save_file(tensors, folder / "tripled.safetensors")
    emb = be.AutoEmbeddings.from_pretrained(str(folder / "tripled.safetensors"))
    np.testing.assert_array_equal(emb.word_embeddings.weight, 3 * stored_word_table())


def test_a_path_to_another_file_says_what_to_give():
    with pytest.raises(ValueError, match=r"tokenizer.json is a file, but not a .safetensors "
                                         r"checkpoint: give the model folder, or its "
                                         r"model.safetensors"):
        be.AutoEmbeddings.from_pretrained(TINY / "tokenizer.json")


def test_a_tilde_is_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    shutil.copytree(TINY, tmp_path / "models" / "tiny")
    for model in ("~/models/tiny", "~/models/tiny/model.safetensors"):
        emb = be.AutoEmbeddings.from_pretrained(model)
        np.testing.assert_array_equal(emb.word_embeddings.weight, stored_word_table())
    assert be.Tokenizer.from_pretrained("~/models/tiny")("hello")["input_ids"].shape == (1, 3)
    with pytest.raises(FileNotFoundError, match="^model folder ~/models/absent does not exist$"):
        be.AutoEmbeddings.from_pretrained("~/models/absent")

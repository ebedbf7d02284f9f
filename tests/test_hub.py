"""The Hub path without the internet: a fake Hub on 127.0.0.1 (fake_hub.py) behind HF_ENDPOINT,
so the real huggingface_hub client code runs; each load runs in a fresh process, as a user's would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import bertemb_np as be
from fake_hub import COMMIT, FakeHub, write_bert_checkpoint
from conftest import FIXTURES

NAMES = ("word_embeddings.weight", "position_embeddings.weight", "token_type_embeddings.weight",
         "LayerNorm.weight", "LayerNorm.bias")


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """bert-base-sized checkpoints (440 MB): one file, and three shards."""
    root = tmp_path_factory.mktemp("checkpoints")
    return {"org/bert-base": write_bert_checkpoint(root / "single"),
            "org/bert-sharded": write_bert_checkpoint(root / "sharded", shards=3)}


@pytest.fixture(scope="module")
def expected(checkpoints) -> dict[str, dict[str, np.ndarray]]:
    """The tensors as read from the local folders."""
    return {repo: be.loading.load_embedding_weights(folder)[1] for repo, folder in checkpoints.items()}


def embedding_bytes(tensors: dict[str, np.ndarray]) -> int:
    return sum(t.nbytes for t in tensors.values())


LOAD = """
import sys, numpy as np, bertemb_np as be
config, tensors = be.loading.load_embedding_weights(sys.argv[1], partial=sys.argv[2] == "partial")
np.savez(sys.argv[3], **tensors)
"""


def load(hub: FakeHub, repo: str, caches: Path, *, partial: bool = True, offline: bool = False,
         wait: bool = True):
    """Load `repo` from `hub` in a new process with its caches under `caches`; the tensors it read."""
    out = caches / f"out-{time.monotonic_ns()}.npz"
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_CACHE": str(caches / "hf"),
           "BERTEMB_CACHE": str(caches / "bertemb"), "HF_HUB_OFFLINE": "1" if offline else "0",
           "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    command = [sys.executable, "-c", LOAD, repo, "partial" if partial else "whole", str(out)]
    if not wait:
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(out) as arrays:
        return {name: arrays[name] for name in arrays.files}, result.stderr


def assert_same(tensors, expected_tensors):
    assert set(tensors) == set(NAMES)
    for name in NAMES:
        np.testing.assert_array_equal(tensors[name], expected_tensors[name], err_msg=name)


def test_partial_load_fetches_only_the_embedding_bytes_and_matches_a_full_download(checkpoints, expected, tmp_path):
    repo = "org/bert-base"
    with FakeHub(checkpoints) as hub:
        partial, _ = load(hub, repo, tmp_path / "a")
        sent = dict(hub.sent)
        whole, _ = load(hub, repo, tmp_path / "b", partial=False)
    emb = embedding_bytes(expected[repo])
    header = 8 + int.from_bytes((checkpoints[repo] / "model.safetensors").read_bytes()[:8], "little")
    metadata = (checkpoints[repo] / "config.json").stat().st_size
    limit = 1.05 * emb + header + metadata + 65536  # the first header request reads 64 KiB
    assert sum(sent.values()) <= limit, f"partial load sent {sum(sent.values())} bytes > {limit:.0f}"
    assert sent[f"{repo}/model.safetensors"] < 0.25 * (checkpoints[repo] / "model.safetensors").stat().st_size
    assert_same(partial, expected[repo])
    assert_same(whole, expected[repo])


def test_second_load_is_offline_and_from_the_cache(checkpoints, expected, tmp_path):
    repo = "org/bert-base"
    with FakeHub(checkpoints) as hub:
        load(hub, repo, tmp_path)
        cached = tmp_path / "bertemb" / "models--org--bert-base" / COMMIT / "model.safetensors"
        assert cached.is_file() and cached.stat().st_size < 1.01 * embedding_bytes(expected[repo])
        before = hub.total_sent
        again, _ = load(hub, repo, tmp_path, offline=True)
        assert hub.total_sent == before, "an offline load must not touch the network"
    assert_same(again, expected[repo])


def test_offline_without_a_cache_is_a_clear_error(checkpoints, tmp_path):
    with FakeHub(checkpoints) as hub:
        proc = load(hub, "org/bert-base", tmp_path, offline=True, wait=False)
        _, stderr = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert b"config.json of hub repo 'org/bert-base' is not in the local cache, and HF_HUB_OFFLINE is set" in stderr


def test_sharded_checkpoint_fetches_only_the_shards_holding_embeddings(checkpoints, expected, tmp_path):
    repo = "org/bert-sharded"
    index = json.loads((checkpoints[repo] / "model.safetensors.index.json").read_text())
    holding = {shard for name, shard in index["weight_map"].items() if ".embeddings." in name}
    assert len(holding) == 2 and len(set(index["weight_map"].values())) == 3
    with FakeHub(checkpoints) as hub:
        tensors, _ = load(hub, repo, tmp_path)
        sent = dict(hub.sent)
    assert_same(tensors, expected[repo])
    for shard in set(index["weight_map"].values()) - holding:
        assert sent.get(f"{repo}/{shard}", 0) == 0, f"{shard} holds no embedding tensor but was read"
    emb = embedding_bytes(expected[repo])
    assert sum(sent.values()) <= 1.05 * emb + 2 * 65536 + 65536, sent


def test_server_that_ignores_range_falls_back_to_the_whole_file(checkpoints, expected, tmp_path):
    repo = "org/bert-base"
    with FakeHub(checkpoints, ignore_range=True) as hub:
        tensors, stderr = load(hub, repo, tmp_path)
        size = (checkpoints[repo] / "model.safetensors").stat().st_size
        assert hub.sent[f"{repo}/model.safetensors"] >= size
    assert "model.safetensors ignored the Range header: downloading the whole checkpoint instead" in stderr
    assert_same(tensors, expected[repo])


def test_a_killed_transfer_leaves_no_cache_entry(checkpoints, expected, tmp_path):
    repo = "org/bert-base"
    half = embedding_bytes(expected[repo]) // 2
    with FakeHub(checkpoints, stall_after=half) as hub:
        proc = load(hub, repo, tmp_path, wait=False)
        assert hub.stalled.wait(120), "the transfer never reached halfway"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    folder = tmp_path / "bertemb" / "models--org--bert-base" / COMMIT
    assert not list(folder.glob("*.safetensors")), "a killed transfer must not leave a cache entry"
    assert list(folder.glob(".*.part")), "the transfer was written to a temporary file"
    with FakeHub(checkpoints) as hub:
        tensors, _ = load(hub, repo, tmp_path)
    assert_same(tensors, expected[repo])


def test_pickle_only_repo_is_refused_with_how_to_convert(tmp_path):
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text((FIXTURES / "tiny-model-eps5" / "config.json").read_text())
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    for model in (folder,):
        with pytest.raises(FileNotFoundError, match="only pytorch_model.bin, which this library never loads") as e:
            be.BertEmbeddings.from_pretrained(model)
        assert "save_pretrained" in str(e.value) and "spaces/safetensors/convert" in str(e.value)
    with FakeHub({"org/pickled": folder}) as hub:
        proc = load(hub, "org/pickled", tmp_path, wait=False)
        _, stderr = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert b"hub repo 'org/pickled' has no model.safetensors, only pytorch_model.bin" in stderr


def test_local_sharded_folder(checkpoints, expected):
    tensors = be.loading.load_embedding_weights(checkpoints["org/bert-sharded"])[1]
    assert_same(tensors, expected["org/bert-sharded"])

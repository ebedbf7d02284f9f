"""The Hub path without the internet: a fake Hub on 127.0.0.1 (fake_hub.py) behind HF_ENDPOINT,
so the real huggingface_hub client code runs; each load runs in a fresh process, as a user's would."""

from __future__ import annotations

import json
import operator
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import bertemb_np as be
from conftest import FIXTURES
from fake_hub import COMMIT, FakeHub, write_bert_checkpoint

NAMES = ("word_embeddings.weight", "position_embeddings.weight", "token_type_embeddings.weight",
         "LayerNorm.weight", "LayerNorm.bias")


def read_weights(model) -> dict[str, np.ndarray]:
    """The five weights of a BertEmbeddings loaded from `model`, by name."""
    emb = be.BertEmbeddings.from_pretrained(model)
    return {name: operator.attrgetter(name)(emb) for name in NAMES}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """bert-base-sized checkpoints (440 MB): one file, and three shards."""
    root = tmp_path_factory.mktemp("checkpoints")
    return {"org/bert-base": write_bert_checkpoint(root / "single"),
            "org/bert-sharded": write_bert_checkpoint(root / "sharded", shards=3)}


@pytest.fixture(scope="module")
def expected(checkpoints) -> dict[str, dict[str, np.ndarray]]:
    """The tensors as read from the local folders."""
    return {repo: read_weights(folder) for repo, folder in checkpoints.items()}


def embedding_bytes(tensors: dict[str, np.ndarray]) -> int:
    return sum(t.nbytes for t in tensors.values())


LOAD = """
import operator, sys, numpy as np, bertemb_np as be
emb = be.BertEmbeddings.from_pretrained(sys.argv[1], partial=sys.argv[2] == "partial")
np.savez(sys.argv[3], **{name: operator.attrgetter(name)(emb) for name in sys.argv[4:]})
"""


def child_env(hub: FakeHub, caches: Path, offline: bool = False,
              **overrides: str | None) -> dict[str, str]:
    """The environment of a load from `hub` with every cache under `caches` (HF_HOME too, so no
    token or cache of the machine's is used); `overrides` add variables, or remove them (None)."""
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HOME": str(caches / "home"),
           "HF_HUB_CACHE": str(caches / "hf"), "BERTEMB_CACHE": str(caches / "bertemb"),
           "HF_HUB_OFFLINE": "1" if offline else "0", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
           "HF_TOKEN": None, **overrides}
    return {name: value for name, value in env.items() if value is not None}


@dataclass
class Child:
    """A load running in its own process."""
    proc: subprocess.Popen
    out: Path

    def result(self) -> tuple[dict[str, np.ndarray], str]:
        """Wait for it; the tensors it read, and its stderr."""
        _, stderr = self.proc.communicate(timeout=300)
        assert self.proc.returncode == 0, stderr[-3000:]
        with np.load(self.out) as arrays:
            return {name: arrays[name] for name in arrays.files}, stderr

    def error(self, timeout: float = 300) -> str:
        """Wait for a load that must fail; its stderr."""
        _, stderr = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode != 0, "the load should have failed"
        return stderr


def start_load(hub: FakeHub, repo: str, caches: Path, *, partial: bool = True,
               offline: bool = False, cwd: Path | None = None, **env: str | None) -> Child:
    """Start loading `repo` from `hub` in a new process, with its caches under `caches`."""
    caches.mkdir(parents=True, exist_ok=True)
    out = caches / f"out-{time.monotonic_ns()}.npz"
    how = "partial" if partial else "whole"
    command = [sys.executable, "-c", LOAD, repo, how, str(out), *NAMES]
    proc = subprocess.Popen(command, env=child_env(hub, caches, offline, **env), cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return Child(proc, out)


def load(hub: FakeHub, repo: str, caches: Path, **kwargs) -> tuple[dict[str, np.ndarray], str]:
    """Load `repo` from `hub` in a new process (start_load); the tensors it read, its stderr."""
    return start_load(hub, repo, caches, **kwargs).result()


def load_error(hub: FakeHub, repo: str, caches: Path, **kwargs) -> str:
    """The stderr of a load that must fail."""
    return start_load(hub, repo, caches, **kwargs).error()


def assert_same(tensors, expected_tensors):
    assert set(tensors) == set(NAMES)
    for name in NAMES:
        np.testing.assert_array_equal(tensors[name], expected_tensors[name], err_msg=name)


def test_partial_load_fetches_only_the_embedding_bytes_and_matches_a_full_download(
        checkpoints, expected, tmp_path):
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
    file_size = (checkpoints[repo] / "model.safetensors").stat().st_size
    assert sent[f"{repo}/model.safetensors"] < 0.25 * file_size
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
        stderr = load_error(hub, "org/bert-base", tmp_path, offline=True)
    assert ("config.json of hub repo 'org/bert-base' is not in the local cache, "
            "and HF_HUB_OFFLINE is set") in stderr


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
    assert ("model.safetensors ignored the Range header: downloading the whole checkpoint "
            "instead") in stderr
    assert_same(tensors, expected[repo])


def test_a_killed_transfer_leaves_no_cache_entry_and_the_next_load_removes_its_temporary_file(
        checkpoints, expected, tmp_path):
    repo = "org/bert-base"
    half = embedding_bytes(expected[repo]) // 2
    with FakeHub(checkpoints, stall_after=half) as hub:
        child = start_load(hub, repo, tmp_path)
        assert hub.stalled.wait(120), "the transfer never reached halfway"
        os.kill(child.proc.pid, signal.SIGKILL)
        child.proc.communicate()
    folder = tmp_path / "bertemb" / "models--org--bert-base" / COMMIT
    assert not list(folder.glob("*.safetensors")), "a killed transfer must not leave a cache entry"
    assert list(folder.glob(".*.part")), "the transfer was written to a temporary file"
    with FakeHub(checkpoints) as hub:
        tensors, _ = load(hub, repo, tmp_path)
    assert_same(tensors, expected[repo])
    assert not list(folder.glob("*.part")), "the next load must remove the killed one's .part file"


def test_pickle_only_repo_is_refused_with_how_to_convert(tmp_path):
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text((FIXTURES / "tiny-model-eps5" / "config.json").read_text())
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    for model in (folder,):
        with pytest.raises(FileNotFoundError,
                           match="only pytorch_model.bin, which this library never loads") as e:
            be.BertEmbeddings.from_pretrained(model)
        assert "save_pretrained" in str(e.value) and "spaces/safetensors/convert" in str(e.value)
    with FakeHub({"org/pickled": folder}) as hub:
        stderr = load_error(hub, "org/pickled", tmp_path)
    assert "hub repo 'org/pickled' has no model.safetensors, only pytorch_model.bin" in stderr


def test_local_sharded_folder(checkpoints, expected):
    assert_same(read_weights(checkpoints["org/bert-sharded"]), expected["org/bert-sharded"])


def test_through_a_redirect_to_a_cdn_the_token_stays_on_the_hub(checkpoints, expected, tmp_path):
    repo = "org/bert-base"
    with FakeHub(checkpoints, cdn=True) as hub:
        tensors, _ = load(hub, repo, tmp_path, HF_TOKEN="hf_secret")
        requests, sent = list(hub.requests), hub.sent[f"{repo}/model.safetensors"]
    assert_same(tensors, expected[repo])
    assert sent < 0.25 * (checkpoints[repo] / "model.safetensors").stat().st_size, "not partial"
    hub_side = [r for r in requests if r.server == "hub"]
    cdn = [r for r in requests if r.server == "cdn"]
    assert any(r.method == "GET" and "range" in r.headers for r in cdn), "no range from the CDN"
    assert any(r.headers.get("authorization") == "Bearer hf_secret" for r in hub_side)
    assert not [r for r in cdn if "authorization" in r.headers], "the token was sent to the CDN"


CALL_WITH_TOKEN = """
import sys
from bertemb_np import hub, sources
repo, commit, token = sys.argv[1:]
sources.resolve_file(repo, "config.json", token=token)
assert sources.exists(repo, "model.safetensors", revision=commit, token=token)
header, data_start = hub.remote_header(repo, commit, "model.safetensors", token=token)
name = "bert.embeddings.LayerNorm.gamma"
hub.fetch_into_cache(repo, commit, "model.safetensors", {name: header[name]}, data_start, token=token)
import bertemb_np as be
be.AutoEmbeddings.from_pretrained(repo, token=token)  # the whole partial load, end to end
"""


def test_token_and_user_agent_reach_the_hub(checkpoints, tmp_path):
    with FakeHub(checkpoints) as hub:
        command = [sys.executable, "-c", CALL_WITH_TOKEN, "org/bert-base", COMMIT, "hf_given"]
        result = subprocess.run(command, env=child_env(hub, tmp_path, HF_TOKEN="hf_from_env"),
                                capture_output=True, text=True, timeout=300)
        requests = [r for r in hub.requests if "/org/bert-base/" in r.path]  # not hf_hub's own
    assert result.returncode == 0, result.stderr[-3000:]
    assert {(r.method, r.path.split("/")[-1]) for r in requests} >= {("GET", "config.json"),
                                                                    ("HEAD", "model.safetensors"),
                                                                    ("GET", "model.safetensors")}
    for r in requests:
        assert r.headers.get("authorization") == "Bearer hf_given", (r.method, r.path)
        assert f"bertemb_np/{be.__version__}" in r.headers.get("user-agent", ""), (r.method, r.path)


def test_default_cache_is_under_hf_home_beside_the_hub_cache(checkpoints, tmp_path):
    from huggingface_hub import scan_cache_dir

    with FakeHub(checkpoints) as hub:
        load(hub, "org/bert-base", tmp_path, HF_HUB_CACHE=None, BERTEMB_CACHE=None)
    home = tmp_path / "home"
    report = scan_cache_dir(home / "hub")
    assert not report.warnings, [str(w) for w in report.warnings]
    assert [repo.repo_id for repo in report.repos] == ["org/bert-base"]
    assert (home / "bertemb" / "models--org--bert-base" / COMMIT / "model.safetensors").is_file()


def test_a_missing_local_folder_is_named_whether_the_hub_answers_or_not(checkpoints, tmp_path):
    (tmp_path / "models").mkdir()  # "models/bert_mlm": a folder that is not there, or a hub id
    with FakeHub(checkpoints) as hub:
        answered = load_error(hub, "models/bert_mlm", tmp_path, cwd=tmp_path)
    with FakeHub(checkpoints, down=True) as hub:
        unreachable = load_error(hub, "models/bert_mlm", tmp_path, cwd=tmp_path)
        attempts = [r for r in hub.requests if "/models/bert_mlm/" in r.path]
    assert len(attempts) == 1, "the Hub was asked again and again for what looks like a path"
    for stderr in (answered, unreachable):
        assert f"; and no local folder models/bert_mlm exists (in {tmp_path})" in stderr
    assert "hub repo 'models/bert_mlm' not found" in answered
    assert ("config.json of hub repo 'models/bert_mlm' is not in the local cache, "
            f"and the Hub ({hub.url}) answered HTTP 503") in unreachable


FAMILY_LOAD = """
import sys, numpy as np, bertemb_np as be
emb = be.AutoEmbeddings.from_pretrained(sys.argv[1])
ids = np.array([[2, 3, 4, 5]])
np.savez(sys.argv[2], out=emb(ids), projected=emb(ids, project=True), kind=type(emb).__name__)
"""


@pytest.mark.parametrize("name", ["tiny-albert", "tiny-deberta-v3", "tiny-roberta"])
def test_a_family_checkpoint_loads_partially_from_the_hub_with_its_projection(name, tmp_path):
    """Another family's real layout through the fake Hub: the prefix found from the remote header,
    ALBERT's projection fetched on first use into its own cache file, then all of it offline."""
    local = be.AutoEmbeddings.from_pretrained(FIXTURES / name)
    ids = np.array([[2, 3, 4, 5]])
    with FakeHub({f"org/{name}": FIXTURES / name}) as hub:
        for offline in (False, True):  # the second load from the bertemb cache alone
            out = tmp_path / f"out-{offline}.npz"
            result = subprocess.run([sys.executable, "-c", FAMILY_LOAD, f"org/{name}", str(out)],
                                    env=child_env(hub, tmp_path, offline), capture_output=True,
                                    text=True, timeout=300)
            assert result.returncode == 0, result.stderr[-3000:]
            with np.load(out) as arrays:
                assert str(arrays["kind"]) == type(local).__name__
                np.testing.assert_array_equal(arrays["out"], local(ids))
                np.testing.assert_array_equal(arrays["projected"], local(ids, project=True))
    cached = sorted(p.name for p in (tmp_path / "bertemb").rglob("*.safetensors"))
    assert cached == (["model.safetensors", "projection-model.safetensors"] if name == "tiny-albert"
                      else ["model.safetensors"])

"""The Hub path when things go wrong: a dropped or stalled transfer, several processes fetching at
once, a damaged cache entry. Fake Hub (fake_hub.py), each load in a fresh process (test_hub.py)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from fake_hub import COMMIT, FakeHub, write_bert_checkpoint
from test_hub import assert_same, embedding_bytes, load, load_error, read_weights, start_load

REPO = "org/bert-small"
STALL_BOUND = 60  # seconds; the retries of a stalled transfer take about 25 s with a 1 s timeout


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> dict[str, Path]:
    """A small checkpoint in bert-base-uncased's layout: hidden size 256, 31 MB of embeddings."""
    return {REPO: write_bert_checkpoint(tmp_path_factory.mktemp("small"), hidden=256, layers=2)}


@pytest.fixture(scope="module")
def expected(checkpoint):
    return read_weights(checkpoint[REPO])


def cache_entry(caches: Path) -> Path:
    return caches / "bertemb" / "models--org--bert-small" / COMMIT / "model.safetensors"


def test_a_dropped_connection_is_resumed_from_the_last_byte(checkpoint, expected, tmp_path):
    emb = embedding_bytes(expected)
    with FakeHub(checkpoint, drop_after=emb // 2) as hub:
        tensors, _ = load(hub, REPO, tmp_path)
        dropped, sent = hub.dropped.is_set(), hub.sent[f"{REPO}/model.safetensors"]
    assert dropped, "the fake Hub never dropped the connection"
    assert_same(tensors, expected)
    assert sent <= 1.01 * emb + 65536, f"sent {sent} bytes: the transfer restarted, not resumed"


def test_a_stalled_transfer_fails_with_one_clear_error_in_bounded_time(checkpoint, expected,
                                                                        tmp_path):
    with FakeHub(checkpoint, stall_after=embedding_bytes(expected) // 2) as hub:
        child = start_load(hub, REPO, tmp_path, HF_HUB_DOWNLOAD_TIMEOUT="1")
        try:
            stderr = child.error(timeout=STALL_BOUND)
        except subprocess.TimeoutExpired:
            child.proc.kill()
            child.proc.communicate()
            pytest.fail(f"a stalled transfer still hung after {STALL_BOUND} s")
    error = stderr.strip().splitlines()[-1]
    assert error.startswith("bertemb_np.hub.TransferFailed: "), error
    assert f"/{REPO}/resolve/{COMMIT}/model.safetensors: bytes " in error, error
    assert "ReadTimeout after 1 s (HF_HUB_DOWNLOAD_TIMEOUT)" in error, error
    assert "gave up after 5 retries" in error, error
    entry = cache_entry(tmp_path)
    assert not entry.exists() and not list(entry.parent.glob("*.part"))


def test_four_processes_at_once_fetch_the_bytes_once(checkpoint, expected, tmp_path):
    emb = embedding_bytes(expected)
    with FakeHub(checkpoint) as hub:
        hub.data_allowed.clear()  # hold the tensors' bytes until all four have read the header
        children = [start_load(hub, REPO, tmp_path) for _ in range(4)]
        give_up = time.monotonic() + 300  # as for any child here: a guard against hanging
        while sum(r.headers.get("range") == "bytes=0-65535" for r in list(hub.requests)) < 4:
            assert all(child.proc.poll() is None for child in children), "a load ended early"
            assert time.monotonic() < give_up, "the four loads never all read the header"
            time.sleep(0.05)
        hub.data_allowed.set()
        results = [child.result()[0] for child in children]
        sent = hub.sent[f"{REPO}/model.safetensors"]
    for tensors in results:
        assert_same(tensors, expected)
    assert sent <= 1.01 * emb + 4 * 65536, f"sent {sent} bytes for {emb} bytes of embeddings"
    assert not list(cache_entry(tmp_path).parent.glob("*.part"))


@pytest.mark.parametrize("damage", ["cut short", "corrupt"])
def test_a_damaged_cache_entry_is_fetched_again_online_and_named_offline(checkpoint, expected,
                                                                         tmp_path, damage):
    entry = cache_entry(tmp_path)

    def spoil() -> None:
        raw = entry.read_bytes()
        entry.write_bytes(raw[: len(raw) // 2] if damage == "cut short" else b"\xff" * 8 + raw[8:])

    with FakeHub(checkpoint) as hub:
        load(hub, REPO, tmp_path)
        whole = entry.read_bytes()
        spoil()
        before = hub.total_sent
        tensors, _ = load(hub, REPO, tmp_path)
        fetched = hub.total_sent - before
    assert_same(tensors, expected)
    assert entry.read_bytes() == whole and fetched >= embedding_bytes(expected)
    spoil()
    error = load_error(hub, REPO, tmp_path, offline=True).strip().splitlines()[-1]
    assert f"{entry} is not a readable safetensors file" in error, error


def test_a_host_that_refuses_the_connection_is_not_asked_again(monkeypatch):
    """Retries are for a transfer that stalls or breaks off; a connection that cannot be made
    (refused, a name that does not resolve) fails at once."""
    from bertemb_np import hub, sources

    httpx = sources.http_library()

    attempts = []

    def refused(*args):
        attempts.append(args)
        raise httpx.ConnectError("[Errno 111] Connection refused")

    monkeypatch.setattr(hub, "request_range", refused)
    monkeypatch.setattr(time, "sleep", lambda seconds: pytest.fail("slept, to retry"))
    with pytest.raises(sources.HubUnreachable, match=r"bytes 0-9: ConnectError: \[Errno 111\] "
                                                     r"Connection refused, after 0 of 10 bytes: "
                                                     r"the host could not be reached"):
        hub.get_range(REPO, COMMIT, "model.safetensors", 0, 10, lambda chunk: None, token=False)
    assert len(attempts) == 1

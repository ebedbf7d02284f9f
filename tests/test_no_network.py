"""A Hub id without a network: one attempt, no retry, one line that says what to do.

Each case runs in a fresh process, as a user's would, with HF_ENDPOINT at a port where nothing
listens (the connection is refused) or at a host name that does not resolve. The child counts
its own connection attempts, name lookups and sleeps (a retry sleeps before trying again), so
the tests count what was done rather than time it; the seconds are reported for the record.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fake_hub import FakeHub, write_bert_checkpoint
from test_hub import child_env

COUNTING = r"""
import json, socket, sys, time
counts = {"connect": 0, "lookup": 0, "sleep": 0}

def counting(name, real):
    def call(*args, **kwargs):
        counts[name] += 1
        return real(*args, **kwargs)
    return call

socket.socket.connect = counting("connect", socket.socket.connect)
socket.getaddrinfo = counting("lookup", socket.getaddrinfo)
time.sleep = counting("sleep", time.sleep)
start = time.monotonic()
error = None
try:
    exec(sys.argv[1])
except Exception as e:
    error = f"{type(e).__name__}: {e}"
counts.update(seconds=round(time.monotonic() - start, 2), error=error)
print(json.dumps(counts))
"""

CALLS = {
    "AutoEmbeddings": "import bertemb_np as be; be.AutoEmbeddings.from_pretrained({model!r})",
    "Tokenizer": "import bertemb_np as be; be.Tokenizer.from_pretrained({model!r})",
    "cli": "from bertemb_np.cli import main; main(['embed', 'hello', '--model', {model!r}])",
}


@pytest.fixture
def closed_port():
    """A port of 127.0.0.1 where nothing listens (bound, not listening): connecting is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def without_network(call: str, model: str, endpoint: str, cwd: Path) -> tuple[dict, str]:
    """Run CALLS[call] for `model` in a fresh process with HF_ENDPOINT=`endpoint` and empty
    caches; its counts (connect, lookup, sleep, seconds, error) and its stderr."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN")}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(cwd / "home"), BERTEMB_CACHE=str(cwd / "be"))
    # huggingface_hub asks the Hub for its list of AI agents once a day, for its user agent:
    # give it one, so that only our own attempts are counted.
    (cwd / "home").mkdir(exist_ok=True)
    (cwd / "home" / ".agent_harnesses.json").write_text('{"standardEnvVars": [], "harnesses": {}}')
    result = subprocess.run([sys.executable, "-c", COUNTING, CALLS[call].format(model=model)],
                            env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1]), result.stderr


def error_of(call: str, counts: dict, stderr: str) -> str:
    """The one error: the exception's, or the CLI's one stderr line (nothing else on stderr)."""
    if call != "cli":
        assert counts["error"], "the load should have failed"
        return counts["error"]
    assert counts["error"] is None, counts["error"]
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bertemb: error: "), stderr
    return lines[0]


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("model", ["bert-base-uncased", "modles/bert_mlm"])  # a hub id; a typo
def test_a_refused_connection_is_tried_once_and_named_with_the_ways_forward(call, model,
                                                                          closed_port, tmp_path):
    endpoint = f"http://127.0.0.1:{closed_port}"
    counts, stderr = without_network(call, model, endpoint, tmp_path)
    error = error_of(call, counts, stderr)
    assert counts["connect"] == 1 and counts["sleep"] == 0, (counts, stderr)  # no retry
    assert f"the Hub ({endpoint}) could not be reached" in error, error
    assert "HF_HUB_OFFLINE=1" in error and "local model folder" in error, error
    assert f"no local folder {model} exists (in {tmp_path})" in error, error
    assert "Retry" not in stderr, stderr
    if call == "cli":  # the ways forward once, with the installed MiniLM as the local folder
        assert error.count("local model folder") == 1 and "such as the installed all-MiniLM" in error


@pytest.mark.parametrize("call", list(CALLS))
def test_a_host_that_does_not_resolve_is_looked_up_once(call, tmp_path):
    endpoint = "http://hub.invalid"  # .invalid never resolves (RFC 2606)
    counts, stderr = without_network(call, "bert-base-uncased", endpoint, tmp_path)
    error = error_of(call, counts, stderr)
    assert counts["lookup"] == 1 and counts["connect"] == 0 and counts["sleep"] == 0, counts
    assert f"the Hub ({endpoint}) could not be reached" in error, error
    assert "HF_HUB_OFFLINE=1" in error and "local model folder" in error, error


def test_with_the_hub_unreachable_a_cached_model_still_loads(tmp_path, closed_port):
    """What hf_hub_download does: the Hub not reached, the cached files are used."""
    folder = write_bert_checkpoint(tmp_path / "small", hidden=64, layers=1)
    with FakeHub({"org/small": folder}) as hub:
        load = "import bertemb_np as be; be.AutoEmbeddings.from_pretrained('org/small')"
        subprocess.run([sys.executable, "-c", load], env=child_env(hub, tmp_path), check=True,
                       timeout=300, capture_output=True)
    env = child_env(hub, tmp_path, HF_ENDPOINT=f"http://127.0.0.1:{closed_port}")
    result = subprocess.run([sys.executable, "-c", COUNTING, load], env=env, capture_output=True,
                            text=True, timeout=300)
    counts = json.loads(result.stdout.splitlines()[-1])
    assert counts["error"] is None and counts["sleep"] == 0, (counts, result.stderr)

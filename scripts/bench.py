"""What a user compares: bertemb_np's embedding layer against PyTorch and ONNX Runtime.

    PYTHONPATH=$PWD python scripts/bench.py    # every case in 5 fresh processes: minutes
    ... scripts/bench.py --quick           # a smoke run: 1 process, 3 rounds (numbers mean little)
    ... scripts/bench.py --markdown        # print the README's speed section
    ... scripts/bench.py --write-readme    # write it into README.md, between the bench.py markers
    ... scripts/bench.py --hub             # also loads from a fake Hub on 127.0.0.1 (slow)
    ... scripts/bench.py --only 32x128     # only the cases whose name contains this

`python` is a venv holding, for the bench only (never the library's dependencies), installed in
this order (on this project's machines: /work/refvenv):
    pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
    pip install transformers==5.24.0 onnx==1.23.2 onnxruntime==1.32.0
with bertemb_np importable (PYTHONPATH=$PWD, or pip install -e . in that venv).

The cases (CASES) are data: a family's checkpoint shapes (FAMILIES) and a batch size.
- forward: ours, `emb(**inputs)`; PyTorch, the family's transformers embeddings module (eval,
  no_grad); ONNX Runtime, its fused com.microsoft.EmbedLayerNormalization in a one-node graph,
  given int32 ids and position ids made before timing (the kernel alone), where the op can
  express the family; the floor, a bare np.take of the word rows into a preallocated output:
  the cost of touching the memory at all. Same random weights; each output checked within
  EQUAL of ours before any timing.
- backward: ours, `emb.vjp(**inputs)` and its backward, against the module's forward and
  autograd's backward, gradients checked first; dense, and with a sparse word gradient
  (`vjp(..., sparse=True)`, beside transformers' module with nn.Embedding(sparse=True)).
- load: `from_pretrained` of a local full-size bert-base (440 MB, written once to BENCH_FOLDER)
  and a first call, page cache warm, beside transformers' BertModel.from_pretrained; and
  `import bertemb_np` after numpy, in a bare interpreter.
Every side runs on THREADS threads. Each case runs in --processes fresh processes (PyTorch's
speed differs from one process to the next), one case after another, round-robin; in each,
interleaved rounds (a load: one per process) give each side's median and their ratio. The
table gives, over the processes, the median of their time / ours (above 1: we are faster) with
its range, and the median ms. A loaded machine slows PyTorch's two OpenMP threads most (a 1x7
call: 0.06 ms quiet, 30 ms with 8 busy processes on 2 cores): the table records the load average.
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import importlib
import inspect
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from importlib import metadata
from pathlib import Path

import numpy as np

import bertemb_np as be

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BENCH_FOLDER = Path(tempfile.gettempdir()) / "bertemb-bench"  # full-size checkpoints, written once
THREADS = 2  # for every side: ours, torch.set_num_threads, ORT's intra_op_num_threads, the floor
EQUAL = 1e-5  # max abs difference of any output from ours: the project's float32 tolerance
GRADIENTS_EQUAL = 1e-5  # of the gradient's scale, as the tests hold vjp against autograd
# In each round, each side runs untimed for this long before its timed call: PyTorch's OpenMP
# threads (and ONNX Runtime's) keep spinning for ~10 ms after each parallel region, and on 2 cores
# they would steal a core from whichever side ran next. A pause does not do: idle or sleeping,
# the VM's cores come back slow. So each side is timed in its own steady state.
SETTLE = 0.015
SIDES = {"ours": "ours", "torch": "PyTorch", "ort": "ONNX Runtime", "floor": "floor"}
MARKERS = {"table": ("<!-- bench.py table: start -->", "<!-- bench.py table: end -->"),
           "hub": ("<!-- bench.py hub: start -->", "<!-- bench.py hub: end -->")}


# --- the cases, as data ---------------------------------------------------------------------

def words(rng: np.random.Generator, config, B: int, L: int) -> dict:
    """Random word ids, [B, L]."""
    return {"input_ids": rng.integers(0, config.vocab_size, size=(B, L))}


def words_and_types(rng: np.random.Generator, config, B: int, L: int) -> dict:
    """Random word ids and token types (both types used), [B, L] each."""
    return {**words(rng, config, B, L),
            "token_type_ids": rng.integers(0, config.type_vocab_size, size=(B, L))}


def padded(rng: np.random.Generator, config, B: int, L: int, mask: bool) -> dict:
    """Ids of real tokens (never the pad id), every other row right-padded to a random length;
    with mask, its attention_mask: [B, L] each."""
    ids = rng.integers(config.pad_token_id + 1, config.vocab_size, size=(B, L))
    lengths = np.where(np.arange(B) % 2, rng.integers(1, L, size=B), L)  # [B]: odd rows padded
    real = np.arange(L) < lengths[:, None]  # [B, L]
    ids[~real] = config.pad_token_id
    return {"input_ids": ids, **({"attention_mask": real.astype(np.int64)} if mask else {})}


@dataclass(frozen=True)
class Family:
    """A checkpoint's shapes, and how its transformers module is called."""

    name: str  # the checkpoint whose shapes these are
    model_type: str
    config: dict  # its config.json fields that differ from transformers' defaults for model_type
    theirs: str  # transformers' embeddings class, under transformers.models
    batch: Callable  # (rng, config, B, L) -> our forward's keyword arguments, [B, L] arrays
    note: str = ""  # what sets its cases apart, for the table's notes
    their_names: dict = field(default_factory=dict)  # our argument -> the name theirs takes


FAMILIES = {f.name: f for f in [
    Family("bert-base", "bert", {}, "bert.modeling_bert.BertEmbeddings", words_and_types),
    Family("roberta-base", "roberta",
           {"vocab_size": 50265, "max_position_embeddings": 514, "type_vocab_size": 1,
            "layer_norm_eps": 1e-5, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2},
           "roberta.modeling_roberta.RobertaEmbeddings", partial(padded, mask=False),
           "positions from the ids, odd rows padded"),
    Family("distilbert-base", "distilbert", {}, "distilbert.modeling_distilbert.Embeddings", words,
           "no token types"),
    Family("deberta-v3-base", "deberta-v2",
           {"vocab_size": 128100, "hidden_size": 768, "type_vocab_size": 0, "layer_norm_eps": 1e-7,
            "position_biased_input": False, "relative_attention": True, "position_buckets": 256,
            "pos_att_type": ["p2c", "c2p"], "norm_rel_ebd": "layer_norm",
            "max_relative_positions": -1},
           "deberta_v2.modeling_deberta_v2.DebertaV2Embeddings", partial(padded, mask=True),
           "word + LayerNorm, output x attention mask", {"attention_mask": "mask"}),
    Family("ModernBERT-base", "modernbert",
           {"vocab_size": 50368, "norm_eps": 1e-5, "norm_bias": False, "pad_token_id": 50283},
           "modernbert.modeling_modernbert.ModernBertEmbeddings", words,
           "word + LayerNorm, no bias"),
]}


@dataclass(frozen=True)
class Case:
    kind: str  # "forward", "backward", "sparse backward", "load" or "import"
    family: str = "bert-base"
    B: int = 0
    L: int = 0

    @property
    def name(self) -> str:
        size = f" {self.B}x{self.L}" if self.B else ""
        return f"{self.kind} {self.family}{size}" if self.kind != "import" else "import"


CASES = [
    *(Case("forward", "bert-base", B, L) for B, L in ((1, 7), (8, 128), (32, 128), (256, 128))),
    *(Case("forward", name, 32, 128) for name in FAMILIES if name != "bert-base"),
    *(Case(kind, "bert-base", B, 128) for kind in ("backward", "sparse backward")
      for B in (32, 256)),
    Case("load"), Case("import"),
]
# issue 15's targets: their time / ours at least this (median over processes), or ours' ms at most
TARGETS = {
    "forward bert-base 1x7": {"torch": 1.2}, "forward bert-base 8x128": {"torch": 1.0},
    "forward bert-base 32x128": {"torch": 1.2, "ort": 0.75},
    "forward bert-base 256x128": {"torch": 2.5, "ort": 0.75},
    **{f"forward {name} 32x128": {"torch": 1.2} for name in FAMILIES if name != "bert-base"},
    "backward bert-base 32x128": {"torch": 1.0}, "backward bert-base 256x128": {"torch": 1.0},
    "load bert-base": {"ours ms": 100}, "import": {"ours ms": 40},
}


# --- timing --------------------------------------------------------------------------------

def interleaved_medians(runners: dict[str, Callable], rounds: int) -> dict[str, float]:
    """The median ms of each runner over interleaved rounds, each settling for SETTLE before
    its timed call."""
    times = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            settle = time.perf_counter() + SETTLE
            while time.perf_counter() < settle:
                run()
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def peak_mb(run: Callable) -> float:
    """The peak MB one call allocates (tracemalloc: NumPy and Python), its result included."""
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def max_error(theirs: np.ndarray, ours: np.ndarray, what: str, tolerance: float = EQUAL,
              scale: bool = False) -> float:
    """max |theirs - ours| (divided by max(1, max |ours|) if scale), checked <= tolerance."""
    error = float(np.abs(theirs - ours).max())
    if scale:
        error /= max(1.0, float(np.abs(ours).max()))
    if not error <= tolerance:
        raise SystemExit(f"{what}: differs from ours by {error:.3g} (tolerance {tolerance:g})")
    return error


# --- the sides -----------------------------------------------------------------------------

def reference_stack():
    """torch and transformers, on THREADS threads, or an exit saying how to install them."""
    try:
        import torch
        import transformers
    except ImportError as e:
        raise SystemExit(f"scripts/bench.py needs torch and transformers ({e}): see its docstring"
                         ) from e
    torch.set_num_threads(THREADS)
    transformers.logging.set_verbosity_error()
    return torch, transformers


def random_weights(config, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = {name: (rng.random(shape, dtype=np.float32) - 0.5) * 0.2
               for name, shape in config.weight_shapes().items()}
    weights[f"{config.spec.norm}.weight"] += 1
    return weights


def both_sides(family: Family):
    """Our module and transformers' (eval mode: no dropout) on the same random weights, both
    made from the config transformers' config class writes for the checkpoint's fields."""
    torch, transformers = reference_stack()
    their_config = transformers.AutoConfig.for_model(family.model_type, **family.config)
    config = be.EmbeddingConfig.from_dict(their_config.to_dict())
    weights = random_weights(config)
    ours = getattr(be, config.spec.class_name)(config, weights, num_threads=THREADS)
    where, name = family.theirs.rsplit(".", 1)
    theirs = getattr(importlib.import_module(f"transformers.models.{where}"), name)(their_config)
    # torch.tensor copies: ours are read-only
    theirs.load_state_dict({k: torch.tensor(v) for k, v in weights.items()})
    return ours, theirs.eval()


# EmbedLayerNormalization's inputs, in its schema's order (onnxruntime's contrib ops,
# onnxruntime.capi.onnxruntime_pybind11_state.get_all_operator_schema()); "" skips an optional one
ORT_INPUTS = ("input_ids", "segment_ids", "word_embedding", "position_embedding",
              "segment_embedding", "gamma", "beta", "mask", "position_ids")


def ort_runner(ours, inputs: dict) -> tuple[Callable | None, str]:
    """ONNX Runtime's fused kernel on our weights and inputs, as a one-node graph, and a note;
    (None, why) where the op cannot express the family."""
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    x = ours.check(**inputs)  # the family's defaults filled in: position and token type ids
    if ours.output_mask(x) is not None:
        return None, "ORT: n/a, the op has no output mask"
    (B, L), H, norm, note = x.shape, ours.config.hidden_size, ours.norm_layer, ""
    zeros = np.zeros((L, H), np.float32)  # the op needs a position table: zero rows add nothing
    position = ours.position_embeddings
    weights = {"word_embedding": ours.words.weight, "gamma": norm.weight,
               "position_embedding": zeros if x.position_ids is None else position.weight,
               "beta": norm.bias if norm.bias is not None else zeros[0]}
    feeds = {"input_ids": x.input_ids}
    if x.position_ids is None:
        note = "ORT: + a zero position table"
    elif not np.array_equal(*np.broadcast_arrays(x.position_ids, np.arange(L))):
        feeds["position_ids"] = x.position_ids  # else the op's default, arange(L)
    if x.token_type_ids is not None:
        weights["segment_embedding"] = ours.token_type_embeddings.weight
        feeds["segment_ids"] = x.token_type_ids
    feeds = {k: np.ascontiguousarray(np.broadcast_to(v, (B, L)), np.int32)
             for k, v in feeds.items()}
    node = helper.make_node("EmbedLayerNormalization",
                            [k if k in feeds or k in weights else "" for k in ORT_INPUTS],
                            ["output"], domain="com.microsoft", epsilon=norm.eps, mask_index_type=0)
    graph = helper.make_graph(
        [node], "embeddings",
        [helper.make_tensor_value_info(k, TensorProto.INT32, [B, L]) for k in feeds],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [B, L, H])],
        initializer=[numpy_helper.from_array(v, k) for k, v in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = THREADS, 1
    # Its pool's threads otherwise spin on after each run, longer than SETTLE: on 2 cores they
    # took a core from whichever side ran next (ModernBERT 32x128: ours 2.9 -> 4.8 ms, PyTorch
    # 2.1 -> 6.8 ms beside it). Measured without spinning, ORT's own time did not grow.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    return lambda: session.run(None, feeds)[0], note


def floor_runner(table: np.ndarray, ids: np.ndarray) -> Callable:
    """A bare np.take of table[ids] into a preallocated output, in THREADS contiguous parts
    (one part below 512 rows, where handing work to a thread costs more than it saves)."""
    n = len(ids)
    out = np.empty((n, table.shape[1]), table.dtype)
    parts = THREADS if n >= 512 else 1
    edges = [n * i // parts for i in range(parts + 1)]
    pool = ThreadPoolExecutor(max_workers=THREADS)

    def take(lo: int, hi: int) -> None:
        np.take(table, ids[lo:hi], axis=0, out=out[lo:hi], mode="clip")  # clip: no bounds copy

    def run() -> np.ndarray:
        futures = [pool.submit(take, edges[i], edges[i + 1]) for i in range(1, parts)]
        take(edges[0], edges[1])
        for future in futures:
            future.result()
        return out

    return run


# --- the measurements: each runs in a fresh worker process and returns a JSON-able dict ----

def measure_forward(case: Case, rounds: int) -> dict:
    torch, _ = reference_stack()
    family = FAMILIES[case.family]
    ours, theirs = both_sides(family)
    inputs = family.batch(np.random.default_rng(1), ours.config, case.B, case.L)
    their_inputs = {family.their_names.get(k, k): torch.from_numpy(v) for k, v in inputs.items()}
    expected = ours(**inputs)

    def run_torch():
        with torch.no_grad():
            return theirs(**their_inputs)

    runners = {"ours": lambda: ours(**inputs), "torch": run_torch}
    errors = {"torch": max_error(run_torch().numpy(), expected, f"{case.name} torch")}
    run_ort, ort_note = ort_runner(ours, inputs)
    if run_ort is not None:
        runners["ort"] = run_ort
        errors["ort"] = max_error(run_ort().reshape(expected.shape), expected, f"{case.name} ORT")
    runners["floor"] = floor_runner(ours.words.weight, inputs["input_ids"].ravel())
    return {"ms": interleaved_medians(runners, rounds), "errors": errors,
            "notes": [n for n in (family.note, ort_note) if n], "peak_mb": peak_mb(runners["ours"])}


def densified(grad, shape: tuple[int, ...]) -> np.ndarray:
    """Our gradient as a dense array of `shape`: a sparse one (.indices, .values) summed into
    zeros, a dense one as it is."""
    if not hasattr(grad, "indices"):
        return np.asarray(grad)
    out = np.zeros(shape, np.float64)
    np.add.at(out, np.asarray(grad.indices).ravel(), np.asarray(grad.values).reshape(-1, shape[-1]))
    return out


def measure_backward(case: Case, rounds: int) -> dict:
    """Forward and backward: ours through vjp, PyTorch's through autograd; for "sparse
    backward", with a sparse word gradient on both sides."""
    torch, _ = reference_stack()
    family = FAMILIES[case.family]
    ours, theirs = both_sides(family)
    rng = np.random.default_rng(3)
    inputs = family.batch(rng, ours.config, case.B, case.L)
    grad_out = rng.normal(0, 1, size=(case.B, case.L, ours.config.hidden_size)).astype(np.float32)
    their_inputs = {family.their_names.get(k, k): torch.from_numpy(v) for k, v in inputs.items()}
    their_grad_out, sparse, notes = torch.from_numpy(grad_out), case.kind == "sparse backward", []
    if sparse:
        getattr(theirs, ours.spec.word).sparse = True  # nn.Embedding(sparse=True)'s flag
        notes.append("PyTorch: nn.Embedding(sparse=True)")
    ours_takes = not sparse or "sparse" in inspect.signature(ours.vjp).parameters
    options = {"sparse": True} if sparse and ours_takes else {}

    def run_ours():
        return ours.vjp(**inputs, **options)[1](grad_out)

    def run_torch():
        theirs.zero_grad(set_to_none=True)
        theirs(**their_inputs).backward(their_grad_out)
        return dict(theirs.named_parameters())

    runners, errors = {}, {}
    if ours_takes:
        runners["ours"] = run_ours
        grads = run_ours()
        for name, p in run_torch().items():
            their_grad = p.grad.to_dense().numpy()  # torch's sparse word gradient too
            errors[name] = max_error(their_grad, densified(grads[name], their_grad.shape),
                                     f"{case.name} d{name}", GRADIENTS_EQUAL, scale=True)
    else:
        notes.append("ours: n/a (no sparse=)")
    runners["torch"] = run_torch
    result = {"ms": interleaved_medians(runners, rounds), "errors": errors, "notes": notes}
    if ours_takes:
        result["peak_mb"] = peak_mb(run_ours)
    return result


def peak_rss() -> int:
    """VmHWM: unlike ru_maxrss, not inherited from the parent across fork + exec."""
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("VmHWM:")).split()[1]) * 1024


def measure_load(case: Case, rounds: int) -> dict:
    """One load per process (the first is what a program pays; `import bertemb_np` is not
    counted, the import case measures it): ours before transformers is imported (it would
    import what ours imports lazily), then BertModel.from_pretrained."""
    folder = BENCH_FOLDER / "bert-base"
    ids = np.array([[101, 2057, 2973, 2682, 1996, 8044, 102]])  # "We lived above the clouds"
    before, start = peak_rss(), time.perf_counter()
    emb = be.BertEmbeddings.from_pretrained(folder, num_threads=THREADS)
    emb(ids)
    ours_ms, grown = (time.perf_counter() - start) * 1e3, peak_rss() - before
    tables = sum(4 * np.prod(shape) for shape in emb.config.weight_shapes().values())  # float32
    torch, transformers = reference_stack()
    start = time.perf_counter()
    model = transformers.BertModel.from_pretrained(folder)
    with torch.no_grad():
        model.embeddings(torch.from_numpy(ids))
    return {"ms": {"ours": ours_ms, "torch": (time.perf_counter() - start) * 1e3},
            "peak_mb": grown / 1e6, "notes": [f"peak RSS growth; tables {tables / 1e6:.0f} MB",
                                              "PyTorch: transformers' BertModel.from_pretrained"]}


MEASURES = {"forward": measure_forward, "backward": measure_backward,
            "sparse backward": measure_backward, "load": measure_load}
# The import case runs in a bare interpreter: a worker's own imports would be counted as done.
# It reads the package's compiled bytecode, as an installed package has it (pip compiles on
# install): run_fresh compiles it first, also where PYTHONDONTWRITEBYTECODE=1 would make every
# import compile the sources again (two thirds of the time, measured here).
IMPORT_PROBE = """
import time
import numpy
start = time.perf_counter()
import bertemb_np
ms = (time.perf_counter() - start) * 1e3
import json
print(json.dumps({"ms": {"ours": ms}}))
"""


def run_fresh(case: Case, rounds: int) -> dict:
    """One fresh process measuring `case`: its JSON result."""
    if case.kind == "import":
        compileall.compile_dir(Path(be.__file__).parent, quiet=1)  # as installed: bytecode
    command = ([sys.executable, "-c", IMPORT_PROBE] if case.kind == "import" else
               [sys.executable, __file__, "--worker", case.name, "--rounds", str(rounds)])
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{case.name}: the worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


# --- the Hub (--hub) -----------------------------------------------------------------------

HUB_PROBE = """
import json, sys, time
import bertemb_np as be
start = time.perf_counter()
be.BertEmbeddings.from_pretrained(sys.argv[1], partial=sys.argv[2] == "partial")
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def bench_hub(processes: int) -> list[dict]:
    """Partial vs whole-file loads from the fake Hub on 127.0.0.1 (the real huggingface_hub
    client), each in a fresh process with empty caches: medians."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fake_hub import FakeHub, write_bert_checkpoint

    rows = []
    for name, hidden, layers in (("bert-base", 768, 12), ("bert-large", 1024, 24)):
        folder = write_bert_checkpoint(BENCH_FOLDER / name, hidden=hidden, layers=layers)
        with FakeHub({f"bench/{name}": folder}) as hub:
            for mode in ("partial", "whole"):
                seconds, sent = [], []
                for _ in range(processes):
                    with tempfile.TemporaryDirectory(prefix="bertemb-bench-cache-") as caches:
                        env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_CACHE": f"{caches}/hf",
                               "BERTEMB_CACHE": f"{caches}/bertemb",
                               "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
                        before = hub.total_sent
                        probe = subprocess.run(
                            [sys.executable, "-c", HUB_PROBE, f"bench/{name}", mode],
                            env=env, check=True, capture_output=True, text=True)
                        seconds.append(json.loads(probe.stdout)["seconds"])
                        sent.append(hub.total_sent - before)
                rows.append({"model": name, "mode": mode,
                             "file_bytes": (folder / "model.safetensors").stat().st_size,
                             "bytes": statistics.median(sent),
                             "ms": statistics.median(seconds) * 1e3})
    return rows


# --- the report ----------------------------------------------------------------------------

def number_cell(x: float | None) -> str:
    """Three significant digits, never in exponent form; "-" for none."""
    if x is None:
        return "-"
    return f"{x:.{max(0, 2 - int(np.floor(np.log10(x))))}f}" if x > 0 else "0"


def summarize(case: Case, results: list[dict]) -> dict:
    """One row of the table from the per-process results of a case: each side's median ms, and
    for each other side the median (min, max) over processes of its ms / ours."""
    row = {"case": case,
           "notes": list(dict.fromkeys(note for r in results for note in r.get("notes", ()))),
           "errors": {k: max(r["errors"][k] for r in results)
                      for k in results[0].get("errors", {})}}
    for side in SIDES:
        times = [r["ms"][side] for r in results if side in r["ms"]]
        row[side] = statistics.median(times) if times else None
        if times and side != "ours" and "ours" in results[0]["ms"]:
            ratios = [r["ms"][side] / r["ms"]["ours"] for r in results]
            row[f"{side}_ratio"] = (statistics.median(ratios), min(ratios), max(ratios))
    peaks = [r["peak_mb"] for r in results if "peak_mb" in r]
    row["peak_mb"] = max(peaks) if peaks else None
    return row


def ratio_cell(row: dict, side: str) -> str:
    """median (min-max); n/a where one side could not run (a note says why); - where none is."""
    if f"{side}_ratio" in row:
        median, low, high = row[f"{side}_ratio"]
        return f"{median:.2f}" + (f" ({low:.2f}-{high:.2f})" if high > low else "")
    could_run = row[side] is not None or (side == "ort" and row["case"].kind == "forward")
    return "n/a" if could_run else "-"


def case_cell(case: Case) -> str:
    if case.kind == "load":
        return "load: `from_pretrained` (local bert-base, 440 MB) + first call"
    if case.kind == "import":
        return "`import bertemb_np` (over numpy)"
    return f"{case.kind}: {case.family} {case.B}x{case.L}"


def markdown_table(rows: list[dict]) -> list[str]:
    lines = ["| case | ours ms | PyTorch ms | PyTorch / ours | ORT ms | ORT / ours | floor ms "
             "| ours' peak MB | notes |", "|---" * 9 + "|"]
    for r in rows:
        cells = [case_cell(r["case"]), number_cell(r["ours"]) if r["ours"] else "n/a",
                 number_cell(r["torch"]), ratio_cell(r, "torch"), number_cell(r["ort"]),
                 ratio_cell(r, "ort"), number_cell(r["floor"]), number_cell(r["peak_mb"]),
                 "; ".join(r["notes"])]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def verdict(rows: list[dict], side: str) -> str:
    """Where we are faster than `side` in every process, where it depends on the process, and
    where we are slower."""
    groups = {"faster in every process": [], "faster or slower, by process": [],
              "slower in every process": []}
    for r in rows:
        if f"{side}_ratio" in r:
            _, low, high = r[f"{side}_ratio"]
            key = ("faster in every process" if low > 1 else "slower in every process" if high < 1
                   else "faster or slower, by process")
            groups[key].append(r["case"].name)
    return "; ".join(f"{key}: {', '.join(names)}" for key, names in groups.items() if names)


def target_lines(rows: list[dict]) -> list[str]:
    """Each of TARGETS against the table: met or not."""
    lines = []
    for r in rows:
        for what, target in TARGETS.get(r["case"].name, {}).items():
            if what == "ours ms":
                value, met = r["ours"], r["ours"] <= target
                text = f"ours {value:.3g} ms, target <= {target} ms"
            else:
                value = r.get(f"{what}_ratio", (None,))[0]
                met = value is not None and value >= target
                text = f"{SIDES[what]} / ours {value and round(value, 2)}, target >= {target}"
            lines.append(f"  {r['case'].name}: {text}: {'met' if met else 'NOT MET'}")
    return lines


def count(n: int, noun: str) -> str:
    return f"{n} {noun}{'es' if n != 1 else ''}"  # process, processes


def today() -> str:
    return f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d}"


def machine_line() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.machine())
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in
                         ("numpy", "torch", "transformers", "onnxruntime"))
    return (f"{os.cpu_count()} cores ({cpu}); Python {platform.python_version()}, {versions}; "
            f"every side on {THREADS} threads")


def table_block(rows: list[dict], args, load_before: float) -> str:
    """The README's generated text: when, where, how loaded the machine was, the table, and
    where ours is faster or slower."""
    quick = " (--quick: a smoke run, not a measurement)" if args.quick else ""

    def paragraph(text: str) -> str:
        return textwrap.fill(text, width=100, break_on_hyphens=False)

    verdicts = [paragraph(f"Against {against}, ours is {verdict(rows, side)}.")
                for side, against in (("torch", "PyTorch"), ("ort", "ONNX Runtime's fused kernel"))
                if verdict(rows, side)]
    return "\n".join([
        paragraph(f"Run of {today()}: `scripts/bench.py` with "
                  f"{count(args.processes, 'fresh process')} per case, {args.rounds} rounds each"
                  f"{quick}. Machine: {machine_line()}; load average {load_before:.1f} before the "
                  f"run, {os.getloadavg()[0]:.1f} after (other work on the machine slows "
                  "PyTorch most)."), "",
        *markdown_table(rows), *(["", "\n\n".join(verdicts)] if verdicts else [])])


def hub_block(hub: list[dict], processes: int) -> str:
    return "\n".join([f"Run of {today()}, medians of {count(processes, 'process')}:", "",
                      "| checkpoint | file MB | load | MB transferred | ms |", "|---" * 5 + "|",
                      *(f"| {r['model']} | {r['file_bytes'] / 1e6:.0f} | {r['mode']} | "
                        f"{r['bytes'] / 1e6:.1f} | {r['ms']:.0f} |" for r in hub)])


def write_readme(blocks: dict[str, str]) -> None:
    """Replace the README's text between each block's markers."""
    text = README.read_text()
    for name, block in blocks.items():
        start, end = MARKERS[name]
        pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), flags=re.S)
        found = pattern.search(text)
        if found is None:
            raise SystemExit(f"README.md has no {start} ... {end} markers")
        text = text[:found.start()] + f"{start}\n{block}\n{end}" + text[found.end():]
    README.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=5, help="fresh processes per case (5)")
    parser.add_argument("--rounds", type=int, default=20,
                        help="interleaved rounds per process (20)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 process, 3 rounds")
    parser.add_argument("--markdown", action="store_true", help="print the README's speed section")
    parser.add_argument("--write-readme", action="store_true", help="write it into README.md")
    parser.add_argument("--hub", action="store_true", help="also loads from a fake Hub (slow)")
    parser.add_argument("--only", default="", help="only the cases whose name contains this")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # run one case here, print its JSON
    args = parser.parse_args()
    if args.write_readme and (args.quick or args.only):
        parser.error("--write-readme needs a full run: not with --quick or --only")
    if args.worker:
        case = next(c for c in CASES if c.name == args.worker)
        print(json.dumps(MEASURES[case.kind](case, args.rounds)))
        return
    if args.quick:
        args.processes, args.rounds = 1, 3
    load_before = os.getloadavg()[0]
    cases = [c for c in CASES if args.only in c.name]
    if any(c.kind == "load" for c in cases):
        sys.path.insert(0, str(ROOT / "tests"))
        from fake_hub import write_bert_checkpoint  # the tests' full-size bert-base checkpoint
        folder = write_bert_checkpoint(BENCH_FOLDER / "bert-base")
        with open(folder / "model.safetensors", "rb") as f:  # the page cache warm from the start
            while f.read(1 << 24):
                pass
    results = {case.name: [] for case in cases}
    for process in range(args.processes):  # round-robin: a slow spell hits every case alike
        for case in cases:
            results[case.name].append(run_fresh(case, args.rounds))
            print(f"process {process + 1}/{args.processes}: {case.name}: "
                  f"{json.dumps(results[case.name][-1]['ms'])}", file=sys.stderr)
    rows = [summarize(case, results[case.name]) for case in cases]
    blocks = {"table": table_block(rows, args, load_before)}
    if args.hub:
        blocks["hub"] = hub_block(bench_hub(args.processes), args.processes)
    if args.write_readme:
        write_readme(blocks)
    print("\n\n".join(blocks.values()))
    if not args.markdown:
        print("\nissue 15's targets:", *target_lines(rows), sep="\n")
        print("\nlargest differences from ours (all checked before timing):")
        for r in rows:
            if r["errors"]:
                print(f"  {r['case'].name}: "
                      + ", ".join(f"{k} {v:.2g}" for k, v in r["errors"].items()))


if __name__ == "__main__":
    main()

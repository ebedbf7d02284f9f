"""Benchmarks of bertemb_np against PyTorch (transformers' embedding modules), measured in one run.

    python scripts/bench.py            # needs torch + transformers for the ratios; without, ours alone

Forward pass, for bert-base, roberta-base and deberta-v3-base shapes (MODELS): the same random
weights on both sides, results checked equal (<= 2e-6) before any timing; warm-up, then
interleaved rounds (ours, torch, floor, ours, torch, floor, ...), each side settling for SETTLE
before its timed call; medians. PyTorch runs in eval mode under no_grad with its default
threads. The floor is a bare np.take of the same word rows into a preallocated output, on the
same threads as ours: the cost of touching the memory at all.
Also: peak extra memory per call (tracemalloc); the backward pass (vjp) against PyTorch
autograd and the ways to do its scatter-add in NumPy; load time and peak RSS growth of
from_pretrained on a full-size bert-base checkpoint; bytes and time of partial vs whole-file
loads of bert-base and bert-large sized checkpoints from a fake Hub on 127.0.0.1; the time to
draw the 512x512 position similarity figure; the import time of bertemb_np.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

import bertemb_np as be
from bertemb_np import fast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fake_hub import FakeHub, write_bert_checkpoint  # noqa: E402  (the tests' fake Hub and checkpoints)

try:
    import torch
    from transformers import AutoConfig, BertModel
except ImportError:
    torch = None

BACKWARD_CASES = [(32, 128), (256, 128)]
BERT_BASE = be.BertConfig()  # V=30522, H=768, P=512, T=2, eps=1e-12
EQUAL = 2e-6
BENCH_FOLDER = Path(tempfile.gettempdir()) / "bertemb-bench"  # full-size checkpoints, written once
# In each round, each implementation runs untimed for this long before its timed call:
# PyTorch's OpenMP threads (libgomp) keep spinning for ~10 ms after each parallel region, and on
# 2 cores they would steal a core from whichever run came next. A pause does not do: idle or
# sleeping, the VM's cores come back slow. So each side is timed in its own steady state.
SETTLE = 0.015


def random_batch(rng: np.random.Generator, config: be.EmbeddingConfig, B: int, L: int) -> dict:
    """Random word ids and token types (both types used), [B, L] each."""
    return {"input_ids": rng.integers(0, config.vocab_size, size=(B, L)),
            "token_type_ids": rng.integers(0, config.type_vocab_size, size=(B, L))}


def padded_batch(rng: np.random.Generator, config: be.EmbeddingConfig, B: int, L: int) -> dict:
    """Random ids of real tokens (never the pad id), every other row right-padded to a random
    length, and its attention_mask: [B, L] each."""
    ids = rng.integers(config.pad_token_id + 1, config.vocab_size, size=(B, L))
    lengths = np.where(np.arange(B) % 2, rng.integers(1, L, size=B), L)  # [B]: odd rows padded
    mask = np.arange(L) < lengths[:, None]  # [B, L]
    ids[~mask] = config.pad_token_id
    return {"input_ids": ids, "attention_mask": mask.astype(np.int64)}


def ids_only(batch: Callable) -> Callable:
    """`batch` without its attention_mask, for a forward that takes none (RoBERTa's)."""
    return lambda *args: {"input_ids": batch(*args)["input_ids"]}


@dataclass(frozen=True)
class Model:
    """One checkpoint's shapes, as the forward benchmark runs them on both sides."""

    name: str  # the checkpoint whose shapes these are
    config: be.EmbeddingConfig  # ours; transformers' is made from it (their_config)
    theirs: str  # transformers' embeddings class, under transformers.models
    cases: list[tuple[int, int]]  # (B, L)
    batch: Callable  # (rng, config, B, L) -> our forward's keyword arguments, [B, L] arrays
    their_config: dict = field(default_factory=dict)  # transformers' config fields we lack
    their_names: dict = field(default_factory=dict)  # our argument -> the name theirs takes


BERT = Model("bert-base", BERT_BASE, "bert.modeling_bert.BertEmbeddings",
             [(1, 7), (32, 128), (8, 512), (256, 128)], random_batch)
MODELS = [
    BERT,
    Model("roberta-base",  # positions by RoBERTa's rule, from the ids: some rows padded
          be.EmbeddingConfig(model_type="roberta", vocab_size=50265, max_position_embeddings=514,
                             type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1),
          "roberta.modeling_roberta.RobertaEmbeddings", [(32, 128), (8, 512)],
          ids_only(padded_batch)),
    Model("deberta-v3-base",  # no position table (relative attention), no token types
          be.EmbeddingConfig(model_type="deberta-v2", vocab_size=128100, type_vocab_size=0,
                             layer_norm_eps=1e-7, position_embedding_type="relative"),
          "deberta_v2.modeling_deberta_v2.DebertaV2Embeddings", [(32, 128), (8, 512)], padded_batch,
          their_config={"position_biased_input": False}, their_names={"attention_mask": "mask"}),
]


def random_weights(config: be.EmbeddingConfig, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = {name: rng.normal(0, 0.05, shape).astype(np.float32) for name, shape in config.weight_shapes().items()}
    weights[f"{config.spec.norm}.weight"] += 1
    return weights


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1e3


def interleaved_medians(runners: dict, rounds: int) -> dict[str, float]:
    """The median ms of each runner over interleaved rounds, each settling for SETTLE before its timed call."""
    times = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            settle = time.perf_counter() + SETTLE
            while time.perf_counter() < settle:
                run()
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: median_ms(t) for name, t in times.items()}


def their_config(model: Model):
    """transformers' config of the model's shapes: its field names are ours, plus their_config."""
    names = ("vocab_size", "hidden_size", "max_position_embeddings", "type_vocab_size",
             "layer_norm_eps", "pad_token_id")
    config = model.config
    return AutoConfig.for_model(config.model_type, **{name: getattr(config, name) for name in names},
                                **model.their_config)


def both_sides(model: Model = BERT):
    """Our module and transformers' (eval mode: no dropout; None without torch), same weights."""
    weights = random_weights(model.config)
    ours = getattr(be, model.config.spec.class_name)(model.config, weights)
    if torch is None:
        return ours, None
    where, name = model.theirs.rsplit(".", 1)
    their_class = getattr(importlib.import_module(f"transformers.models.{where}"), name)
    theirs = their_class(their_config(model)).eval()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in weights.items()})  # copies: ours are read-only
    return ours, theirs


def bench_forward(model: Model, rounds: int) -> list[dict]:
    ours, theirs = both_sides(model)
    rng = np.random.default_rng(1)
    rows = []
    for B, L in model.cases:
        inputs = model.batch(rng, model.config, B, L)  # our keyword arguments
        flat, floor_out = inputs["input_ids"].ravel(), np.empty((B * L, model.config.E), np.float32)

        def run_ours():
            return ours(**inputs)

        def run_floor():
            def take(lo, hi):
                np.take(ours.words.weight, flat[lo:hi], axis=0, out=floor_out[lo:hi], mode="clip")
            fast.parallel_blocks(take, B * L, ours.num_threads, fast.BLOCK_ROWS)

        runners = {"ours": run_ours, "floor": run_floor}
        if theirs is not None:
            their_inputs = {model.their_names.get(k, k): torch.from_numpy(v)
                            for k, v in inputs.items()}

            def run_torch():
                with torch.no_grad():
                    return theirs(**their_inputs)

            error = float(np.abs(run_ours() - run_torch().numpy()).max())
            assert error <= EQUAL, f"{model.name} {B}x{L}: ours and torch differ by {error:.3g}"
            runners["torch"] = run_torch
        ms = interleaved_medians(runners, rounds)
        rows.append({"case": f"{B}x{L}", "tokens": B * L, **{f"{k}_ms": v for k, v in ms.items()},
                     "extra_memory": extra_memory(run_ours, B * L * model.config.hidden_size * 4)})
    return rows


def bench_backward(rounds: int) -> list[dict]:
    """vjp(grad_out) against PyTorch autograd's out.backward(grad_out), gradients checked first."""
    ours, theirs = both_sides()
    rng = np.random.default_rng(3)
    rows = []
    for B, L in BACKWARD_CASES:
        inputs = random_batch(rng, BERT_BASE, B, L)
        grad_out = rng.normal(0, 1, size=(B, L, BERT_BASE.hidden_size)).astype(np.float32)
        _, vjp = ours.vjp(**inputs)
        runners = {"ours": lambda: vjp(grad_out)}
        if theirs is not None:
            out = theirs(**{k: torch.from_numpy(v) for k, v in inputs.items()})
            grad_out_t = torch.from_numpy(grad_out)

            def run_torch():
                theirs.zero_grad(set_to_none=True)
                out.backward(grad_out_t, retain_graph=True)

            run_torch()
            grads = vjp(grad_out)
            for name, p in theirs.named_parameters():
                ref = p.grad.numpy()
                error = float(np.abs(grads[name] - ref).max() / max(1.0, np.abs(ref).max()))
                assert error <= 1e-5, f"{B}x{L} d{name}: ours and torch differ by {error:.3g} of scale"
            runners["torch"] = run_torch
        rows.append({"case": f"{B}x{L}", **{f"{k}_ms": v for k, v in interleaved_medians(runners, rounds).items()}})
    return rows


def bench_scatter_add(rounds: int) -> list[dict]:
    """The scatter-add of the embedding backward, N = 4096 rows of H = 768, by the ways NumPy offers."""
    rng = np.random.default_rng(4)
    H, N = BERT_BASE.hidden_size, 4096
    grad = rng.normal(0, 1, size=(N, H)).astype(np.float32)

    def sort_reduceat(ids, rows):
        order = np.argsort(ids, kind="stable")
        sorted_ids = ids[order]
        starts = np.flatnonzero(np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1])))
        out = np.zeros((rows, H), np.float32)
        out[sorted_ids[starts]] = np.add.reduceat(grad[order], starts, axis=0)
        return out

    def bincount_per_column(ids, rows):
        out = np.empty((rows, H), np.float32)
        for j in range(H):
            out[:, j] = np.bincount(ids, weights=grad[:, j], minlength=rows)
        return out

    def one_hot_matmul(ids, rows):
        used, index = np.unique(ids, return_inverse=True)
        one_hot = np.zeros((len(used), N), np.float32)  # [U, N]: only the rows used
        one_hot[index, np.arange(N)] = 1
        out = np.zeros((rows, H), np.float32)
        out[used] = one_hot @ grad
        return out

    ways = {"np.add.at": lambda ids, rows: be.functional.embedding_backward(grad, ids, rows),
            "sort + reduceat": sort_reduceat, "bincount per column": bincount_per_column,
            "one-hot matmul": one_hot_matmul, "ours (fast.embedding_backward)": lambda ids, rows: fast.embedding_backward(grad, ids, rows)}
    results = []
    for table, rows in (("word", BERT_BASE.vocab_size), ("position", BERT_BASE.max_position_embeddings),
                        ("token type", BERT_BASE.type_vocab_size)):
        ids = rng.integers(0, rows, size=N)
        expected = be.functional.embedding_backward(grad, ids, rows)
        for name, way in ways.items():
            assert np.abs(way(ids, rows) - expected).max() <= 1e-5 * max(1.0, np.abs(expected).max()), (table, name)
        ms = interleaved_medians({name: (lambda w=way: w(ids, rows)) for name, way in ways.items()}, rounds)
        results.append({"table": f"{table} ({rows} rows)", **ms})
    return results


def extra_memory(run, output_bytes: int) -> float:
    """Peak memory one call allocates beyond its output, as a fraction of the output (tracemalloc)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = run()
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    del out
    return (peak - output_bytes) / output_bytes


LOAD_PROBE = """
import json, sys, time
import bertemb_np as be
def peak_rss():  # VmHWM: unlike ru_maxrss, it does not inherit the parent's peak across fork + exec
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024
before = peak_rss()
start = time.perf_counter()
emb = be.BertEmbeddings.from_pretrained(sys.argv[1])
seconds = time.perf_counter() - start
grown = peak_rss() - before
tables = sum(w.nbytes for w in (emb.word_embeddings.weight, emb.position_embeddings.weight,
                                 emb.token_type_embeddings.weight, emb.LayerNorm.weight, emb.LayerNorm.bias))
print(json.dumps({"seconds": seconds, "rss_growth": grown, "tables": tables}))
"""


def bench_load(runs: int) -> dict:
    folder = write_bert_checkpoint(BENCH_FOLDER / "bert-base")
    probes = [json.loads(subprocess.run([sys.executable, "-c", LOAD_PROBE, str(folder)], check=True,
                                        capture_output=True, text=True).stdout) for _ in range(runs)]
    result = {"file_bytes": (folder / "model.safetensors").stat().st_size,
              "ours_ms": statistics.median(p["seconds"] for p in probes) * 1e3,
              "rss_growth_over_tables": max(p["rss_growth"] / p["tables"] for p in probes),
              "tables_bytes": probes[0]["tables"]}
    if torch is not None:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            BertModel.from_pretrained(folder)
            times.append(time.perf_counter() - start)
        result["transformers_ms"] = median_ms(times)
    return result


HUB_PROBE = """
import json, sys, time
import bertemb_np as be
start = time.perf_counter()
be.BertEmbeddings.from_pretrained(sys.argv[1], partial=sys.argv[2] == "partial")
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def bench_hub(runs: int) -> list[dict]:
    """Partial vs whole-file loads from the fake Hub on 127.0.0.1, each in a new process with empty caches."""
    rows = []
    for name, hidden, layers in (("bert-base", 768, 12), ("bert-large", 1024, 24)):
        folder = write_bert_checkpoint(BENCH_FOLDER / name, hidden=hidden, layers=layers)
        with FakeHub({f"bench/{name}": folder}) as hub:
            for mode in ("partial", "whole"):
                seconds, sent = [], []
                for _ in range(runs):
                    caches = Path(tempfile.mkdtemp(prefix="bertemb-bench-cache-"))
                    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_CACHE": str(caches / "hf"),
                           "BERTEMB_CACHE": str(caches / "bertemb"), "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
                    before = hub.total_sent
                    probe = subprocess.run([sys.executable, "-c", HUB_PROBE, f"bench/{name}", mode], env=env,
                                           check=True, capture_output=True, text=True)
                    seconds.append(json.loads(probe.stdout)["seconds"])
                    sent.append(hub.total_sent - before)
                    shutil.rmtree(caches)
                rows.append({"model": name, "mode": mode, "file_bytes": (folder / "model.safetensors").stat().st_size,
                             "bytes": statistics.median(sent), "ms": statistics.median(seconds) * 1e3})
    return rows


PLOT_PROBE = """
import sys, tempfile, time
from pathlib import Path
import numpy as np
start = time.perf_counter()
from bertemb_np import plots, study
position = np.random.default_rng(0).normal(0, 0.05, (512, 768)).astype(np.float32)  # bert-base's shape
similarity = study.position_similarity(position)
plots.position_similarity(similarity, study.band_width(similarity)[1], "bert-base shapes",
                          Path(tempfile.mkdtemp()) / "s.png")
print(time.perf_counter() - start)
"""


def bench_plot(runs: int) -> float | None:
    """Seconds to compute and render the 512x512 position similarity figure, matplotlib's import included."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return None
    return statistics.median(float(subprocess.run([sys.executable, "-c", PLOT_PROBE], check=True, capture_output=True,
                                                  text=True).stdout) for _ in range(runs))


IMPORT_PROBE = """
import time
start = time.perf_counter()
import numpy
middle = time.perf_counter()
import bertemb_np
print(middle - start, time.perf_counter() - middle)
"""


def bench_import(runs: int) -> dict:
    extra = [float(subprocess.run([sys.executable, "-c", IMPORT_PROBE], check=True, capture_output=True,
                                  text=True).stdout.split()[1]) for _ in range(runs)]
    return {"import_ms_over_numpy": statistics.median(extra) * 1e3}


def print_forward(model: Model, rows: list[dict]) -> None:
    c = model.config
    P = c.weight_shapes().get("position_embeddings.weight", ("none",))[0]
    print(f"\nforward, {model.name} shapes (V={c.vocab_size}, H={c.hidden_size}, P={P}, "
          f"T={c.type_vocab_size}), medians of interleaved rounds:\n")
    print("| case | ours ms | tokens/s | torch ms | torch/ours | floor ms | ours/floor | extra memory |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        torch_ms = r.get("torch_ms")
        print(f"| {r['case']} | {r['ours_ms']:.3f} | {r['tokens'] / r['ours_ms'] * 1e3:,.0f} | "
              + (f"{torch_ms:.3f} | {torch_ms / r['ours_ms']:.2f}x | " if torch_ms else "- | - | ")
              + f"{r['floor_ms']:.3f} | {r['ours_ms'] / r['floor_ms']:.2f}x | "
              f"{r['extra_memory']:+.1%} of output |")


def print_report(forward: dict[str, list[dict]], backward: list[dict], scatter: list[dict], load: dict,
                 hub: list[dict], plot_seconds: float | None, imported: dict) -> None:
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
          f"numpy {np.__version__}" + (f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
                                        if torch is not None else ", torch not installed")
          + f"; ours on {fast.default_num_threads()} threads")
    for model in MODELS:
        print_forward(model, forward[model.name])
    print("\nbackward, bert-base shapes: vjp(grad_out) vs torch out.backward(grad_out), medians:\n")
    print("| case | ours ms | torch ms | torch/ours |")
    print("|---|---|---|---|")
    for r in backward:
        torch_ms = r.get("torch_ms")
        print(f"| {r['case']} | {r['ours_ms']:.2f} | " + (f"{torch_ms:.2f} | {torch_ms / r['ours_ms']:.2f}x |"
                                                         if torch_ms else "- | - |"))
    print("\nthe scatter-add of the embedding backward (4096 rows of 768), ms, medians:\n")
    ways = [k for k in scatter[0] if k != "table"]
    print("| table | " + " | ".join(ways) + " |")
    print("|---" * (len(ways) + 1) + "|")
    for r in scatter:
        print(f"| {r['table']} | " + " | ".join(f"{r[w]:.2f}" for w in ways) + " |")
    print(f"\nload, full bert-base BertForPreTraining model.safetensors ({load['file_bytes'] / 1e6:.0f} MB, "
          f"embedding tables {load['tables_bytes'] / 1e6:.0f} MB):")
    print(f"  bertemb_np from_pretrained: {load['ours_ms']:.1f} ms, peak RSS growth "
          f"{load['rss_growth_over_tables']:.2f}x the tables' bytes")
    if "transformers_ms" in load:
        print(f"  transformers BertModel.from_pretrained: {load['transformers_ms']:.0f} ms")
    print("\nfrom the fake Hub on 127.0.0.1 (real huggingface_hub client, empty caches), medians:\n")
    print("| checkpoint | file MB | load | MB transferred | ms |")
    print("|---|---|---|---|---|")
    for r in hub:
        print(f"| {r['model']} | {r['file_bytes'] / 1e6:.0f} | {r['mode']} | {r['bytes'] / 1e6:.1f} | {r['ms']:.0f} |")
    if plot_seconds is not None:
        print(f"\nplot: the 512x512 position similarity figure (bert-base shapes), computed and rendered "
              f"in a new process, matplotlib's import included: {plot_seconds:.2f} s")
    print(f"\nimport bertemb_np after numpy: {imported['import_ms_over_numpy']:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds per case (default 30)")
    args = parser.parse_args()
    forward = {model.name: bench_forward(model, args.rounds) for model in MODELS}
    print_report(forward, bench_backward(args.rounds), bench_scatter_add(max(3, args.rounds // 6)),
                 bench_load(5), bench_hub(3), bench_plot(3), bench_import(7))


if __name__ == "__main__":
    main()

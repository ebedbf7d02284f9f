"""A fake Hugging Face Hub on 127.0.0.1, and real-layout BERT checkpoints to serve from it.

Used by the tests and by scripts/bench.py. Point HF_ENDPOINT at `FakeHub.url` and the real
huggingface_hub client talks to it. It speaks what huggingface_hub uses:
- HEAD and GET /{repo}/resolve/{revision}/{file}, with ETag, X-Repo-Commit, Content-Length,
  and Range answered with 206 and Content-Range (unless made to ignore Range: then 200);
- GET /api/models/{repo} and /api/models/{repo}/revision/{revision}.
It counts the body bytes it sends, per file, and can stall a transfer halfway (to kill it).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, repos: dict[str, Path], *, ignore_range: bool = False, stall_after: int | None = None):
        """repos: {repo id: folder of its files}. stall_after: stop sending any body after that many
        bytes in total, and set `stalled` (the connection stays open, as in a dead transfer)."""
        self.repos = {repo: Path(folder) for repo, folder in repos.items()}
        self.ignore_range, self.stall_after = ignore_range, stall_after
        self.sent: dict[str, int] = {}  # "repo/file" -> body bytes sent
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def total_sent(self) -> int:
        return sum(self.sent.values())

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def make_handler(hub: FakeHub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def do_HEAD(self):
            self.respond(body=False)

        def do_GET(self):
            self.respond(body=True)

        def respond(self, body: bool) -> None:
            path = self.path.split("?")[0]
            api = re.fullmatch(r"/api/models/(.+?)(?:/revision/([^/]+))?", path)
            if api:
                return self.api(api[1])
            resolve = re.fullmatch(r"/(.+)/resolve/([^/]+)/(.+)", path)
            if not resolve or resolve[1] not in hub.repos:
                return self.error(404, "RepoNotFound")
            repo, revision, filename = resolve[1], resolve[2], resolve[3]
            if revision not in ("main", COMMIT):
                return self.error(404, "RevisionNotFound")
            file = hub.repos[repo] / filename
            if not file.is_file():
                return self.error(404, "EntryNotFound")
            size = file.stat().st_size
            start, stop, status = 0, size, 200
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
            if match and not hub.ignore_range:
                start, stop, status = int(match[1]), min(size, int(match[2] or size - 1) + 1), 206
            self.send_response(status)
            self.send_header("ETag", '"' + hashlib.sha1(f"{file}:{size}".encode()).hexdigest() + '"')
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(stop - start))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
            self.end_headers()
            if body:
                try:
                    self.send_body(f"{repo}/{filename}", file, start, stop)
                except (BrokenPipeError, ConnectionResetError):  # the client hung up, as it may after a 200
                    self.close_connection = True

        def send_body(self, key: str, file: Path, start: int, stop: int) -> None:
            with open(file, "rb") as f:
                f.seek(start)
                while start < stop:
                    n = min(1 << 20, stop - start)
                    with hub.lock:
                        if hub.stall_after is not None:
                            n = min(n, hub.stall_after - hub.total_sent)
                        hub.sent[key] = hub.sent.get(key, 0) + max(n, 0)
                    if n <= 0:
                        hub.stalled.set()
                        hub.release.wait()
                        return
                    self.wfile.write(f.read(n))
                    start += n

        def api(self, repo: str) -> None:
            if repo not in hub.repos:
                return self.error(404, "RepoNotFound")
            files = sorted(p.name for p in hub.repos[repo].iterdir())
            self.send_json({"id": repo, "modelId": repo, "sha": COMMIT,
                            "siblings": [{"rfilename": name} for name in files]})

        def error(self, status: int, code: str) -> None:
            self.send_json({"error": code}, status, {"X-Error-Code": code})

        def send_json(self, data, status: int = 200, headers: dict | None = None) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(raw)

    return Handler


def bert_checkpoint_shapes(hidden: int, layers: int, vocab: int = 30522, positions: int = 512,
                           types: int = 2) -> dict[str, tuple[int, ...]]:
    """The tensors of a BertForPreTraining checkpoint, named as bert-base-uncased names them."""
    H, inner = hidden, 4 * hidden
    shapes = {
        "bert.embeddings.word_embeddings.weight": (vocab, H),
        "bert.embeddings.position_embeddings.weight": (positions, H),
        "bert.embeddings.token_type_embeddings.weight": (types, H),
        "bert.embeddings.LayerNorm.gamma": (H,), "bert.embeddings.LayerNorm.beta": (H,),
    }
    for i in range(layers):
        layer = f"bert.encoder.layer.{i}."
        for part in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            shapes.update({layer + part + ".weight": (H, H), layer + part + ".bias": (H,)})
        shapes.update({layer + "intermediate.dense.weight": (inner, H), layer + "intermediate.dense.bias": (inner,),
                       layer + "output.dense.weight": (H, inner), layer + "output.dense.bias": (H,)})
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes.update({layer + norm + ".gamma": (H,), layer + norm + ".beta": (H,)})
    shapes.update({
        "bert.pooler.dense.weight": (H, H), "bert.pooler.dense.bias": (H,),
        "cls.predictions.bias": (vocab,), "cls.predictions.transform.dense.weight": (H, H),
        "cls.predictions.transform.dense.bias": (H,), "cls.predictions.transform.LayerNorm.gamma": (H,),
        "cls.predictions.transform.LayerNorm.beta": (H,), "cls.seq_relationship.weight": (2, H),
        "cls.seq_relationship.bias": (2,),
    })
    return shapes


def write_bert_checkpoint(folder: Path, hidden: int = 768, layers: int = 12, shards: int = 1, seed: int = 0) -> Path:
    """A full-size BertForPreTraining checkpoint in bert-base-uncased's layout (bert. prefix,
    LayerNorm gamma/beta, cls.* heads): random embedding tables, zeros elsewhere (cheap to make,
    same bytes to serve). With shards > 1, model.safetensors.index.json and shard files, the
    embedding LayerNorm placed in the last shard so that the embeddings span two shards."""
    from safetensors.numpy import save_file

    if (folder / "config.json").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    shapes = bert_checkpoint_shapes(hidden, layers)
    rng = np.random.default_rng(seed)
    tensors = {name: (rng.standard_normal(shape, dtype=np.float32) * 0.05 if ".embeddings." in name
                      else np.zeros(shape, np.float32)) for name, shape in shapes.items()}
    if shards == 1:
        save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    else:
        names = [n for n in tensors if "embeddings.LayerNorm" not in n]
        names += [n for n in tensors if "embeddings.LayerNorm" in n]  # last: the embeddings span two shards
        weight_map = {}
        for k, part in enumerate(np.array_split(np.array(names, dtype=object), shards)):
            shard = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
            save_file({n: tensors[n] for n in part}, str(folder / shard), metadata={"format": "pt"})
            weight_map.update({n: shard for n in part})
        (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    config = {"model_type": "bert", "architectures": ["BertForPreTraining"], "vocab_size": 30522,
              "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": hidden // 64,
              "intermediate_size": 4 * hidden, "max_position_embeddings": 512, "type_vocab_size": 2,
              "layer_norm_eps": 1e-12, "pad_token_id": 0}
    (folder / "config.json").write_text(json.dumps(config))
    return folder

"""A fake Hugging Face Hub on 127.0.0.1, and real-layout BERT checkpoints to serve from it.

Used by the tests and by scripts/bench.py. Point HF_ENDPOINT at `FakeHub.url` and the real
huggingface_hub client talks to it. It speaks what huggingface_hub uses:
- HEAD and GET /{repo}/resolve/{revision}/{file}, with ETag, X-Repo-Commit, Content-Length,
  and Range answered with 206 and Content-Range (unless made to ignore Range: then 200);
- GET /api/models/{repo} and /api/models/{repo}/revision/{revision}.
With cdn=True, it answers /resolve/ of .safetensors files as the real Hub answers LFS files: a
302 to a second server, on 127.0.0.2 (another origin), that serves the bytes.
It records every request's headers, counts the body bytes it sends per file, and can break a
transfer: drop the connection once mid-body, stall (send nothing more) to test timeouts and
kills, or hold data requests back until told (to line up concurrent clients); or be down.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass(frozen=True)
class Request:
    server: str  # "hub" or "cdn"
    method: str
    path: str
    headers: dict[str, str]  # names lowercased


class FakeHub:
    def __init__(self, repos: dict[str, Path], *, ignore_range: bool = False,
                 stall_after: int | None = None, drop_after: int | None = None, cdn: bool = False,
                 down: bool = False):
        """repos: {repo id: folder of its files}. down: answer every request 503, as a Hub that
        is down (but records the attempts). Counting body bytes sent in total (faults are for
        one client at a time):
        drop_after: once that many are sent, close the connection mid-body, once (`dropped` is set);
        stall_after: once that many are sent, send no more body bytes, to any request, and set
        `stalled` (connections stay open, as in a dead transfer, until close)."""
        self.repos = {repo: Path(folder) for repo, folder in repos.items()}
        self.ignore_range, self.stall_after, self.drop_after = ignore_range, stall_after, drop_after
        self.down = down
        self.sent: dict[str, int] = {}  # "repo/file" -> body bytes sent
        self.requests: list[Request] = []
        self.dropped, self.stalled, self.release = (threading.Event() for _ in range(3))
        self.data_allowed = threading.Event()  # clear it to hold back ranges that do not start at 0
        self.data_allowed.set()
        self.lock = threading.Lock()
        self.server = serve("127.0.0.1", make_handler(self, "hub"))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.cdn_server = self.cdn_url = None
        if cdn:  # on another loopback address: another origin, as a real CDN is
            self.cdn_server = serve("127.0.0.2", make_handler(self, "cdn"))
            self.cdn_url = f"http://127.0.0.2:{self.cdn_server.server_address[1]}"

    @property
    def total_sent(self) -> int:
        return sum(self.sent.values())

    def bytes_before_fault(self) -> float:
        """How many more body bytes may be sent before the next drop or stall (inf: none ahead)."""
        limits = [self.stall_after] + ([self.drop_after] if not self.dropped.is_set() else [])
        return min((max(limit - self.total_sent, 0) for limit in limits if limit is not None),
                   default=math.inf)

    def close(self) -> None:
        self.release.set()
        self.data_allowed.set()
        for server in (self.server, self.cdn_server):
            if server:
                server.shutdown()
                server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def serve(host: str, handler) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def make_handler(hub: FakeHub, name: str):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def do_HEAD(self):
            self.respond(body=False)

        def do_GET(self):
            self.respond(body=True)

        def respond(self, body: bool) -> None:
            with hub.lock:
                hub.requests.append(Request(name, self.command, self.path,
                                            {k.lower(): v for k, v in self.headers.items()}))
            if hub.down:
                return self.error(503, "ServiceUnavailable")
            path = self.path.split("?")[0]
            api = re.fullmatch(r"/api/models/(.+?)(?:/revision/([^/]+))?", path)
            if api and name == "hub":
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
            if hub.cdn_url and name == "hub" and filename.endswith(".safetensors"):
                return self.redirect(hub.cdn_url + self.path, file)
            size = file.stat().st_size
            start, stop, status = 0, size, 200
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
            if match and not hub.ignore_range:
                start, stop, status = int(match[1]), min(size, int(match[2] or size - 1) + 1), 206
            self.send_response(status)
            self.send_header("ETag", etag(file))
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
                except (BrokenPipeError, ConnectionResetError):  # the client hung up (after a 200)
                    self.close_connection = True

        def redirect(self, location: str, file: Path) -> None:
            """The real Hub's answer for an LFS file: 302 to the CDN, its metadata in X-Linked-*."""
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("X-Linked-Etag", etag(file))
            self.send_header("X-Linked-Size", str(file.stat().st_size))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def send_body(self, key: str, file: Path, start: int, stop: int) -> None:
            if start > 0:
                hub.data_allowed.wait()
            with open(file, "rb") as f:
                f.seek(start)
                while start < stop:
                    with hub.lock:
                        n = min(1 << 20, stop - start, hub.bytes_before_fault())
                        hub.sent[key] = hub.sent.get(key, 0) + n
                    if n == 0:
                        return self.fault()
                    self.wfile.write(f.read(n))
                    start += n

        def fault(self) -> None:
            """Drop the connection (once, if asked to), else stall until the hub closes."""
            if hub.drop_after is not None and not hub.dropped.is_set():
                hub.dropped.set()
                self.close_connection = True  # the body ends short of its Content-Length
                return
            hub.stalled.set()
            hub.release.wait()
            self.close_connection = True

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


def etag(file: Path) -> str:
    return '"' + hashlib.sha1(f"{file}:{file.stat().st_size}".encode()).hexdigest() + '"'


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
        for part in ("attention.self.query", "attention.self.key", "attention.self.value",
                     "attention.output.dense"):
            shapes.update({layer + part + ".weight": (H, H), layer + part + ".bias": (H,)})
        shapes.update({layer + "intermediate.dense.weight": (inner, H),
                       layer + "intermediate.dense.bias": (inner,),
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


def write_bert_checkpoint(folder: Path, hidden: int = 768, layers: int = 12, shards: int = 1,
                          seed: int = 0) -> Path:
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
        names += [n for n in tensors if "embeddings.LayerNorm" in n]  # last: embeddings span 2 shards
        weight_map = {}
        for k, part in enumerate(np.array_split(np.array(names, dtype=object), shards)):
            shard = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
            save_file({n: tensors[n] for n in part}, str(folder / shard), metadata={"format": "pt"})
            weight_map.update({n: shard for n in part})
        index = {"metadata": {}, "weight_map": weight_map}
        (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    config = {"model_type": "bert", "architectures": ["BertForPreTraining"], "vocab_size": 30522,
              "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": hidden // 64,
              "intermediate_size": 4 * hidden, "max_position_embeddings": 512, "type_vocab_size": 2,
              "layer_norm_eps": 1e-12, "pad_token_id": 0}
    (folder / "config.json").write_text(json.dumps(config))
    return folder

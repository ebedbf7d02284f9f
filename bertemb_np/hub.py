"""Fetching from the Hugging Face Hub only the bytes the embedding layer needs.

A safetensors file starts with a JSON header giving each tensor's byte range, and the Hub
answers HTTP Range requests. So: read the header with a Range request, then fetch just the
embedding tensors' ranges (merged when they are adjacent, as they usually are). What was
fetched is cached as a small safetensors file holding only those tensors, under
    $BERTEMB_CACHE (default: <HF_HOME>/bertemb) / models--{owner}--{name} / {commit} / {file}
so a second load needs no network at all. All HTTP goes through huggingface_hub's session, so
HF_ENDPOINT, tokens and HF_HUB_DOWNLOAD_TIMEOUT behave as for any Hub download; the Hub's
redirects to a CDN are followed, and the token is not sent there.

What can go wrong is handled as hf_hub_download handles it: a transfer that stalls or breaks
off is resumed from its next byte, a few times, waiting longer each time (but a host that
cannot be connected to at all is not tried again); and one process at a time fetches a cache
entry, under a file lock, the others then using what it wrote.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from .safetensors_io import Header, header_length, parse_header, read_header, write_safetensors
from .sources import HubUnreachable, cannot_connect, http_library, user_agent

__all__ = ["RangeNotSupported", "TransferFailed", "cache_folder", "commit_of", "fetch_into_cache",
           "get_range", "remote_header"]

FIRST_BYTES = 1 << 16  # the first request: the length prefix and, nearly always, the whole header
MERGE_GAP = 1 << 16  # ranges closer than this go in one request (the gap is read and dropped)
PROGRESS_BYTES = 4 << 20  # show a progress bar for transfers larger than this
CHUNK = 1 << 20
RETRIES = 5  # as hf_hub_download: after the first try, this many more without a byte, then give up
MAX_WAIT = 4  # seconds between retries: 1, 2, 4, 4, 4

logger = logging.getLogger(__name__)


class RangeNotSupported(Exception):
    """The server sent the whole file (200) where a byte range (206) was asked for."""


class TransferFailed(ConnectionError):
    """A byte range could not be fetched: its transfer kept stalling or breaking off."""


def cache_folder(repo_id: str, commit: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the tensors fetched from `repo_id` at `commit` are cached: under BERTEMB_CACHE, else
    beside the HF hub cache, not in it (huggingface_hub's scan_cache_dir would report a folder of
    ours there as corrupt): <HF_HOME>/bertemb, or <cache_dir>/../bertemb when a from_pretrained
    was given its own HF cache folder, `cache_dir`."""
    from huggingface_hub import constants

    beside = (Path(cache_dir).expanduser().absolute().parent if cache_dir is not None
              else Path(constants.HF_HOME))
    root = os.environ.get("BERTEMB_CACHE") or beside / "bertemb"
    return Path(root) / ("models--" + repo_id.replace("/", "--")) / commit


def commit_of(snapshot_file: Path) -> str:
    """The commit a file from hf_hub_download belongs to: its snapshot folder is named by it."""
    commit = Path(snapshot_file).parent.name
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise ValueError(f"cannot tell the commit of {snapshot_file}: "
                         "not in a huggingface_hub snapshot folder")
    return commit


def get_range(repo_id: str, commit: str, filename: str, start: int, stop: int,
              write: Callable[[bytes], None], *, token: str | bool | None = None) -> int:
    """Pass bytes [start, stop) of the file (fewer if the file ends first) to write(chunk); return
    the file's size. Raises RangeNotSupported, before reading any body, if the server answers 200.

    A transfer that stalls (no byte for HF_HUB_DOWNLOAD_TIMEOUT seconds) or breaks off is asked
    for again from its next byte; after the first try and RETRIES more in a row with no byte
    received, it raises TransferFailed. A host that cannot be connected to (its name does not
    resolve, the connection is refused) is not asked again: HubUnreachable. `token` is
    huggingface_hub's: a token, False for none, None for the saved one.
    """
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers

    httpx = http_library()
    url = hf_hub_url(repo_id, filename, revision=commit)
    headers = {**build_hf_headers(token=token, **user_agent()), "Accept-Encoding": "identity"}
    received = failures = 0

    def counted(chunk: bytes) -> None:
        nonlocal received
        received += len(chunk)
        write(chunk)

    while True:
        before = received
        try:
            return request_range(url, headers, start + received, stop, counted)
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as e:
            failures = 1 if received > before else failures + 1
            what = (f"{url}: bytes {start}-{stop - 1}: {what_failed(e)}, "
                    f"after {received} of {stop - start} bytes")
            if cannot_connect(e):
                raise HubUnreachable(f"{what}: the host could not be reached") from e
            if failures > RETRIES:
                raise TransferFailed(f"{what}; gave up after {RETRIES} retries") from e
            wait = min(2 ** (failures - 1), MAX_WAIT)
            logger.warning("%s; asking for the rest in %d s", what, wait)
            time.sleep(wait)


def request_range(url: str, headers: dict[str, str], start: int, stop: int,
                  write: Callable[[bytes], None]) -> int:
    """One GET of bytes [start, stop) of `url`, its body passed to write(chunk); the file's size.
    As in hf_hub_download, a 408 or 429 answer is retried after the wait the server asks for;
    network errors are left to get_range, which asks for the rest."""
    from huggingface_hub import constants
    from huggingface_hub.utils import hf_raise_for_status, http_stream_backoff

    with http_stream_backoff("GET", url, headers={**headers, "Range": f"bytes={start}-{stop - 1}"},
                             timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT, follow_redirects=True,
                             retry_on_exceptions=(), retry_on_status_codes=(408, 429)) as response:
        if response.status_code == 200:
            raise RangeNotSupported(f"{url} ignored the Range header")
        if response.status_code >= 400:
            response.read()
            hf_raise_for_status(response)
        content_range = response.headers.get("Content-Range", "")
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", content_range.strip())
        got, size = ((int(match[1]), int(match[2]) + 1), int(match[3])) if match else (None, -1)
        if response.status_code != 206 or got != (start, min(stop, size)):
            raise ValueError(f"{url}: asked for bytes {start}-{stop - 1}, got status "
                             f"{response.status_code} with Content-Range {content_range!r}")
        received = 0
        for chunk in response.iter_bytes(CHUNK):
            received += len(chunk)
            write(chunk)
        if received != min(stop, size) - start:
            raise ValueError(f"{url}: expected {min(stop, size) - start} bytes, got {received} "
                             "(the transfer was cut short)")
    return size


def what_failed(error: Exception) -> str:
    from huggingface_hub import constants

    httpx = http_library()
    if isinstance(error, httpx.TimeoutException):  # whose own message is only "timed out"
        return (f"{type(error).__name__} after {constants.HF_HUB_DOWNLOAD_TIMEOUT} s "
                "(HF_HUB_DOWNLOAD_TIMEOUT)")
    return f"{type(error).__name__}: {error}"


def remote_header(repo_id: str, commit: str, filename: str, *, token: str | bool | None = None
                  ) -> tuple[Header, int]:
    """The header of a remote safetensors file, and where its data starts, by Range requests."""
    where = f"{filename} of hub repo {repo_id!r} at {commit}"
    prefix = bytearray()
    size = get_range(repo_id, commit, filename, 0, FIRST_BYTES, prefix.extend, token=token)
    n = header_length(bytes(prefix), size, where)
    if 8 + n > len(prefix):
        get_range(repo_id, commit, filename, len(prefix), 8 + n, prefix.extend, token=token)
    return parse_header(bytes(prefix[8: 8 + n]), size - 8 - n, where), 8 + n


def fetch_into_cache(repo_id: str, commit: str, filename: str, entries: Header,
                     data_start: int, *, cache_name: str | None = None,
                     token: str | bool | None = None,
                     cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Fetch the byte ranges of `entries` ({name: header entry}) of `filename` and cache them as a
    safetensors file of just those tensors, named `cache_name` (default: `filename`), in
    cache_folder(repo_id, commit, cache_dir); its path.

    Processes wanting the same entry at once take its file lock in turn, and each looks again
    once it holds the lock: only the first finds the entry missing (or damaged) and fetches it.
    Under the lock, a temporary .part file of the entry is a killed process's: it is removed.
    """
    from huggingface_hub.utils import WeakFileLock

    path = cache_folder(repo_id, commit, cache_dir) / (cache_name or filename)
    path.parent.mkdir(parents=True, exist_ok=True)
    with WeakFileLock(path.with_name(f".{path.name}.lock")):
        if holds(path, entries):  # written by another process while this one waited
            return path
        for leftover in path.parent.glob(f".{path.name}.*.part"):
            leftover.unlink()
        spans = sorted((data_start + e["data_offsets"][0], data_start + e["data_offsets"][1], name)
                       for name, e in entries.items())
        tensors = {name: (entries[name]["dtype"], entries[name]["shape"], stop - start)
                   for start, stop, name in spans}
        write_safetensors(path, tensors,
                          lambda f: fetch_spans(repo_id, commit, filename, spans, f, token))
    return path


def holds(path: Path, entries: Header) -> bool:
    """Whether `path` is a whole cache entry of `entries`: readable, each tensor in it with the
    same dtype, shape and byte count (a file cut short or corrupt is not)."""
    try:
        with open(path, "rb") as f:
            header, _ = read_header(f, str(path))
    except (OSError, ValueError):
        return False
    return all(name in header and layout(header[name]) == layout(entry)
               for name, entry in entries.items())


def layout(entry: dict[str, Any]) -> tuple[object, list[int], int]:
    """A header entry's dtype, shape and byte count: what the cache and the remote file share."""
    begin, end = entry.get("data_offsets", (0, 0))
    return entry.get("dtype"), list(entry.get("shape", ())), end - begin


def fetch_spans(repo_id: str, commit: str, filename: str, spans: list[tuple[int, int, str]],
                f: BinaryIO, token: str | bool | None) -> None:
    """Write the bytes of `spans` ([(start, stop, name)], sorted) of the remote file to f, in
    order. Spans less than MERGE_GAP apart go in one request, the gap read and dropped."""
    from huggingface_hub.utils import tqdm

    requests: list[tuple[int, int, list[tuple[int, int]]]] = []  # (start, stop, its tensors')
    for start, stop, _ in spans:
        if requests and start - requests[-1][1] <= MERGE_GAP:
            first, last, tensors = requests[-1]
            requests[-1] = (first, max(last, stop), [*tensors, (start, stop)])
        else:
            requests.append((start, stop, [(start, stop)]))
    total = sum(stop - start for start, stop, _ in requests)
    with tqdm(total=total, unit="B", unit_scale=True, desc=f"{filename} (embedding tensors)",
              disable=total <= PROGRESS_BYTES) as bar:
        for start, stop, wanted in requests:
            get_range(repo_id, commit, filename, start, stop,
                      keeper(f, start, wanted, bar.update), token=token)


def keeper(f: BinaryIO, start: int, wanted: list[tuple[int, int]],
           progress: Callable[[int], object]) -> Callable[[bytes], None]:
    """What takes the chunks of one request, bytes from `start` on: it writes to f the bytes in
    a `wanted` range ([(start, stop)] of each tensor), drops the gaps, and reports progress."""
    position = start

    def keep(chunk: bytes) -> None:
        nonlocal position
        for lo, hi in wanted:
            a, b = max(lo, position), min(hi, position + len(chunk))
            if a < b:
                f.write(chunk[a - position: b - position])
        position += len(chunk)
        progress(len(chunk))

    return keep

"""Fetching from the Hugging Face Hub only the bytes the embedding layer needs.

A safetensors file starts with a JSON header giving each tensor's byte range, and the Hub
answers HTTP Range requests. So: read the header with a Range request, then fetch just the
embedding tensors' ranges (merged when they are adjacent, as they usually are). What was
fetched is cached as a small safetensors file holding only those tensors, under
    $BERTEMB_CACHE (default: <HF hub cache>/bertemb) / models--{owner}--{name} / {commit} / {file}
so a second load needs no network at all. All HTTP goes through huggingface_hub's session,
so HF_ENDPOINT and tokens behave as for any Hub download.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .safetensors_io import header_length, parse_header, write_safetensors

__all__ = ["RangeNotSupported", "cache_folder", "commit_of", "fetch_tensors", "remote_header"]

FIRST_BYTES = 1 << 16  # the first request: the length prefix and, nearly always, the whole header
MERGE_GAP = 1 << 16  # ranges closer than this are fetched in one request (the gap is read and dropped)
PROGRESS_BYTES = 4 << 20  # show a progress bar for transfers larger than this
CHUNK = 1 << 20


class RangeNotSupported(Exception):
    """The server sent the whole file (200) where a byte range (206) was asked for."""


def cache_folder(repo_id: str, commit: str) -> Path:
    import huggingface_hub

    root = os.environ.get("BERTEMB_CACHE") or os.path.join(huggingface_hub.constants.HF_HUB_CACHE, "bertemb")
    return Path(root) / ("models--" + repo_id.replace("/", "--")) / commit


def commit_of(snapshot_file: Path) -> str:
    """The commit a file from hf_hub_download belongs to: its snapshot folder is named by it."""
    commit = Path(snapshot_file).parent.name
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise ValueError(f"cannot tell the commit of {snapshot_file}: not in a huggingface_hub snapshot folder")
    return commit


def get_range(repo_id: str, commit: str, filename: str, start: int, stop: int, write) -> int:
    """Pass bytes [start, stop) of the file (fewer if the file ends first) to write(chunk); return
    the file's size. Raises RangeNotSupported, before reading any body, if the server answers 200."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    url = hf_hub_url(repo_id, filename, revision=commit)
    headers = {**build_hf_headers(), "Range": f"bytes={start}-{stop - 1}", "Accept-Encoding": "identity"}
    with get_session().stream("GET", url, headers=headers, follow_redirects=True) as response:
        if response.status_code == 200:
            raise RangeNotSupported(f"{url} ignored the Range header")
        if response.status_code >= 400:
            response.read()
            hf_raise_for_status(response)
        content_range = response.headers.get("Content-Range", "")
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", content_range.strip())
        size = int(match[3]) if match else -1
        if response.status_code != 206 or not match or (int(match[1]), int(match[2]) + 1) != (start, min(stop, size)):
            raise ValueError(f"{url}: asked for bytes {start}-{stop - 1}, got status {response.status_code} "
                             f"with Content-Range {content_range!r}")
        received = 0
        for chunk in response.iter_bytes(CHUNK):
            received += len(chunk)
            write(chunk)
        if received != min(stop, size) - start:
            raise ValueError(f"{url}: expected {min(stop, size) - start} bytes, got {received} "
                             "(the transfer was cut short)")
    return size


def remote_header(repo_id: str, commit: str, filename: str) -> tuple[dict, int]:
    """The header of a remote safetensors file, and where its data starts, by Range requests."""
    where = f"{filename} of hub repo {repo_id!r} at {commit}"
    prefix = bytearray()
    size = get_range(repo_id, commit, filename, 0, FIRST_BYTES, prefix.extend)
    n = header_length(bytes(prefix), size, where)
    if 8 + n > len(prefix):
        get_range(repo_id, commit, filename, len(prefix), 8 + n, prefix.extend)
    return parse_header(bytes(prefix[8: 8 + n]), size - 8 - n, where), 8 + n


def fetch_tensors(repo_id: str, commit: str, filename: str, entries: dict[str, dict], data_start: int) -> Path:
    """Fetch the byte ranges of `entries` ({name: header entry}) and cache them as a safetensors
    file of just those tensors; return its path. Adjacent ranges go in one request."""
    from huggingface_hub.utils import tqdm

    spans = sorted((data_start + e["data_offsets"][0], data_start + e["data_offsets"][1], name)
                   for name, e in entries.items())
    requests: list[list] = []  # [start, stop, [(start, stop) of each tensor in it]]
    for start, stop, _ in spans:
        if requests and start - requests[-1][1] <= MERGE_GAP:
            requests[-1][1] = max(requests[-1][1], stop)
            requests[-1][2].append((start, stop))
        else:
            requests.append([start, stop, [(start, stop)]])
    total = sum(stop - start for start, stop, _ in requests)
    tensors = {name: (entries[name]["dtype"], entries[name]["shape"], stop - start) for start, stop, name in spans}

    def write_data(f) -> None:
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"{filename} (embedding tensors)",
                  disable=total <= PROGRESS_BYTES) as bar:
            for start, stop, wanted in requests:
                position = start

                def keep(chunk: bytes) -> None:  # write the bytes that fall in a wanted tensor, drop gaps
                    nonlocal position
                    for lo, hi in wanted:
                        a, b = max(lo, position), min(hi, position + len(chunk))
                        if a < b:
                            f.write(chunk[a - position: b - position])
                    position += len(chunk)
                    bar.update(len(chunk))

                get_range(repo_id, commit, filename, start, stop, keep)

    path = cache_folder(repo_id, commit) / filename
    write_safetensors(path, tensors, write_data)
    return path

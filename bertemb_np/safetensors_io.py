"""The safetensors file format: its rules, checked on the headers we parse ourselves, and a writer.

A .safetensors file is:
    8 bytes      N, the length of the header, a little-endian unsigned integer
    N bytes      JSON: {tensor name: {"dtype", "shape", "data_offsets": [begin, end]},
                        "__metadata__": {str: str}}, each key once
    the rest     the tensors' bytes, little-endian, each at data_offsets counted from byte 8 + N
The byte ranges, sorted, tile the data exactly: no overlap, no gap, no byte left over, and
each range holds prod(shape) values of its dtype. The safetensors package's Rust reader, which
loading.py reads files with, refuses a file that breaks these rules. Only a remote file's
header, fetched by an HTTP Range request before any of its data, has no library parser:
parse_header checks it by the same rules, so that only a sound file's byte ranges are fetched.
loading.py runs it on local headers too, before safe_open: for messages that name the defect,
and for a key given twice, which safe_open lets through (the last one wins).
Reference: https://huggingface.co/docs/safetensors/index#format
"""

from __future__ import annotations

import collections
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["DTYPE_BITS", "Header", "header_length", "parse_header", "read_header",
           "write_safetensors"]

Header = dict[str, dict[str, Any]]  # {tensor name: {"dtype", "shape", "data_offsets"}}, parsed

# Every dtype safetensors knows, with its size in bits (F4 and F6 are packed, several to a byte).
DTYPE_BITS = {"BOOL": 8, "U8": 8, "I8": 8, "U16": 16, "I16": 16, "U32": 32, "I32": 32, "U64": 64,
              "I64": 64, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "F8_E5M2": 8, "F8_E4M3": 8,
              "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "F16": 16, "BF16": 16, "F32": 32,
              "F64": 64, "C64": 64}
MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit on the JSON header


def unreadable(where: str, defect: str) -> ValueError:
    """The error for a file that breaks the format's rules."""
    return ValueError(f"{where} is not a readable safetensors file: {defect}")


def header_length(prefix: bytes, file_size: int, where: str) -> int:
    """N from the first 8 bytes, checked to fit in a file of `file_size` bytes."""
    n = int.from_bytes(prefix[:8], "little") if len(prefix) >= 8 else -1
    if not 0 < n <= min(MAX_HEADER_BYTES, file_size - 8):
        raise unreadable(where, f"it does not start with a valid header length "
                                f"(file of {file_size} bytes)")
    return n


def parse_header(raw: bytes, data_size: int, where: str) -> Header:
    """The JSON header as {tensor name: entry}, checked by the format's rules against the
    `data_size` bytes that follow it in the file."""
    header = load_json(raw, where)
    metadata = header.pop("__metadata__", None)  # null is allowed, as safetensors allows it
    if metadata is not None and not (isinstance(metadata, dict)
                                     and all(isinstance(v, str) for v in metadata.values())):
        raise unreadable(where, "its __metadata__ is not a map of strings to strings")
    for name, entry in header.items():
        check_entry(name, entry, where)
    check_layout(header, data_size, where)
    return header


class DuplicateKey(ValueError):
    """A JSON object with a key twice: readers disagree on which value counts."""


def unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """json's object_pairs_hook: the object as a dict, unless a key repeats (json.loads, like
    safetensors' reader, would silently keep the last value)."""
    counts = collections.Counter(key for key, _ in pairs)
    repeated = [key for key, count in counts.items() if count > 1]
    if repeated:
        raise DuplicateKey(f"its header has the key {repeated[0]!r} twice")
    return dict(pairs)


def load_json(raw: bytes, where: str) -> dict[str, Any]:
    try:  # decoded first: given bytes, json.loads would also accept UTF-16 and UTF-32
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=unique_keys)
    except DuplicateKey as e:
        raise unreadable(where, str(e)) from None
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError, JSONDecodeError; too deep
        raise unreadable(where, f"its header is not UTF-8 JSON ({e})") from e
    if not isinstance(header, dict):
        raise unreadable(where, "its header is not a JSON object")
    return header


def naturals(value: object) -> bool:
    """Whether `value` is a JSON list of integers >= 0 (true and false are not integers)."""
    return isinstance(value, list) and all(type(x) is int and x >= 0 for x in value)


def check_entry(name: str, entry: object, where: str) -> None:
    """One tensor's entry: a known dtype, a shape, data_offsets [begin, end] holding as many
    bytes as that shape of that dtype takes."""
    if not (isinstance(entry, dict) and {"dtype", "shape", "data_offsets"} <= entry.keys()):
        raise unreadable(where, f"tensor {name} is not an object with dtype, shape and "
                                "data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not (isinstance(dtype, str) and dtype in DTYPE_BITS):
        raise unreadable(where, f"tensor {name} has unknown dtype {dtype!r}")
    if not naturals(shape):
        raise unreadable(where, f"tensor {name} has shape {shape!r}, not a list of integers >= 0")
    if not (naturals(offsets) and len(offsets) == 2 and offsets[0] <= offsets[1]):
        raise unreadable(where, f"tensor {name} has data_offsets {offsets!r}, "
                                f"not two integers 0 <= begin <= end")
    bits = math.prod(shape) * DTYPE_BITS[dtype]
    if bits % 8 or offsets[1] - offsets[0] != bits // 8:
        raise unreadable(where, f"tensor {name} has {offsets[1] - offsets[0]} bytes for shape "
                                f"{tuple(shape)} of {dtype}")


def check_layout(header: Header, data_size: int, where: str) -> None:
    """The byte ranges, sorted, must tile the `data_size` bytes of data: each starts where the
    previous one ends, the first at 0, the last at the end of the file."""
    ranges = sorted((*entry["data_offsets"], name) for name, entry in header.items())
    end, previous = 0, "the header"
    for begin, stop, name in ranges:
        if begin < end:
            raise unreadable(where, f"tensor {name} overlaps {previous}")
        if begin > end:
            raise unreadable(where, f"{begin - end} bytes between {previous} and tensor {name} "
                                    "belong to no tensor")
        end, previous = stop, f"tensor {name}"
    if end > data_size:
        raise unreadable(where, f"its tensors take {end} bytes, but only {data_size} follow its "
                                "header (it is cut short)")
    if end < data_size:
        raise unreadable(where, f"{data_size - end} bytes after its last tensor belong to none")


def read_header(f: BinaryIO, where: str) -> tuple[Header, int]:
    """The header of an open file, checked, and where its data starts."""
    size = os.fstat(f.fileno()).st_size
    n = header_length(f.read(8), size, where)
    return parse_header(f.read(n), size - 8 - n, where), 8 + n


def write_safetensors(path: Path, tensors: dict[str, tuple[str, list[int], int]],
                      write_data: Callable[[BinaryIO], None]) -> None:
    """Write a .safetensors file of {name: (dtype, shape, byte count)}, atomically.

    After the header, `write_data(f)` must write the tensors' bytes, in the order given. All
    goes to a temporary file in the same folder, renamed to `path` only once complete: an
    interrupted write never leaves a truncated file at `path`.
    """
    import tempfile  # 3 ms (shutil, random, bz2, lzma), for writes only: not at import

    header: Header = {}
    offset = 0
    for name, (dtype, shape, nbytes) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # pad so the data starts 8-byte aligned, as safetensors does
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(len(raw).to_bytes(8, "little") + raw)
            write_data(f)
            if f.tell() != 8 + len(raw) + offset:
                raise ValueError(f"{path}: wrote {f.tell() - 8 - len(raw)} bytes of tensor data, "
                                 f"expected {offset}")
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise

"""The safetensors file format, read and written directly with NumPy.

A .safetensors file is:
    8 bytes      N, the length of the header, a little-endian unsigned integer
    N bytes      JSON: {tensor name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}
    the rest     the tensors' bytes, little-endian, each at data_offsets counted from byte 8 + N
Knowing this is what lets us read (or fetch over HTTP) only the byte ranges we need.
Reference: https://huggingface.co/docs/safetensors/index#format
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["FLOAT_DTYPES", "check_entry", "header_length", "parse_header", "read_header", "read_tensor",
           "tensor_from_bytes", "write_safetensors"]

# safetensors dtype -> the little-endian NumPy dtype its bytes are read as (floats only: weights).
# NumPy has no bfloat16: BF16 is read as uint16 and widened exactly to float32 (tensor_from_bytes).
FLOAT_DTYPES = {"F16": np.dtype("<f2"), "BF16": np.dtype("<u2"), "F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit on the JSON header


def header_length(prefix: bytes, file_size: int, where: str) -> int:
    """N from the first 8 bytes, checked to fit in a file of `file_size` bytes."""
    n = int.from_bytes(prefix[:8], "little") if len(prefix) >= 8 else -1
    if not 0 < n <= min(MAX_HEADER_BYTES, file_size - 8):
        raise ValueError(f"{where} is not a readable safetensors file: it does not start with a valid header "
                         f"length (file of {file_size} bytes)")
    return n


def parse_header(raw: bytes, data_size: int, where: str) -> dict:
    """The JSON header as {tensor name: entry}, every byte range checked to lie within the data."""
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{where} is not a readable safetensors file: its header is not JSON ({e})") from e
    if not isinstance(header, dict):
        raise ValueError(f"{where} is not a readable safetensors file: its header is not a JSON object")
    header.pop("__metadata__", None)
    for name, entry in header.items():
        begin, end = entry.get("data_offsets", (-1, -1)) if isinstance(entry, dict) else (-1, -1)
        if not 0 <= begin <= end <= data_size:
            raise ValueError(f"{where} is not a readable safetensors file: tensor {name} lies outside the file "
                             f"(it is cut short or corrupt)")
    return header


def read_header(f, where: str) -> tuple[dict, int]:
    """The header of an open file, and where its data starts."""
    size = os.fstat(f.fileno()).st_size
    n = header_length(f.read(8), size, where)
    return parse_header(f.read(n), size - 8 - n, where), 8 + n


def check_entry(entry: dict, name: str, shape: tuple[int, ...], where: str) -> dict:
    """Raise unless the header says `name` is a float tensor of `shape` whose byte range fits it."""
    dtype = entry.get("dtype")
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"{where}: tensor {name} has dtype {dtype}; supported are {sorted(FLOAT_DTYPES)}")
    found = tuple(entry.get("shape", ()))
    if found != shape:
        raise ValueError(f"{where}: tensor {name} has shape {found}, but config.json says {shape}")
    begin, end = entry["data_offsets"]
    if end - begin != np.prod(shape, dtype=np.int64) * FLOAT_DTYPES[dtype].itemsize:
        raise ValueError(f"{where} is not a readable safetensors file: tensor {name} has {end - begin} bytes "
                         f"for shape {shape} of {dtype}")
    return entry


def read_tensor(f, data_start: int, entry: dict, name: str, where: str) -> np.ndarray:
    """Read one tensor's bytes straight into a new read-only array (BF16 widened to float32)."""
    begin, end = entry["data_offsets"]
    raw = np.empty(entry["shape"], dtype=FLOAT_DTYPES[entry["dtype"]])
    f.seek(data_start + begin)
    if f.readinto(memoryview(raw.reshape(-1)).cast("B")) != end - begin:
        raise ValueError(f"{where} is not a readable safetensors file: tensor {name} is cut short")
    return tensor_from_bytes(raw, entry["dtype"])


def tensor_from_bytes(raw: np.ndarray, dtype: str) -> np.ndarray:
    """The values of a tensor read as FLOAT_DTYPES[dtype], in native byte order, read-only.

    bfloat16 is the top half of a float32 (same sign and exponent bits, 7 of its 23 mantissa
    bits), so shifting its 16 bits up and viewing the result as float32 is exact.
    """
    if dtype == "BF16":
        array = (raw.astype(np.uint32) << 16).view(np.float32)
    else:
        array = raw.astype(raw.dtype.newbyteorder("="), copy=False)  # a no-op on little-endian machines
    array.flags.writeable = False  # ours alone, and the weights of a model do not change
    return array


def write_safetensors(path: Path, tensors: dict[str, tuple[str, list[int], int]], write_data) -> None:
    """Write a .safetensors file of {name: (dtype, shape, byte count)}, atomically.

    After the header, `write_data(f)` must write the tensors' bytes, in the order given. All
    goes to a temporary file in the same folder, renamed to `path` only once complete: an
    interrupted write never leaves a truncated file at `path`.
    """
    header, offset = {}, 0
    for name, (dtype, shape, nbytes) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
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
                raise ValueError(f"{path}: wrote {f.tell() - 8 - len(raw)} bytes of tensor data, expected {offset}")
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise

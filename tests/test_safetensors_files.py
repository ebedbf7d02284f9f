"""Malformed safetensors files: each defect is refused with an error naming the file and the
defect, never a loaded model. A local file is read with safe_open after our header check; a
remote file is judged by its header alone (hub.remote_header: safetensors_io.parse_header),
before any of its data is fetched. Every case below breaks a tensor the layer does not use
(pooler.dense.*), or the file as a whole: the whole file is checked, not only what is read."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from safetensors.numpy import save_file

import bertemb_np as be
from bertemb_np import hub, loading, safetensors_io
from conftest import FIXTURES

SOURCE = FIXTURES / "tiny-model-eps5" / "model.safetensors"
COMMIT = "c" * 40
# the last two tensors in the file, at data_offsets [27904, 28000] and [28000, 30304]
BEFORE_LAST, LAST = "pooler.dense.bias", "pooler.dense.weight"


def fixture_layout() -> tuple[dict, bytes]:
    """The fixture's header, as a dict, and the bytes after it."""
    raw = SOURCE.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8: 8 + n]), raw[8 + n:]


def assemble(header: dict | str | bytes, data: bytes) -> bytes:
    """A safetensors file of `header` (a dict, or its JSON text as is) and `data`."""
    if isinstance(header, dict):
        header = json.dumps(header)
    raw = header.encode() if isinstance(header, str) else header
    return len(raw).to_bytes(8, "little") + raw + data


def changed(name: str, **fields):
    """A defect: the entry of tensor `name` with `fields` changed, the data untouched."""
    def make(header: dict, data: bytes) -> bytes:
        header[name] = {**header[name], **fields}
        return assemble(header, data)
    return make


def twice(name: str, **fields):
    """A defect: the entry of `name` a second time in the JSON text (with `fields` changed)."""
    def make(header: dict, data: bytes) -> bytes:
        again = json.dumps({**header[name], **fields})
        return assemble(json.dumps(header)[:-1] + f', "{name}": {again}}}', data)
    return make


def metadata(text: str):
    """A defect: __metadata__ given by its JSON text."""
    def make(header: dict, data: bytes) -> bytes:
        header.pop("__metadata__")
        return assemble(f'{{"__metadata__": {text}, ' + json.dumps(header)[1:], data)
    return make


# {case: (make(header, data) -> the file's bytes, the defect the error must name (a regex))}
DEFECTS = {
    "overlap": (changed(LAST, data_offsets=[27996, 30300]),
                f"tensor {LAST} overlaps tensor {BEFORE_LAST}"),
    "gap": (lambda h, d: changed(LAST, data_offsets=[28004, 30308])(h, d + bytes(4)),
            f"4 bytes between tensor {BEFORE_LAST} and tensor {LAST} belong to no tensor"),
    "trailing bytes": (lambda h, d: assemble(h, d + bytes(4)),
                       "4 bytes after its last tensor belong to none"),
    "cut short": (lambda h, d: assemble(h, d[:-4]),
                  "its tensors take 30304 bytes, but only 30300 follow its header"),
    "dtype and bytes disagree": (changed(LAST, dtype="F16"),
                                 rf"tensor {LAST} has 2304 bytes for shape \(24, 24\) of F16"),
    "shape and bytes disagree": (changed(LAST, shape=[24, 25]),
                                 rf"tensor {LAST} has 2304 bytes for shape \(24, 25\) of F32"),
    "offsets and bytes disagree": (
        lambda h, d: changed(LAST, data_offsets=[28000, 30300])(h, d[:-4]),
        rf"tensor {LAST} has 2300 bytes for shape \(24, 24\) of F32"),
    "unknown dtype": (changed(LAST, dtype="F33"), f"tensor {LAST} has unknown dtype 'F33'"),
    "metadata not strings": (metadata('{"format": 1}'), "its __metadata__ is not a map of strings"),
    "metadata not an object": (metadata('["pt"]'), "its __metadata__ is not a map of strings"),
    "duplicate key": (twice(LAST), f"its header has the key '{LAST}' twice"),
    "duplicate key, other dtype": (twice(LAST, dtype="F16", shape=[24, 48]),
                                   f"its header has the key '{LAST}' twice"),
    "duplicate metadata key": (metadata('{"format": "pt", "format": "np"}'),
                               "its header has the key 'format' twice"),
    "float offsets": (changed(LAST, data_offsets=[28000.0, 30304.0]),
                      rf"tensor {LAST} has data_offsets \[28000.0, 30304.0\], not two integers"),
    "string offsets": (changed(LAST, data_offsets=["28000", "30304"]),
                       f"tensor {LAST} has data_offsets \\['28000', '30304'\\], not two integers"),
    "boolean offsets": (changed(BEFORE_LAST, data_offsets=[27904, True]),
                        rf"tensor {BEFORE_LAST} has data_offsets \[27904, True\], not two"),
    "three offsets": (changed(LAST, data_offsets=[28000, 30304, 30304]),
                      f"tensor {LAST} has data_offsets .*, not two integers"),
    "reversed offsets": (changed(LAST, data_offsets=[30304, 28000]),
                         f"tensor {LAST} has data_offsets .*, not two integers 0 <= begin <= end"),
    "float shape": (changed(LAST, shape=[24.0, 24]),
                    rf"tensor {LAST} has shape \[24.0, 24\], not a list of integers >= 0"),
    "negative shape": (changed(LAST, shape=[-24, -24]),
                       rf"tensor {LAST} has shape \[-24, -24\], not a list of integers >= 0"),
    "shape not a list": (changed(LAST, shape="24x24"),
                         f"tensor {LAST} has shape '24x24', not a list"),
    "no data_offsets": (lambda h, d: assemble({**h, LAST: {"dtype": "F32", "shape": [24, 24]}}, d),
                        f"tensor {LAST} is not an object with dtype, shape and data_offsets"),
    "entry not an object": (lambda h, d: assemble({**h, LAST: [28000, 30304]}, d),
                            f"tensor {LAST} is not an object with dtype, shape and data_offsets"),
    "header not an object": (lambda h, d: assemble("[]", d), "its header is not a JSON object"),
    "header in UTF-16": (lambda h, d: assemble(json.dumps(h).encode("utf-16"), d),
                         "its header is not UTF-8 JSON"),
}


def refused(where) -> str:
    """The start of the error refusing the malformed file `where`, as a regex."""
    return re.escape(f"{where} is not a readable safetensors file: ")


def model_file(tmp_path: Path, data: bytes) -> Path:
    """A copy of the fixture's folder whose model.safetensors holds `data`; its path."""
    folder = shutil.copytree(FIXTURES / "tiny-model-eps5", tmp_path / "model")
    (folder / "model.safetensors").write_bytes(data)
    return folder / "model.safetensors"


@pytest.fixture(params=list(DEFECTS))
def defect(request) -> tuple[bytes, str]:
    """(a malformed file's bytes, the defect its error must name)."""
    make, message = DEFECTS[request.param]
    return make(*fixture_layout()), message


def test_the_cases_start_from_a_sound_file(tmp_path):
    """Rebuilt untouched, the fixture loads: each case's error comes from its defect alone."""
    path = model_file(tmp_path, assemble(*fixture_layout()))
    assert be.BertEmbeddings.from_pretrained(path.parent).word_embeddings.weight.shape == (61, 24)


def test_a_malformed_local_file_is_refused(tmp_path, defect):
    data, message = defect
    path = model_file(tmp_path, data)
    with pytest.raises(ValueError, match=refused(path) + message):
        be.BertEmbeddings.from_pretrained(path.parent)


def serve(monkeypatch, data: bytes) -> None:
    """Make hub.get_range answer from `data`, as a Hub holding it would."""
    def get_range(repo_id, commit, filename, start, stop, write, **kwargs) -> int:
        write(data[start:stop])
        return len(data)
    monkeypatch.setattr(hub, "get_range", get_range)


def test_a_malformed_remote_header_is_refused(monkeypatch, defect):
    data, message = defect
    serve(monkeypatch, data)
    where = f"model.safetensors of hub repo 'org/tiny' at {COMMIT}"
    with pytest.raises(ValueError, match=refused(where) + message):
        hub.remote_header("org/tiny", COMMIT, "model.safetensors")


def test_a_sound_remote_header_is_read(monkeypatch):
    """The baseline of the remote cases: the fixture, served untouched, is read."""
    header, data = fixture_layout()
    served = assemble(header, data)
    serve(monkeypatch, served)
    parsed, data_start = hub.remote_header("org/tiny", COMMIT, "model.safetensors")
    del header["__metadata__"]
    assert parsed == header and served[data_start:] == data


def test_safe_open_checks_the_file_again(tmp_path, monkeypatch):
    """Were our header check to miss a defect, safetensors' own reader would still refuse the
    file, its SafetensorError raised as a ValueError naming the file."""
    make, _ = DEFECTS["overlap"]
    path = model_file(tmp_path, make(*fixture_layout()))
    monkeypatch.setattr(safetensors_io, "check_layout", lambda header, data_size, where: None)
    with pytest.raises(ValueError, match=refused(path) + "Error while deserializing header: "
                                                         "invalid offset for tensor"):
        be.BertEmbeddings.from_pretrained(path.parent)


def test_bfloat16_widening_is_exact_for_every_bit_pattern(tmp_path):
    """All 65536 bfloat16 values (infinities, NaNs with their payloads, subnormals) widen to the
    float32 with the same top 16 bits and zeros below, as torch widens them."""
    bits = np.arange(1 << 16, dtype=np.uint16).reshape(256, 256)
    save_file({"t": bits.view(ml_dtypes.bfloat16)}, str(tmp_path / "bf16.safetensors"))
    read = loading.read_tensors([tmp_path / "bf16.safetensors"], {"t": ("t",)}, {"t": (256, 256)})
    np.testing.assert_array_equal(read["t"].view(np.uint32), bits.astype(np.uint32) << 16)

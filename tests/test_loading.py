"""Loading: the key-name table, dtypes, only the embedding tensors read, and errors that name things."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import safetensors
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

import bertemb_np as be
from bertemb_np import loading
from conftest import FIXTURES

# BERT's checkpoint names, from its spec: {our weight name: the names tried, in order}
CHECKPOINT_NAMES = loading.checkpoint_names(be.BertConfig(), be.BertConfig().weight_shapes())


def copy_model(name: str, tmp_path: Path) -> Path:
    folder = tmp_path / name
    shutil.copytree(FIXTURES / name, folder)
    return folder


def rewrite_tensors(folder: Path, change) -> None:
    """Apply `change` to the {name: array} dict of folder/model.safetensors and save it back."""
    tensors = load_file(folder / "model.safetensors")
    change(tensors)
    save_file(tensors, folder / "model.safetensors")


def test_bert_base_uncased_layout_with_gamma_beta_and_heads():
    emb = be.BertEmbeddings.from_pretrained(FIXTURES / "tiny-pretraining")
    stored = load_file(FIXTURES / "tiny-pretraining" / "model.safetensors")
    assert "bert.embeddings.LayerNorm.gamma" in stored and any(k.startswith("cls.") for k in stored)
    np.testing.assert_array_equal(emb.LayerNorm.weight, stored["bert.embeddings.LayerNorm.gamma"])
    np.testing.assert_array_equal(emb.LayerNorm.bias, stored["bert.embeddings.LayerNorm.beta"])
    np.testing.assert_array_equal(emb.word_embeddings.weight,
                                  stored["bert.embeddings.word_embeddings.weight"])


def test_only_the_five_embedding_tensors_are_read(monkeypatch):
    """safe_open is asked for the five embedding tensors and nothing else, and the only other
    bytes read from model.safetensors are its header's (by our check of it)."""
    requested, read_bytes = [], []

    class CountingFile(io.FileIO):
        def read(self, n=-1):
            data = super().read(n)
            read_bytes.append(len(data))
            return data

    class Recording:  # a file of safe_open's, offering only what the loader may use of it
        def __init__(self, f):
            self.get_tensor = lambda name: requested.append(name) or f.get_tensor(name)

    @contextlib.contextmanager
    def recording_safe_open(path, **kwargs):
        with safe_open(path, **kwargs) as f:
            yield Recording(f)

    monkeypatch.setattr(loading, "open", lambda path, mode: CountingFile(path, "r"), raising=False)
    monkeypatch.setattr(safetensors, "safe_open", recording_safe_open)  # imported when used
    for name in ("tiny-pretraining", "tiny-model-eps5"):
        requested.clear()
        read_bytes.clear()
        path = FIXTURES / name / "model.safetensors"
        be.BertEmbeddings.from_pretrained(FIXTURES / name)
        header_bytes = 8 + int.from_bytes(path.read_bytes()[:8], "little")
        with safe_open(path, framework="numpy") as f:
            embeddings = {k for k in f.keys() if "embeddings." in k and "position_ids" not in k}
        assert sorted(requested) == sorted(embeddings) and len(embeddings) == 5, (name, requested)
        assert sum(read_bytes) == header_bytes, (name, read_bytes)


MEMORY_PROBE = """
import json, sys
from pathlib import Path
from bertemb_np import loading
def peak_rss():  # VmHWM: unlike ru_maxrss, it does not inherit the parent's peak across fork + exec
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024
before = peak_rss()
tensors = loading.read_tensors([Path(sys.argv[1])], {"table": ("table",)}, {"table": (16384, 1024)})
print(json.dumps({"grown": peak_rss() - before, "tables": tensors["table"].nbytes}))
"""


def test_reading_takes_the_tables_bytes_of_memory_and_no_more(tmp_path):
    """Peak memory grows by about the table's bytes (at most 1.2x) when reading a 64 MB table
    from a file three times its size: the rest of the file is never read, and nothing of the
    file stays mapped beside the table (safe_open's default mmap backend peaks at 2x)."""
    rng = np.random.default_rng(0)
    save_file({"table": rng.standard_normal((16384, 1024), dtype=np.float32),
               "unused": np.zeros((2, 16384, 1024), np.float32)}, tmp_path / "model.safetensors")
    command = [sys.executable, "-c", MEMORY_PROBE, str(tmp_path / "model.safetensors")]
    probe = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    memory = json.loads(probe.stdout)
    assert memory["grown"] <= 1.2 * memory["tables"], memory


def test_stale_position_ids_buffer_is_ignored():
    stored = load_file(FIXTURES / "tiny-model-eps5" / "model.safetensors")
    assert stored["embeddings.position_ids"].dtype == np.int64
    emb = be.BertEmbeddings.from_pretrained(FIXTURES / "tiny-model-eps5")
    np.testing.assert_array_equal(emb.position_embeddings.weight,
                                  stored["embeddings.position_embeddings.weight"])


def test_float16_checkpoint_is_widened_exactly():
    stored = load_file(FIXTURES / "tiny-fp16" / "model.safetensors")
    assert stored["embeddings.word_embeddings.weight"].dtype == np.float16
    for dtype in (np.float32, np.float64):
        emb = be.BertEmbeddings.from_pretrained(FIXTURES / "tiny-fp16", dtype=dtype)
        assert emb.word_embeddings.weight.dtype == dtype
        np.testing.assert_array_equal(emb.word_embeddings.weight,
                                      stored["embeddings.word_embeddings.weight"])


def test_config_fields_come_from_config_json():
    emb = be.BertEmbeddings.from_pretrained(FIXTURES / "tiny-model-eps5")
    assert emb.config == be.BertConfig(vocab_size=61, hidden_size=24, max_position_embeddings=20,
                                       type_vocab_size=3, layer_norm_eps=1e-5, pad_token_id=1)
    assert emb.LayerNorm.eps == 1e-5
    with pytest.raises(dataclasses.FrozenInstanceError):
        emb.config.hidden_size = 3  # frozen


def test_key_table_accepts_every_listed_name(tmp_path):
    """Each alternative name in CHECKPOINT_NAMES loads, e.g. bert.embeddings.LayerNorm.weight."""
    for ours, names in CHECKPOINT_NAMES.items():
        for name in names:
            folder = copy_model("tiny-model-eps5", tmp_path / name)
            first = CHECKPOINT_NAMES[ours][0]  # the name the fixture has
            rewrite_tensors(folder, lambda t, name=name, first=first: t.__setitem__(name, t.pop(first)))
            emb = be.BertEmbeddings.from_pretrained(folder)
            assert emb.word_embeddings.weight.shape == (61, 24)


def test_unsupported_dtype_is_refused():
    with pytest.raises(ValueError, match="float32 or float64"):
        be.BertEmbeddings.from_pretrained(FIXTURES / "tiny-fp16", dtype=np.float16)


# --- errors that name the file or the tensor -------------------------------------------------

def test_missing_folder():
    with pytest.raises(FileNotFoundError, match="no-such-folder"):
        be.BertEmbeddings.from_pretrained("./no-such-folder")


@pytest.mark.parametrize("filename", ["config.json", "model.safetensors"])
def test_missing_file(tmp_path, filename):
    folder = copy_model("tiny-model-eps5", tmp_path)
    (folder / filename).unlink()
    with pytest.raises(FileNotFoundError, match=filename):
        be.BertEmbeddings.from_pretrained(folder)


def test_missing_tensor(tmp_path):
    folder = copy_model("tiny-model-eps5", tmp_path)
    rewrite_tensors(folder, lambda t: t.pop("embeddings.token_type_embeddings.weight"))
    with pytest.raises(ValueError, match="missing tensor token_type_embeddings.weight"):
        be.BertEmbeddings.from_pretrained(folder)


def test_tensor_stored_twice_is_ambiguous(tmp_path):
    folder = copy_model("tiny-model-eps5", tmp_path)
    rewrite_tensors(folder, lambda t: t.__setitem__("bert.embeddings.LayerNorm.weight",
                                                    t["embeddings.LayerNorm.weight"]))
    with pytest.raises(ValueError, match="stored twice"):
        be.BertEmbeddings.from_pretrained(folder)


def test_shape_disagrees_with_config(tmp_path):
    folder = copy_model("tiny-model-eps5", tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["max_position_embeddings"] = 21
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"embeddings.position_embeddings.weight has shape "
                                         r"\(20, 24\), but config.json says \(21, 24\)"):
        be.BertEmbeddings.from_pretrained(folder)


def test_integer_tensor_is_refused(tmp_path):
    folder = copy_model("tiny-model-eps5", tmp_path)
    rewrite_tensors(folder, lambda t: t.__setitem__("embeddings.LayerNorm.bias",
                                                    np.zeros(24, dtype=np.int32)))
    with pytest.raises(ValueError, match="embeddings.LayerNorm.bias has dtype I32"):
        be.BertEmbeddings.from_pretrained(folder)


@pytest.mark.parametrize("corrupt", [
    lambda b: b"",  # empty
    lambda b: b[: len(b) // 2],  # cut off halfway
    lambda b: b"PK\x03\x04 a zip, say, or a pickle" * 4,  # not safetensors at all
    lambda b: b[:8] + b"X" + b[9:],  # broken JSON header
], ids=["empty", "truncated", "not-safetensors", "bad-header"])
def test_corrupt_safetensors(tmp_path, corrupt):
    folder = copy_model("tiny-model-eps5", tmp_path)
    path = folder / "model.safetensors"
    path.write_bytes(corrupt(path.read_bytes()))
    with pytest.raises(ValueError, match="model.safetensors is not a readable safetensors file"):
        be.BertEmbeddings.from_pretrained(folder)


def test_byte_range_that_disagrees_with_the_shape(tmp_path):
    """A header whose data_offsets span fewer bytes than dtype x shape needs."""
    folder = copy_model("tiny-model-eps5", tmp_path)
    path = folder / "model.safetensors"
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8: 8 + n])
    begin, end = header["embeddings.LayerNorm.bias"]["data_offsets"]
    header["embeddings.LayerNorm.bias"]["data_offsets"] = [begin, end - 4]
    new_header = json.dumps(header, separators=(",", ":")).encode().ljust(n)  # the same compact form
    assert len(new_header) == n
    path.write_bytes(data[:8] + new_header + data[8 + n:])
    with pytest.raises(ValueError, match="tensor embeddings.LayerNorm.bias has 92 bytes for shape"):
        be.BertEmbeddings.from_pretrained(folder)


def shard(folder: Path, index: bytes | None = None) -> Path:
    """Make folder/model.safetensors a one-shard checkpoint: the shard, and its index.json
    (`index`, or the right one); the index's path."""
    shard_path = (folder / "model.safetensors").rename(folder / "model-00001-of-00001.safetensors")
    with safe_open(shard_path, framework="numpy") as f:
        weight_map = {name: shard_path.name for name in f.keys()}
    path = folder / "model.safetensors.index.json"
    path.write_bytes(index or json.dumps({"metadata": {}, "weight_map": weight_map}).encode())
    return path


def test_sharded_checkpoint_loads(tmp_path):
    folder = copy_model("tiny-model-eps5", tmp_path)
    shard(folder)
    emb = be.BertEmbeddings.from_pretrained(folder)
    stored = load_file(FIXTURES / "tiny-model-eps5" / "model.safetensors")
    np.testing.assert_array_equal(emb.word_embeddings.weight,
                                  stored["embeddings.word_embeddings.weight"])


@pytest.mark.parametrize("index, problem", [
    (b'{"weight_map": {', "is not UTF-8 JSON"),
    ('{"weight_map": {"a": "\u00e9"}}'.encode("latin-1"), "is not UTF-8 JSON"),
    (b'["weight_map"]', "has no weight_map of tensor names to shard files"),
    (b'{"metadata": {}}', "has no weight_map of tensor names to shard files"),
    (b'{"weight_map": {"embeddings.LayerNorm.bias": 1}}', "has no weight_map of tensor names"),
], ids=["not-json", "latin-1", "not-an-object", "no-weight-map", "shard-not-a-name"])
def test_bad_index(tmp_path, index, problem):
    folder = copy_model("tiny-model-eps5", tmp_path)
    path = shard(folder, index)
    with pytest.raises(ValueError, match=re.escape(f"{path} {problem}")):
        be.BertEmbeddings.from_pretrained(folder)


@pytest.mark.parametrize("change, message", [
    ({"layer_norm_eps": -1.0}, "layer_norm_eps"),
    ({"hidden_size": 0}, "hidden_size"),
    ({"model_type": "mobilebert"}, "model_type 'mobilebert' is not in the BERT family"),
    ({"model_type": "roberta"},
     "model_type 'roberta': load it with RobertaEmbeddings or AutoEmbeddings"),
    ({"position_embedding_type": "relative_key"}, "position_embedding_type 'relative_key'"),
    ({"pad_token_id": 61}, "pad_token_id=61"),
])
def test_bad_config(tmp_path, change, message):
    folder = copy_model("tiny-model-eps5", tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **change}))
    with pytest.raises(ValueError, match=message) as error:
        be.BertEmbeddings.from_pretrained(folder)
    assert "config.json" in str(error.value)


def test_revision_with_a_local_folder_is_ignored_as_transformers_ignores_it():
    """transformers 5.24 (utils/hub.py, cached_files) reads a local folder whatever the revision:
    AutoModel.from_pretrained(folder, revision="no-such-branch") loads it."""
    folder = FIXTURES / "tiny-model-eps5"
    emb = be.BertEmbeddings.from_pretrained(folder, revision="no-such-branch")
    np.testing.assert_array_equal(emb.word_embeddings.weight,
                                  be.BertEmbeddings.from_pretrained(folder).word_embeddings.weight)


# --- the Hub path, through a real huggingface_hub cache and HF_HUB_OFFLINE ------------------------

COMMIT_A, COMMIT_B = "a" * 40, "b" * 40


def make_hub_cache(tmp_path: Path) -> Path:
    """A huggingface_hub cache holding repo org/tiny-bert at two commits: main -> B, tag v1 -> A.

    The layout is huggingface_hub's own: blobs/, snapshots/<commit>/<file> -> blobs, refs/<name>.
    Commit A holds tiny-model-eps5, commit B the same weights with word_embeddings doubled.
    """
    repo = tmp_path / "hub" / "models--org--tiny-bert"
    doubled = tmp_path / "doubled"
    shutil.copytree(FIXTURES / "tiny-model-eps5", doubled)
    rewrite_tensors(doubled, lambda t: t.__setitem__("embeddings.word_embeddings.weight",
                                                     2 * t["embeddings.word_embeddings.weight"]))
    for commit, source in ((COMMIT_A, FIXTURES / "tiny-model-eps5"), (COMMIT_B, doubled)):
        for file in ("config.json", "model.safetensors"):
            blob = repo / "blobs" / f"{commit[:8]}-{file}"
            blob.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source / file, blob)
            link = repo / "snapshots" / commit / file
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT_B)
    (repo / "refs" / "v1").write_text(COMMIT_A)
    return tmp_path / "hub"


def run_offline(cache: Path, code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)


def test_hub_id_loads_from_the_hf_cache_offline_with_revisions(tmp_path):
    cache = make_hub_cache(tmp_path)
    out = tmp_path / "out.npz"
    result = run_offline(cache, f"""
import sys, numpy as np, bertemb_np as be
def words(revision=None):
    return be.BertEmbeddings.from_pretrained("org/tiny-bert", revision=revision).word_embeddings.weight
main = words()
assert "huggingface_hub" in sys.modules
np.savez({str(out)!r}, main=main, v1=words("v1"), a=words({COMMIT_A!r}))
""")
    assert result.returncode == 0, result.stderr
    stored = load_file(FIXTURES / "tiny-model-eps5" / "model.safetensors")[
        "embeddings.word_embeddings.weight"]
    with np.load(out) as loaded:
        np.testing.assert_array_equal(loaded["main"], 2 * stored)
        np.testing.assert_array_equal(loaded["v1"], stored)
        np.testing.assert_array_equal(loaded["a"], stored)


def test_hub_file_missing_offline_names_repo_and_file(tmp_path):
    cache = make_hub_cache(tmp_path)
    result = run_offline(cache, "import bertemb_np as be; be.Tokenizer.from_pretrained('org/tiny-bert')")
    assert result.returncode != 0
    assert ("FileNotFoundError: tokenizer.json of hub repo 'org/tiny-bert' is not in the local cache, "
            "and HF_HUB_OFFLINE is set") in result.stderr


def test_invalid_hub_id_is_a_clear_error():
    with pytest.raises(ValueError, match="neither an existing local folder nor a valid hub repo id"):
        be.BertEmbeddings.from_pretrained("not a repo id!")


def test_huggingface_hub_and_tokenizers_are_not_imported_for_local_folders():
    result = subprocess.run([sys.executable, "-c", f"""
import sys, bertemb_np as be
be.BertEmbeddings.from_pretrained({str(FIXTURES / "tiny-model-eps5")!r})
assert "huggingface_hub" not in sys.modules, "huggingface_hub imported"
assert "tokenizers" not in sys.modules, "tokenizers imported"
assert "torch" not in sys.modules and "transformers" not in sys.modules
"""], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name, imported", [("tiny-pretraining", False), ("tiny-fp16", False),
                                            ("tiny-bf16", True)])
def test_ml_dtypes_is_imported_only_to_read_bfloat16(name, imported):
    """ml_dtypes 0.7 takes about half a second to import: a float32 or float16 load does not
    pay it (issue 15); a bfloat16 one does, as NumPy has no bfloat16 of its own."""
    result = subprocess.run([sys.executable, "-c", f"""
import sys, bertemb_np as be
be.BertEmbeddings.from_pretrained({str(FIXTURES / name)!r})
print("ml_dtypes" in sys.modules)
"""], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(imported), f"ml_dtypes imported: {result.stdout.strip()}"


@pytest.mark.parametrize("name, stored", [("tiny-pretraining", "F32"), ("tiny-fp16", "F16"),
                                          ("tiny-bf16", "BF16"), ("tiny-f64", "F64")])
def test_every_float_dtype_loads(name, stored):
    path = FIXTURES / name / "model.safetensors"
    header = json.loads(path.read_bytes()[8: 8 + int.from_bytes(path.read_bytes()[:8], "little")])
    embedding_names = [k for k in header if k.startswith(("embeddings.", "bert.embeddings."))
                       and "position_ids" not in k]
    assert len(embedding_names) == 5 and {header[k]["dtype"] for k in embedding_names} == {stored}
    for dtype in (np.float32, np.float64):
        emb = be.BertEmbeddings.from_pretrained(FIXTURES / name, dtype=dtype)
        assert emb.word_embeddings.weight.dtype == dtype


def test_bfloat16_is_widened_exactly_as_torch_does():
    """Torch wrote the file in bfloat16; its own bf16 -> float32 conversion must equal ours, bit
    for bit."""
    emb = be.BertEmbeddings.from_pretrained(FIXTURES / "tiny-bf16")
    with np.load(FIXTURES / "references" / "tiny-bf16-weights.npz") as torch_widened:
        for name in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
            np.testing.assert_array_equal(getattr(emb, name).weight, torch_widened[f"{name}.weight"])
        np.testing.assert_array_equal(emb.LayerNorm.weight, torch_widened["LayerNorm.weight"])
        np.testing.assert_array_equal(emb.LayerNorm.bias, torch_widened["LayerNorm.bias"])
    assert not (emb.word_embeddings.weight.view(np.uint32) & 0xFFFF).any()  # bf16: low 16 bits 0

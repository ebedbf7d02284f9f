"""The wheel: its type marker, its license file, and the one version number.

The project's build files are copied to a temporary folder and built there with the venv's
setuptools (no build isolation, so no download), leaving the clone's build/ untouched.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import bertemb_np

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_has_py_typed_license_and_the_package_version(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(ROOT / "bertemb_np", source / "bertemb_np",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "--disable-pip-version-check", "-w", str(tmp_path / "dist"),
                    str(source)], check=True)
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    version = bertemb_np.__version__
    assert wheel.name == f"bertemb_np-{version}-py3-none-any.whl"

    with zipfile.ZipFile(wheel) as archive:
        dist_info = f"bertemb_np-{version}.dist-info"
        metadata = archive.read(f"{dist_info}/METADATA").decode().splitlines()
        assert "bertemb_np/py.typed" in archive.namelist()
        assert archive.read(f"{dist_info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
    assert f"Version: {version}" in metadata
    assert "License-Expression: Apache-2.0" in metadata
    assert "License-File: LICENSE" in metadata

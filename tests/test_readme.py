"""The README's Python examples run as written, offline, in order, on the installed MiniLM
weights: every ```python block, unless its first line says it needs the Hub."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    return [b for b in blocks if "needs the Hub" not in b.splitlines()[0]]


def test_readme_python_examples_run_offline(tmp_path, minilm_dir):
    blocks = python_blocks()
    assert len(blocks) >= 2 and "AutoEmbeddings" in blocks[0]
    script = tmp_path / "readme.py"
    script.write_text("\n".join(blocks))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]

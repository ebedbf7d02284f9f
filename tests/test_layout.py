"""The package's layers, as bertemb_np/__init__.py lists them: no file imports one listed
below it (the math, the hot path, the specs, checks, the modules that hold weights, loading,
tokenizing, study, the CLI), so each can be read knowing only the files above it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import bertemb_np

PACKAGE = Path(bertemb_np.__file__).parent


def layers() -> list[str]:
    """The modules in the order the package docstring lists them."""
    return re.findall(r"^    (\w+)\.py ", bertemb_np.__doc__, flags=re.M)


def imported(path: Path) -> set[str]:
    """The package's own modules that `path` imports, at its top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names.update([node.module] if node.module else [a.name for a in node.names])
    return names


def test_every_file_is_listed_once():
    listed = layers()
    files = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))
    assert sorted(listed) == files and len(set(listed)) == len(listed), listed


def test_no_import_goes_back_up():
    order = {name: i for i, name in enumerate(layers())}
    upward = [f"{name}.py imports {other}" for name in order for other in imported(PACKAGE / f"{name}.py")
              if order[other] >= order[name]]
    assert not upward, upward

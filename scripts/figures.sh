#!/usr/bin/env bash
# Draw the README's figures from the real all-MiniLM-L6-v2 weights into scripts/figures/.
# Sets up .venv like test.sh (matplotlib comes with the test extra), then runs `bertemb plot`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
model=$(.venv/bin/python -c "from bertemb_np.cli import installed_minilm as m; print(m())")
exec .venv/bin/bertemb plot --model "$model" --name all-MiniLM-L6-v2 --out scripts/figures \
    --sinusoid "$@"

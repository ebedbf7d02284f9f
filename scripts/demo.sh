#!/usr/bin/env bash
# Replay the notebook "Position Embedding en BERT" in NumPy on the real all-MiniLM-L6-v2 weights.
# Usage: scripts/demo.sh [TEXT] [--model ID_OR_DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
exec .venv/bin/python scripts/demo.py "$@"

#!/usr/bin/env bash
# Set up .venv from nothing (scripts/setup.sh), then run the whole test suite.
# Extra arguments go to pytest. Live-Hub tests are deselected by default (-m live_hub runs them).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
exec .venv/bin/python -m pytest "$@"

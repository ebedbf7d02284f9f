#!/usr/bin/env bash
# Draw the README's figures into scripts/figures/: `bertemb plot` on the real all-MiniLM-L6-v2
# weights, and MiniLM's learned position table beside all-mpnet-base-v2's (similarity_maps.png).
# Sets up .venv like test.sh (matplotlib comes with the test extra; setup.sh fetches MPNet).
# BERTEMB_MPNET: the all-mpnet-base-v2 folder, if not the one scripts/setup.sh fills.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
minilm=$(.venv/bin/python -c "from bertemb_np.cli import installed_minilm as m; print(m())")
mpnet=${BERTEMB_MPNET:-.cache/all-mpnet-base-v2}
.venv/bin/bertemb plot --model "$minilm" --name all-MiniLM-L6-v2 --out scripts/figures \
    --sinusoid "$@"
.venv/bin/python - "$minilm" "$mpnet" <<'PYTHON'
import sys
from bertemb_np import AutoEmbeddings, plots, study

maps = []
for name, folder in zip(("all-MiniLM-L6-v2", "all-mpnet-base-v2"), sys.argv[1:]):
    table = study.learned_table(AutoEmbeddings.from_pretrained(folder))
    maps.append((name, table["similarity"], table["band_width"], table["first"],
                 table["mean_row_share"]))
print(plots.similarity_maps(maps, "scripts/figures/similarity_maps.png"), "(MiniLM vs MPNet)")
PYTHON

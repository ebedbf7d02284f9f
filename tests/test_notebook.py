"""scripts/position_embeddings.ipynb: saved with its outputs, and runs from a clean kernel.

The kernel is this interpreter (the venv's python): its kernelspec is written to a temporary
folder put first on JUPYTER_PATH, so no kernel installed elsewhere on the machine is used.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "scripts" / "position_embeddings.ipynb"
IDS = "[[101, 2057, 2973, 2682, 1996, 8044, 102]]"  # "We lived above the clouds"
KERNEL = "bertemb-np-test"


def printed(cell) -> str:
    return "".join(out["text"] for out in cell["outputs"] if out["output_type"] == "stream")


def ids_cell(notebook):
    (cell,) = [c for c in notebook.cells if "ids = tok.encode(" in c.source]  # the one such cell
    return cell


def test_saved_notebook_was_run_in_order():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    assert printed(ids_cell(notebook)).strip() == IDS


@pytest.mark.usefixtures("minilm_dir")  # the weights the notebook loads: installed, verified
def test_notebook_runs_from_a_clean_kernel(tmp_path, monkeypatch):
    write_kernel_spec(tmp_path / "kernels" / KERNEL)  # runs sys.executable -m ipykernel_launcher
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))

    client = NotebookClient(notebook, kernel_name=KERNEL, timeout=60,
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails

    assert printed(ids_cell(notebook)).strip() == IDS
    assert printed(notebook.cells[-1]).strip() == sys.executable

"""The two notebooks in scripts/: saved with their outputs, and run from a clean kernel.

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

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
NOTEBOOK = SCRIPTS / "position_embeddings.ipynb"
TOUR = SCRIPTS / "positions_across_family.ipynb"
IDS = "[[101, 2057, 2973, 2682, 1996, 8044, 102]]"  # "We lived above the clouds"
KERNEL = "bertemb-np-test"


def printed(cell) -> str:
    return "".join(out["text"] for out in cell["outputs"] if out["output_type"] == "stream")


def ids_cell(notebook):
    (cell,) = [c for c in notebook.cells if "ids = tok.encode(" in c.source]  # the one such cell
    return cell


def code_cells(notebook) -> list:
    return [c for c in notebook.cells if c.cell_type == "code"]


def run(notebook, tmp_path, monkeypatch) -> None:
    """Execute `notebook` in place, in a fresh kernel of this interpreter, from scripts/."""
    write_kernel_spec(tmp_path / "kernels" / KERNEL)  # runs sys.executable -m ipykernel_launcher
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    client = NotebookClient(notebook, kernel_name=KERNEL, timeout=120,
                            resources={"metadata": {"path": str(SCRIPTS)}})
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails


@pytest.mark.parametrize("path", [NOTEBOOK, TOUR], ids=lambda p: p.name)
def test_saved_notebook_was_run_in_order(path):
    code = code_cells(nbformat.read(path, as_version=4))
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    assert not [out for c in code for out in c.outputs if out["output_type"] == "error"]


def test_saved_notebook_prints_the_ids():
    assert printed(ids_cell(nbformat.read(NOTEBOOK, as_version=4))).strip() == IDS


@pytest.mark.usefixtures("minilm_dir")  # the weights the notebook loads: installed, verified
def test_notebook_runs_from_a_clean_kernel(tmp_path, monkeypatch):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    run(notebook, tmp_path, monkeypatch)
    assert printed(ids_cell(notebook)).strip() == IDS
    assert printed(notebook.cells[-1]).strip() == sys.executable


def test_tour_runs_from_a_clean_kernel_and_prints_what_is_saved(minilm_dir, mpnet_dir, tmp_path,
                                                                monkeypatch):
    """positions_across_family.ipynb on the real MiniLM and MPNet weights: every cell runs (its
    own asserts included: rotary dot products depend on the offset only, the sinusoids'
    similarity on the distance only), and prints exactly the numbers saved in it, so that the
    saved notebook shows the library's numbers of today."""
    monkeypatch.setenv("BERTEMB_MINILM", str(minilm_dir))
    monkeypatch.setenv("BERTEMB_MPNET", str(mpnet_dir))
    saved = nbformat.read(TOUR, as_version=4)
    notebook = nbformat.read(TOUR, as_version=4)
    run(notebook, tmp_path, monkeypatch)
    for number, (old, new) in enumerate(zip(code_cells(saved), code_cells(notebook), strict=True), 1):
        assert printed(new) == printed(old), f"code cell {number} prints other numbers than saved"
    everything = "".join(printed(c) for c in code_cells(notebook))
    assert "first token's row, asked of the layer: 2 = pad + 1" in everything
    assert "over its real tokens: 0\n" in everything  # MPNet: left or right padding, same vectors


def test_tour_says_which_folder_is_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("BERTEMB_MPNET", raising=False)
    monkeypatch.setenv("BERTEMB_MINILM", "unused")
    notebook = nbformat.read(TOUR, as_version=4)
    notebook.cells = notebook.cells[:2]  # the introduction and the cell that finds the folders
    with pytest.raises(Exception, match="set BERTEMB_MPNET to the model folder"):
        run(notebook, tmp_path, monkeypatch)

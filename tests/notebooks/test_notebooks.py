"""Every notebook under notebooks/ runs top to bottom headless with small parameters
(DLRMSIM_NOTEBOOK_QUICK=1), and is committed with its outputs stripped."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
KERNEL = "python3"
CELL_TIMEOUT_S = 300  # one cell; the quick notebooks take seconds each
# Cells that write files, run a second time straight after the first, as by a user who re-runs
# one: the second run must not trip over what the first wrote. By notebook, a piece of the cell.
RUN_TWICE = {"calibrate_and_validate": '"-m", "calibrate"'}


@pytest.fixture(scope="module")
def kernel() -> str:
    """The python3 kernel of this interpreter; installed into its prefix when missing."""
    from jupyter_client.kernelspec import KernelSpecManager

    if KERNEL not in KernelSpecManager().find_kernel_specs():
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix"], check=True,
                       capture_output=True)
    return KERNEL


def test_there_are_notebooks() -> None:
    names = {p.stem for p in NOTEBOOKS}
    assert {"quickstart", "paper_reproduction", "hypothetical_fleet", "calibrate_and_validate"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_outputs_are_stripped(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(book.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} keep outputs; strip them before committing"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_headless(path: Path, kernel: str, monkeypatch: pytest.MonkeyPatch,
                                tmp_path: Path) -> None:
    """...with its RUN_TWICE cell run twice; every cell that calls plt.show() shows an image
    (a library that switched the kernel's backend to Agg would leave it blank); and it leaves
    no scratch folder behind once its kernel stops (the kernel's temporary folder is
    `tmp_path`, through TMPDIR)."""
    monkeypatch.setenv("DLRMSIM_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    book = nbformat.read(path, as_version=4)
    if path.stem in RUN_TWICE:
        index = next(i for i, c in enumerate(book.cells) if RUN_TWICE[path.stem] in c.source)
        again = copy.deepcopy(book.cells[index])
        again["id"] = f"{again.get('id', index)}-again"
        book.cells.insert(index + 1, again)
    client = nbclient.NotebookClient(book, timeout=CELL_TIMEOUT_S, kernel_name=kernel,
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError with the failing cell's traceback
    blank = [i for i, c in enumerate(book.cells) if c.cell_type == "code"
             and "plt.show()" in c.source
             and not any("image/png" in o.get("data", {}) for o in c.outputs)]
    assert not blank, f"{path.name}: cells {blank} call plt.show() and show no image"
    left = [p.name for p in tmp_path.iterdir() if "dlrmsim" in p.name]
    assert not left, f"{path.name} left {left} in the temporary folder"

"""The writers of figures (validate's plot, the report's figures, the trace plots) leave the
caller's matplotlib as it was: in a notebook, a later `plt.show()` still draws, in the user's
style. They never switch the backend, never touch pyplot's figures, and leave every rcParam as
it was; and the report's and validate's files come out the same whatever style the caller set."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import matplotlib.style
import pytest
from cycler import cycler

from dlrmsim.reproduce import Settings, reproduce
from dlrmsim.validate.report import ValidationRow, write_plot
from sim.presets import load_model
from traces.plots import plot_model

# A notebook user's own style, unlike matplotlib's defaults and seaborn's themes.
USER_STYLE: dict[str, Any] = {
    "axes.facecolor": "#202020", "font.size": 17.0, "lines.linewidth": 3.0,
    "axes.prop_cycle": cycler(color=["red", "blue"]), "figure.dpi": 72.0}
ROWS = [ValidationRow("a", 64, measured_s=0.01, predicted_s=0.011, error=0.1, analytic_s=0.02,
                      analytic_error=1.0),
        ValidationRow("b", 64, measured_s=0.03, predicted_s=0.025, error=-0.1, analytic_s=None,
                      analytic_error=None)]


def _validate(out: Path) -> None:
    write_plot(ROWS, out / "validate.png")


def _reproduce(out: Path) -> None:
    # Figures 6, 7 (drawn by traces/plots.py in the report's theme) and 9: no simulation.
    reproduce(out / "report", Settings(quick=True, fig9_jobs=20, only=("fig6_7", "fig9")),
              progress=False)


def _trace(out: Path) -> None:
    plot_model(load_model("test_suite"), out / "trace")


WRITERS: dict[str, Callable[[Path], None]] = {
    "validate": _validate, "reproduce": _reproduce, "trace": _trace}


def _pngs(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.png"))}


@pytest.mark.parametrize("writer", WRITERS)
def test_a_writer_leaves_the_callers_matplotlib_as_it_was(
        writer: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = matplotlib.get_backend()  # resolved before switching is refused below

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a writer switched the caller's matplotlib backend")

    monkeypatch.setattr(matplotlib, "use", refuse)
    monkeypatch.setattr(plt, "switch_backend", refuse)
    with matplotlib.style.context(USER_STYLE):
        mine = plt.figure()  # the user's open figure
        try:
            before = matplotlib.rcParams.copy()
            WRITERS[writer](tmp_path)
            assert matplotlib.rcParams == before
            assert plt.get_fignums() == [mine.number]
        finally:
            plt.close(mine)
    assert matplotlib.get_backend() == backend
    assert _pngs(tmp_path), "the writer wrote no image"


@pytest.mark.parametrize("writer", ["validate", "reproduce"])
def test_the_callers_style_does_not_change_the_files(writer: str, tmp_path: Path) -> None:
    WRITERS[writer](tmp_path / "plain")
    with matplotlib.style.context(USER_STYLE):
        WRITERS[writer](tmp_path / "styled")
    plain, styled = _pngs(tmp_path / "plain"), _pngs(tmp_path / "styled")
    assert plain and plain == styled

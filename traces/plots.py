"""Figures 6 and 7 of Acun et al. (HPCA 2021) for a model: hash size against mean lookups per
table, and the distribution of mean lookups per table with a kernel density line. seaborn and
matplotlib are imported here only. The figures are matplotlib Figure objects that pyplot never
sees, drawn in the caller's style (rcParams): the caller's backend, open figures and style are
left as they were, and no display is needed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from sim.specs import ModelSpec
from traces.atomic import atomic_output
from traces.errors import trace_error

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_model(model: ModelSpec, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write `<model>_fig6_hash_vs_lookups.png` and `<model>_fig7_lookups_kde.png` into
    `out_dir` (created if missing); returns their paths. Raises TraceError when the folder
    cannot be created."""
    import seaborn as sns
    from matplotlib.figure import Figure

    folder = _folder(Path(out_dir))
    rows = [t.rows for t in model.tables]
    means = [t.pooling.mean_lookups for t in model.tables]
    written = []

    fig = Figure(figsize=(5, 3.5))
    ax = fig.subplots()
    sns.scatterplot(x=rows, y=means, ax=ax, s=18)
    ax.set(xscale="log", yscale="log", xlabel="hash size (rows)", ylabel="mean lookups per table",
           title=f"{model.name}: hash size vs lookups (Fig. 6)")
    written.append(_save(fig, folder / f"{model.name}_fig6_hash_vs_lookups.png"))

    fig = Figure(figsize=(5, 3.5))
    ax = fig.subplots()
    sns.histplot(x=means, ax=ax, kde=True, log_scale=True, stat="density", bins=20)
    ax.set(xlabel="mean lookups per table", ylabel="density",
           title=f"{model.name}: lookups per table (Fig. 7)")
    written.append(_save(fig, folder / f"{model.name}_fig7_lookups_kde.png"))
    return written


def _folder(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise trace_error(folder, f"cannot create the folder ({err.strerror}); give a folder "
                          "you can write to") from err
    return folder


def _save(fig: Figure, path: Path) -> Path:
    with atomic_output(path) as handle:
        fig.tight_layout()
        fig.savefig(handle, format="png", dpi=120)
    return path

"""Figures 6 and 7 of Acun et al. (HPCA 2021) for a model: hash size against mean lookups per
table, and the distribution of mean lookups per table with a kernel density line. seaborn and
matplotlib are imported here only, and drawn without a display (Agg)."""

from __future__ import annotations

import os
from pathlib import Path

from sim.specs import ModelSpec
from traces.atomic import atomic_output
from traces.errors import trace_error


def plot_model(model: ModelSpec, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write `<model>_fig6_hash_vs_lookups.png` and `<model>_fig7_lookups_kde.png` into
    `out_dir` (created if missing); returns their paths. Raises TraceError when the folder
    cannot be created."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    folder = _folder(Path(out_dir))
    rows = [t.rows for t in model.tables]
    means = [t.pooling.mean_lookups for t in model.tables]
    written = []

    fig, ax = plt.subplots(figsize=(5, 3.5))
    sns.scatterplot(x=rows, y=means, ax=ax, s=18)
    ax.set(xscale="log", yscale="log", xlabel="hash size (rows)", ylabel="mean lookups per table",
           title=f"{model.name}: hash size vs lookups (Fig. 6)")
    written.append(_save(fig, folder / f"{model.name}_fig6_hash_vs_lookups.png"))

    fig, ax = plt.subplots(figsize=(5, 3.5))
    sns.histplot(x=means, ax=ax, kde=True, log_scale=True, stat="density", bins=20)
    ax.set(xlabel="mean lookups per table", ylabel="density",
           title=f"{model.name}: lookups per table (Fig. 7)")
    written.append(_save(fig, folder / f"{model.name}_fig7_lookups_kde.png"))
    plt.close("all")
    return written


def _folder(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise trace_error(folder, f"cannot create the folder ({err.strerror}); give a folder "
                          "you can write to") from err
    return folder


def _save(fig: object, path: Path) -> Path:
    with atomic_output(path) as handle:
        fig.tight_layout()  # type: ignore[attr-defined]
        fig.savefig(handle, format="png", dpi=120)  # type: ignore[attr-defined]
    return path

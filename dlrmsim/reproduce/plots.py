"""The report's figures, drawn with seaborn on figures of their own (dlrmsim/figures.py): no
display needed, and the caller's matplotlib backend and style are left as they were.
Each function takes an experiment's rows and a folder and returns the PNG files it wrote."""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ParamSpec

from dlrmsim.figures import new_figure, seaborn_theme
from dlrmsim.reproduce.types import Row

DPI = 110  # dots per inch: sharp enough on screen, small files (~50 kB a figure)
SETUP_LABELS = {"cpu": "CPU setup", "gpu": "Big Basin", "gpu_packed": "Big Basin (packed)",
                "big_basin": "Big Basin", "zion": "Zion"}
AXIS_LABELS = {"dense_features": "dense features", "sparse_features": "sparse features (tables)",
               "batch_size": "batch size (examples)", "hash_size": "hash size (rows per table)",
               "mlp_width": "MLP width (units per layer, 3 layers)"}
P = ParamSpec("P")


def _themed(plot: Callable[P, list[Path]]) -> Callable[P, list[Path]]:
    """`plot` drawn in the report's theme, which holds only while it draws."""
    @functools.wraps(plot)
    def themed(*args: P.args, **kwargs: P.kwargs) -> list[Path]:
        with seaborn_theme("whitegrid", "notebook", font_scale=0.85):
            return plot(*args, **kwargs)
    return themed


def _libs() -> tuple[Any, Any]:
    import pandas as pd
    import seaborn as sns

    return sns, pd


def _frame(rows: Sequence[Row], ok_only: bool = True) -> Any:
    _, pd = _libs()
    kept = [r for r in rows if not (ok_only and r.get("error"))]
    return pd.DataFrame(kept)


def _save(fig: Any, folder: Path, name: str) -> Path:
    path = folder / name
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    return path


def _plain_log(ax: Any) -> None:
    """Log-scale y ticks as plain numbers (0.5, 2, 10) rather than powers of ten."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator

    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))  # 2 and 5 per decade: uncluttered
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))


def _label_bars(ax: Any, fmt: str = "{:.2g}") -> None:
    for container in ax.containers:
        ax.bar_label(container, labels=[fmt.format(v) if v == v and v > 0 else ""
                                        for v in container.datavalues], fontsize=7, padding=1)


@_themed
def plot_figure_1(rows: Sequence[Row], folder: Path) -> list[Path]:
    sns, _ = _libs()
    frame = _frame([r for r in rows if r["best"]])
    frame["platform"] = frame["platform"].map(lambda p: SETUP_LABELS.get(p, p))
    fig = new_figure(figsize=(6, 3.6))
    ax = fig.subplots()
    sns.barplot(frame, x="model", y="relative_to_cpu", hue="platform", ax=ax)
    ax.set(yscale="log", ylabel="throughput relative to CPU setup",
           title="Fig. 1: best placement per platform")
    ax.legend(title=None, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _plain_log(ax)
    _label_bars(ax)
    return [_save(fig, folder, "fig1_relative_throughput.png")]


@_themed
def plot_figure_5(rows: Sequence[Row], folder: Path) -> list[Path]:
    sns, _ = _libs()
    frame = _frame(rows)
    fig = new_figure(figsize=(7, 3.8))
    ax = fig.subplots()
    with warnings.catch_warnings():  # seaborn's own call of a matplotlib 3.11 deprecation
        warnings.filterwarnings("ignore", message="vert: bool", category=DeprecationWarning)
        sns.boxplot(frame, x="resource", y="utilization", hue="role", ax=ax, fliersize=2)
    ax.set(ylabel="busy fraction per server and run", ylim=(0, 1.02),
           title=f"Fig. 5: utilization over {frame['run'].nunique()} runs (noise model)")
    return [_save(fig, folder, "fig5_utilization.png")]


@_themed
def plot_figures_6_7(rows: Sequence[Row], folder: Path) -> list[Path]:
    """Figures 6 and 7 per model, drawn by traces/plots.py from the model presets."""
    from sim.presets import load_model
    from traces.plots import plot_model

    presets = list(dict.fromkeys(r["preset"] for r in rows))
    return [p for preset in presets for p in plot_model(load_model(preset), folder)]


@_themed
def plot_figure_9(rows: Sequence[Row], folder: Path) -> list[Path]:
    sns, _ = _libs()
    frame = _frame(rows)
    fig = new_figure(figsize=(8, 3.4))
    axes = fig.subplots(1, 2)
    for ax, column, what in zip(axes, ("trainers", "parameter_servers"),
                                ("trainers", "parameter servers"), strict=True):
        sns.histplot(frame, x=column, hue="model", multiple="stack", log_scale=2, ax=ax,
                     bins=16, hue_order=sorted(frame["model"].unique()))
        ax.set(xlabel=f"{what} per job", ylabel="jobs")
    fig.suptitle(f"Fig. 9: {len(frame)} sampled jobs of one month")
    return [_save(fig, folder, "fig9_server_counts.png")]


def _sweep_axes(sns: Any, frame: Any, axes: Sequence[Any], sweep: str) -> None:
    part = frame[frame["sweep"] == sweep].copy()
    part["setup"] = part["setup"].map(lambda s: SETUP_LABELS.get(s, s))
    for ax, column, label in zip(axes, ("throughput", "examples_per_joule"),
                                 ("throughput (examples/s)", "examples per joule"), strict=True):
        sns.lineplot(part, x="value", y=column, hue="setup", style="setup", markers=True,
                     dashes=False, ax=ax)
        ax.set(xscale="log", yscale="log", xlabel=AXIS_LABELS[sweep], ylabel=label)
        ax.legend(fontsize=7)


@_themed
def plot_figure_10(rows: Sequence[Row], folder: Path) -> list[Path]:
    sns, _ = _libs()
    frame = _frame(rows)
    fig = new_figure(figsize=(8, 6))
    axes = fig.subplots(2, 2)
    for line, sweep in zip(axes, ("dense_features", "sparse_features"), strict=True):
        _sweep_axes(sns, frame, line, sweep)
    fig.suptitle("Fig. 10: test suite, dense and sparse features")
    return [_save(fig, folder, "fig10_features.png")]


@_themed
def plot_sweep(name: str, sweep: str, rows: Sequence[Row], folder: Path) -> list[Path]:
    """Throughput and examples per joule along one sweep (Figures 11 to 13)."""
    sns, _ = _libs()
    fig = new_figure(figsize=(8, 3.4))
    axes = fig.subplots(1, 2)
    _sweep_axes(sns, _frame(rows), axes, sweep)
    fig.suptitle(f"Fig. {name[3:]}: test suite, {AXIS_LABELS[sweep]}")
    return [_save(fig, folder, f"{name}_{sweep}.png")]


@_themed
def plot_figure_14(rows: Sequence[Row], folder: Path) -> list[Path]:
    sns, _ = _libs()
    frame = _frame(rows, ok_only=False)
    frame["platform"] = frame["platform"].map(lambda p: SETUP_LABELS.get(p, p))
    # Millions of examples/s, so that the bar labels stay short; a refused run draws as 0.
    frame["millions"] = frame["throughput"].fillna(0.0) / 1e6
    fig = new_figure(figsize=(6, 3.6))
    ax = fig.subplots()
    sns.barplot(frame, x="placement", y="millions", hue="platform", ax=ax)
    ax.set(ylabel="throughput (million examples/s)", title="Fig. 14: M2 by embedding placement")
    ax.legend(title=None, fontsize=7)
    _label_bars(ax, "{:.2f}")
    return [_save(fig, folder, "fig14_m2_placements.png")]


@_themed
def plot_table_3(rows: Sequence[Row], folder: Path) -> list[Path]:
    sns, pd = _libs()
    long = [{"model": r["model"], "measure": measure, "ratio": r[column]}
            for r in rows for measure, column in (
                ("throughput", "relative_throughput"),
                ("power efficiency", "relative_efficiency_all_servers"))
            if not math.isnan(r[column])]
    fig = new_figure(figsize=(6, 3.4))
    ax = fig.subplots()
    sns.barplot(pd.DataFrame(long), x="model", y="ratio", hue="measure", ax=ax)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set(yscale="log", ylabel="GPU / CPU", title="Table III: one Big Basin against the CPU setup")
    _plain_log(ax)
    _label_bars(ax)
    return [_save(fig, folder, "table3_relative.png")]

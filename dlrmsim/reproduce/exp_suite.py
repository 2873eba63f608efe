"""Figures 10 to 13: the Section V test-suite sweeps of dense and sparse features, batch size,
hash size and MLP width, on the CPU setup and one Big Basin."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from dlrmsim.reproduce import plots
from dlrmsim.reproduce.sweeps import BATCH, DENSE, HASH, MLP, SPARSE, Axis, plan_axes, sweep_rows
from dlrmsim.reproduce.types import Experiment, Outcomes, Row, Settings, Task


def _experiment(exp_id: str, title: str, ref: str, axes: tuple[Axis, ...],
                plot: Callable[[Sequence[Row], Path], list[Path]]) -> Experiment:
    plan: Callable[[Settings], list[Task]] = partial(plan_axes, axes)
    analyze: Callable[[Outcomes, Settings], list[Row]] = partial(sweep_rows, axes)
    return Experiment(exp_id, title, ref, plan, analyze, plot)


FIGURE_10 = _experiment("fig10", "Dense and sparse features: throughput and efficiency per watt",
                        "Figure 10, Section V-A", (DENSE, SPARSE), plots.plot_figure_10)
FIGURE_11 = _experiment("fig11", "Batch size", "Figure 11, Section V-B", (BATCH,),
                        partial(plots.plot_sweep, "fig11", "batch_size"))
FIGURE_12 = _experiment("fig12", "Hash size", "Figure 12, Section V-C", (HASH,),
                        partial(plots.plot_sweep, "fig12", "hash_size"))
FIGURE_13 = _experiment("fig13", "MLP dimensions", "Figure 13, Section V-D", (MLP,),
                        partial(plots.plot_sweep, "fig13", "mlp_width"))
EXPERIMENTS = (FIGURE_10, FIGURE_11, FIGURE_12, FIGURE_13)

"""The experiments about populations rather than single runs: Figure 5 (utilization over many
noisy runs of one model), Figures 6 and 7 (the production models' tables) and Figure 9 (server
counts over a sampled month of jobs)."""

from __future__ import annotations

from dlrmsim.reproduce import jobmix, noise, paper, plots
from dlrmsim.reproduce.types import Experiment, Outcomes, Row, Settings, Task, task
from sim.presets import load_model


def _fig5_task(run: noise.NoisyRun, settings: Settings) -> Task:
    return task(run.job, platform=run.trainer_platform, ps_platform=run.ps_platform,
                iterations=settings.iterations, seed=run.lookup_seed, resources=True)


def plan_figure_5(settings: Settings) -> list[Task]:
    return [_fig5_task(r, settings) for r in noise.draw_runs(settings.fig5_runs, settings.seed)]


def analyze_figure_5(outcomes: Outcomes, settings: Settings) -> list[Row]:
    """One row per run, server and resource: its busy fraction, with the run's configuration."""
    rows: list[Row] = []
    for run in noise.draw_runs(settings.fig5_runs, settings.seed):
        out = outcomes[_fig5_task(run, settings)]
        config = {"run": run.index, "batch_size": run.job.batch_size,
                  "hogwild_threads": run.job.hogwild_threads, "sparse_ps": run.job.sparse_ps,
                  "dense_ps": run.job.dense_ps, "throughput": out.throughput}
        rows += [{**config, "server": server, "role": noise.role_of(server), "resource": kind,
                  "utilization": busy}
                 for server, kind, busy in noise.server_utilization(out.resources)]
    return rows


def no_tasks(settings: Settings) -> list[Task]:
    return []


def analyze_figures_6_7(outcomes: Outcomes, settings: Settings) -> list[Row]:
    """One row per table of each production model: hash size and mean lookups."""
    rows: list[Row] = []
    for label, preset in paper.MODEL_PRESETS.items():
        model = load_model(preset)
        rows += [{"model": label, "preset": preset, "table": t.name, "rows": t.rows,
                  "mean_lookups": t.pooling.mean_lookups, "dense_features": model.dense_features}
                 for t in model.tables]
    return rows


def analyze_figure_9(outcomes: Outcomes, settings: Settings) -> list[Row]:
    return [{"job": j.index, "model": j.model, "trainers": j.trainers,
             "parameter_servers": j.parameter_servers}
            for j in jobmix.sample_month(settings.fig9_jobs, settings.seed)]


FIGURE_5 = Experiment("fig5", "Utilization of trainers and parameter servers over many runs",
                      "Figure 5", plan_figure_5, analyze_figure_5, plots.plot_figure_5)
FIGURES_6_7 = Experiment("fig6_7", "Hash size against lookups; distribution of mean lookups",
                         "Figures 6 and 7, Section IV", no_tasks, analyze_figures_6_7,
                         plots.plot_figures_6_7)
FIGURE_9 = Experiment("fig9", "Trainer and parameter-server counts over a month of jobs",
                      "Figure 9", no_tasks, analyze_figure_9, plots.plot_figure_9)

"""The experiments on the production models and platforms: Figure 1 (M1-M3 on CPU, Big Basin
and Zion, best placement each), Figure 14 (M2 under each placement) and Table III (GPU against
CPU: relative throughput and power efficiency with the power accounting written out)."""

from __future__ import annotations

import math

from dlrmsim.reproduce import paper, plots, table3
from dlrmsim.reproduce.types import Experiment, Outcomes, Row, Settings, Task, task
from sim.presets import load_job, load_platform
from sim.specs.job import PLACEMENTS

MODELS = ("M1", "M2", "M3")
GPU_PLATFORMS = ("big_basin", "zion")
# Sparse parameter servers holding the tables when a GPU job's placement is remote: 8, as the
# m3_gpu preset (Table III gives no count for it; assumption stated in presets/jobs/m3_gpu.yaml).
REMOTE_SPARSE_PS = 8


def _job(model: str, kind: str) -> str:
    return f"{model.lower()}_{kind}"


def cpu_task(model: str, settings: Settings) -> Task:
    return task(_job(model, "cpu"), iterations=settings.iterations, seed=settings.seed)


def gpu_task(model: str, platform: str, placement: str, settings: Settings) -> Task:
    """The model's GPU job on `platform` with `placement`; parameter servers only when remote,
    so that idle servers do not count in the power."""
    remote = REMOTE_SPARSE_PS if placement == "remote" else 0
    return task(_job(model, "gpu"), platform=platform, placement=placement, sparse_ps=remote,
                iterations=settings.iterations, seed=settings.seed)


def plan_figure_1(settings: Settings, models: tuple[str, ...] = MODELS) -> list[Task]:
    tasks = [cpu_task(m, settings) for m in models]
    tasks += [gpu_task(m, p, pl, settings) for m in models for p in GPU_PLATFORMS
              for pl in PLACEMENTS]
    return tasks


def plan_figure_14(settings: Settings) -> list[Task]:
    return plan_figure_1(settings, ("M2",))


def model_rows(model: str, outcomes: Outcomes, settings: Settings) -> list[Row]:
    """One row per platform and placement of a model (CPU: its one setup), with throughput
    relative to the model's CPU setup and whether it is the platform's best placement."""
    cpu = outcomes[cpu_task(model, settings)]
    entries = [("cpu", "remote", cpu)]
    entries += [(p, pl, outcomes[gpu_task(model, p, pl, settings)]) for p in GPU_PLATFORMS
                for pl in PLACEMENTS]
    rows = [{"model": model, "platform": platform, "placement": placement,
             "throughput": out.throughput, "examples_per_joule": out.examples_per_joule,
             "power_w": out.power_w, "relative_to_cpu": out.throughput / cpu.throughput,
             "bottleneck": out.bottleneck, "longest_phase": out.longest_phase,
             "error": out.error, "error_kind": out.error_kind, "best": False}
            for platform, placement, out in entries]
    return _mark_best(rows)


def placement_rows(outcomes: Outcomes, settings: Settings) -> list[Row]:
    return [r for m in MODELS for r in model_rows(m, outcomes, settings)]


def _mark_best(rows: list[Row]) -> list[Row]:
    best: dict[tuple[str, str], float] = {}
    for r in rows:
        if not r["error"]:
            key = (r["model"], r["platform"])
            best[key] = max(best.get(key, -math.inf), r["throughput"])
    return [{**r, "best": not r["error"] and r["throughput"] == best[(r["model"], r["platform"])]}
            for r in rows]


def analyze_figure_14(outcomes: Outcomes, settings: Settings) -> list[Row]:
    return [r for r in model_rows("M2", outcomes, settings) if r["platform"] in GPU_PLATFORMS]


def plan_table_3(settings: Settings) -> list[Task]:
    return [t for m in MODELS for t in (cpu_task(m, settings), _gpu_preset(m, settings))]


def _gpu_preset(model: str, settings: Settings) -> Task:
    return task(_job(model, "gpu"), iterations=settings.iterations, seed=settings.seed)


def preset_power_ratio() -> float:
    """Big Basin's power over the CPU server's, as the presets give them (W / W)."""
    return load_platform("big_basin").power_w / load_platform("dual_socket_cpu").power_w


def setup_of(model: str) -> table3.Setup:
    """The server counts of the model's CPU and GPU job presets."""
    cpu, gpu = load_job(_job(model, "cpu")), load_job(_job(model, "gpu"))
    remote = gpu.sparse_ps + gpu.dense_ps if gpu.placement.kind == "remote" else 0
    return table3.Setup(cpu.trainers, cpu.sparse_ps + cpu.dense_ps, gpu.trainers, remote)


def analyze_table_3(outcomes: Outcomes, settings: Settings) -> list[Row]:
    ratio = preset_power_ratio()
    rows = []
    for model in MODELS:
        cpu, gpu = outcomes[cpu_task(model, settings)], outcomes[_gpu_preset(model, settings)]
        setup = setup_of(model)
        rel = gpu.throughput / cpu.throughput
        row: Row = {"model": model, "cpu_servers": f"{setup.cpu_trainers} + "
                    f"{setup.cpu_parameter_servers}", "gpu_servers": setup.gpu_servers,
                    "gpu_remote_servers": setup.gpu_remote_servers,
                    "paper_cpu_servers": f"{paper.CPU_TRAINERS[model]} + "
                                         f"{paper.CPU_PARAMETER_SERVERS[model]}",
                    "power_ratio": ratio, "cpu_throughput": cpu.throughput,
                    "gpu_throughput": gpu.throughput, "relative_throughput": rel,
                    "cpu_power_w": cpu.power_w, "gpu_power_w": gpu.power_w,
                    "simulated_relative_efficiency": gpu.examples_per_joule
                    / cpu.examples_per_joule,
                    "paper_relative_throughput": paper.TABLE_III_RELATIVE_THROUGHPUT[model].value,
                    "paper_relative_efficiency": paper.TABLE_III_RELATIVE_EFFICIENCY[model].value}
        row["paper_accounting"] = _paper_accounting(model, setup, ratio)
        for acc in table3.ACCOUNTINGS:
            row[f"factor_{acc}"] = table3.efficiency_factor(setup, ratio, acc)
            row[f"relative_efficiency_{acc}"] = table3.relative_efficiency(rel, setup, ratio, acc)
            row[f"arithmetic_{acc}"] = table3.arithmetic(setup, ratio, acc)
        rows.append(row)
    return rows


def _paper_accounting(model: str, setup: table3.Setup, ratio: float) -> str:
    """Which accounting the paper's own Table III values follow, once both are quoted."""
    rel_t = paper.TABLE_III_RELATIVE_THROUGHPUT[model].value
    rel_e = paper.TABLE_III_RELATIVE_EFFICIENCY[model].value
    if rel_t is None or rel_e is None:
        return paper.NOT_QUOTED
    found = table3.implied_accounting(rel_t, rel_e, setup, ratio)
    return found.replace("_", " ") if found else "none of the three"


FIGURE_1 = Experiment("fig1", "Production models on CPU, Big Basin and Zion", "Figure 1",
                      plan_figure_1, placement_rows, plots.plot_figure_1)
FIGURE_14 = Experiment("fig14", "M2 under the four placements on Big Basin and Zion",
                       "Figure 14, Section VI", plan_figure_14, analyze_figure_14,
                       plots.plot_figure_14)
TABLE_3 = Experiment("table3", "GPU against CPU: relative throughput and power efficiency",
                     "Table III", plan_table_3, analyze_table_3, plots.plot_table_3)

"""`reproduce`: plan every selected experiment's simulations, run each distinct one once, turn
the outcomes into rows, figures and claim verdicts, and write the report, all into a temporary
folder that replaces the output folder only when everything is done."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dlrmsim.reproduce import outdir, report
from dlrmsim.reproduce.catalog_fleet import all_claims
from dlrmsim.reproduce.claims import evaluate
from dlrmsim.reproduce.errors import ReproduceError
from dlrmsim.reproduce.registry import Registry, default_registry
from dlrmsim.reproduce.runner import Simulator, progress_bar, run_all
from dlrmsim.reproduce.types import (
    ClaimResult,
    Experiment,
    ExperimentResult,
    Outcomes,
    Row,
    Settings,
)
from sim import demand_cache
from sim.arguments import check_path, check_whole, described
from sim.errors import ArgumentError
from sim.run import simulate

DEFAULT_OUT = "reproduce_out"
FIGURES = "figures"


@dataclass(frozen=True)
class Reproduction:
    """What a reproduction wrote: the folder, each experiment's result, the claims' verdicts,
    the number of distinct simulations and the wall time in seconds."""

    out: Path
    experiments: tuple[ExperimentResult, ...]
    claims: tuple[ClaimResult, ...]
    simulations: int
    seconds: float

    @property
    def report(self) -> Path:
        return self.out / "report.md"


def reproduce(out: str | os.PathLike[str] = DEFAULT_OUT, settings: Settings | None = None, *,
              jobs: int = 1, progress: bool | None = None, registry: Registry | None = None,
              simulator: Simulator = simulate) -> Reproduction:
    """Run the experiments of `settings` (all by default, full size) and write the report into
    `out`. Raises ReproduceError for an unwritable folder or an unknown experiment id, and
    ArgumentError, before anything runs, for an argument of the wrong type."""
    check_path("out", out, "the folder to write the report in", ReproduceError,
               optional=False)
    if settings is not None and not isinstance(settings, Settings):
        raise ArgumentError(f"settings = {described(settings)}: give a Settings, e.g. "
                            "Settings.for_mode(quick=True), or None for the full run")
    check_whole("jobs", jobs, 1)
    settings = settings or Settings.for_mode(quick=False)
    chosen = (registry or default_registry()).select(settings.only)
    began = time.perf_counter()
    with outdir.building(out) as work:
        tasks = [t for e in chosen for t in e.plan(settings)]
        outcomes = run_all(tasks, jobs=jobs, progress=progress, simulator=simulator)
        (work / FIGURES).mkdir()
        results = _results(chosen, outcomes, settings, work, progress)
        claims = _verdicts({r.experiment.id: r.rows for r in results})
        report.write(work, settings, results, claims)
        seconds = time.perf_counter() - began
        _run_info(work, settings, len(outcomes), seconds, jobs)
    final = Path(out).expanduser().absolute()
    return Reproduction(final, results, claims, len(outcomes), seconds)


def _results(chosen: Sequence[Experiment], outcomes: Outcomes, settings: Settings, work: Path,
             progress: bool | None) -> tuple[ExperimentResult, ...]:
    bar = progress_bar(len(chosen), "figures", progress)
    try:
        done = []
        for experiment in chosen:
            bar.set_postfix_str(experiment.id, refresh=False)
            done.append(_result(experiment, outcomes, settings, work))
            bar.update(1)
        return tuple(done)
    finally:
        bar.close()


def _result(experiment: Experiment, outcomes: Outcomes, settings: Settings,
            work: Path) -> ExperimentResult:
    rows = tuple(experiment.analyze(outcomes, settings))
    figures = experiment.plot(rows, work / FIGURES)
    return ExperimentResult(experiment, rows, tuple(str(p.relative_to(work)) for p in figures))


def verdicts(settings: Settings, *, registry: Registry | None = None,
             simulator: Simulator = simulate) -> tuple[ClaimResult, ...]:
    """The verdicts of the claims on the experiments of `settings`, from the same runs and
    checks as `reproduce`, without figures or a report: what the test suite asserts, so that
    the tests and the report cannot disagree on a claim. Raises ReproduceError for an unknown
    experiment id."""
    chosen = (registry or default_registry()).select(settings.only)
    tasks = [t for e in chosen for t in e.plan(settings)]
    outcomes = run_all(tasks, jobs=1, progress=False, simulator=simulator)
    return _verdicts({e.id: tuple(e.analyze(outcomes, settings)) for e in chosen})


def _verdicts(rows: dict[str, tuple[Row, ...]]) -> tuple[ClaimResult, ...]:
    """The claims whose experiment ran, evaluated on the rows by experiment id."""
    return tuple(evaluate([c for c in all_claims() if c.experiment in rows], rows))


def _run_info(work: Path, settings: Settings, simulations: int, seconds: float,
              jobs: int) -> None:
    """Timing and load of this run, and what shaped its time (experiments chosen with --only,
    simulations at once with --jobs), kept apart from the report so that the report itself
    does not change from run to run."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    cache = demand_cache.cache_folder()  # lookups found there cost no drawing time
    info = {"mode": settings.mode, "seed": settings.seed, "only": list(settings.only),
            "jobs": jobs, "simulations": simulations,
            "seconds": round(seconds, 1), "cpus": os.cpu_count(),
            "load_average_1_5_15_min": [round(x, 2) for x in load],
            "demand_cache": None if cache is None else str(cache)}
    (work / "run_info.json").write_text(json.dumps(info, indent=2) + "\n")

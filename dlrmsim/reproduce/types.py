"""The data types every stage of `dlrmsim reproduce` shares: settings, simulation tasks and their
outcomes, result rows, experiments, claims and verdicts. Stages return new values of these types;
none of them reaches into the simulator's internals."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.arguments import check_whole, described
from sim.errors import ArgumentError
from sim.specs import JobSpec

# One flat record of an experiment's results (a CSV row); the keys are the experiment's columns.
Row = dict[str, Any]
# Rows by experiment id: what claims are evaluated on.
Rows = Mapping[str, Sequence[Row]]

# Simulated iterations per worker, warm-up included: quick mode keeps a run to a fraction of a
# second; full mode uses the simulator's own default (40), whose batch-means error is < 1%.
# Quick mode's 12 leave a window of 10 after the warm-up of 2: one whole EASGD period of the
# CPU presets (easgd_period 10, one Hogwild thread), so each CPU trainer syncs exactly once in
# it. With 6 the window of 5 held no sync of the test suite's one trainer: its CPU setup ran
# 9% fast, and Big Basin / CPU read 22x-39x against the full run's 26x-45x.
QUICK_ITERATIONS = 12
FULL_ITERATIONS = 40
# Figure 5: runs of one model at a fixed scale (each run a configuration and a noise draw).
QUICK_FIG5_RUNS, FULL_FIG5_RUNS = 12, 80
# Figure 9: jobs in the sampled month (no simulation, only counts).
QUICK_FIG9_JOBS, FULL_FIG9_JOBS = 300, 3000


@dataclass(frozen=True)
class Settings:
    """How big a reproduction is. `only` limits it to some experiment ids (empty: all).

    The sizes default to the full run's, whatever `quick` says: `Settings.for_mode(True)` gives
    the quick run's sizes (what `reproduce --quick` runs), `Settings(quick=True)` only labels a
    full-size run quick. Raises ArgumentError (a DlrmsimInputError, and so a ValueError) on a
    bad field.
    """

    quick: bool = False
    seed: int = 0
    iterations: int = FULL_ITERATIONS
    fig5_runs: int = FULL_FIG5_RUNS
    fig9_jobs: int = FULL_FIG9_JOBS
    only: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.quick, bool):
            raise ArgumentError(f"quick = {described(self.quick)}: give True or False")
        check_whole("seed", self.seed, 0)
        check_whole("iterations", self.iterations, 3)
        check_whole("fig5_runs", self.fig5_runs, 2)
        check_whole("fig9_jobs", self.fig9_jobs, 2)
        # A string is a sequence of its letters: "fig1" would ask for experiments f, i, g, 1.
        if isinstance(self.only, str) or not isinstance(self.only, Sequence) or not all(
                isinstance(i, str) for i in self.only):
            raise ArgumentError(f"only = {described(self.only)}: give a tuple of experiment ids, "
                                "e.g. ('fig1', 'table3'), or () for all")

    @classmethod
    def for_mode(cls, quick: bool, seed: int = 0, only: Sequence[str] = ()) -> Settings:
        ids: Any = only if isinstance(only, str) else tuple(only)  # a string refused, not split
        if quick:
            return cls(True, seed, QUICK_ITERATIONS, QUICK_FIG5_RUNS, QUICK_FIG9_JOBS, ids)
        return cls(False, seed, FULL_ITERATIONS, FULL_FIG5_RUNS, FULL_FIG9_JOBS, ids)

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"


@dataclass(frozen=True)
class Task:
    """One call of `sim.run.simulate`: a job name (or None) and sorted keyword arguments.

    Hashable, so that experiments asking for the same run share one simulation. `resources`
    asks to keep per-resource utilization (Figure 5 needs it; the rest do not).
    """

    job: str | JobSpec | None
    options: tuple[tuple[str, Any], ...]
    resources: bool = False

    def kwargs(self) -> dict[str, Any]:
        return dict(self.options)

    def label(self) -> str:
        parts = [f"{k}={getattr(v, 'name', v)}" for k, v in self.options
                 if k not in ("iterations", "seed")]
        job = self.job if isinstance(self.job, str) else getattr(self.job, "name", "-")
        return " ".join([job, *parts])


def task(job: str | JobSpec | None, *, resources: bool = False, **options: Any) -> Task:
    """A Task with the options that are not None, sorted by name."""
    kept = tuple(sorted((k, v) for k, v in options.items() if v is not None))
    return Task(job, kept, resources)


@dataclass(frozen=True)
class Outcome:
    """What one Task gave: the result's headline figures, or `error` (with `error_kind`) when the
    simulator refused the input (for example tables that do not fit where the placement puts
    them)."""

    throughput: float = math.nan
    examples_per_joule: float = math.nan
    power_w: float = math.nan
    bottleneck: str = ""
    # SimResult.throughput_rse: the relative standard error of the throughput, and so of
    # examples_per_joule (the same throughput over a fixed power).
    throughput_rse: float = math.nan
    utilization: dict[str, dict[str, float]] = field(default_factory=dict)
    resources: dict[str, float] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)  # SimResult.phase_time_s
    notes: tuple[str, ...] = ()  # SimResult.notes: what to read before trusting the figures
    error: str = ""
    # The class of the refusal (e.g. "PlacementError" for tables that do not fit), so that a
    # claim about fitting is decided by a memory refusal and not by any error at all.
    error_kind: str = ""

    @property
    def longest_phase(self) -> str:
        """The phase of the step that takes the most of a mean iteration, with its share, e.g.
        "all_to_all 41%" ("" without phases)."""
        total = sum(self.phases.values())
        if total <= 0:
            return ""
        name, seconds = max(self.phases.items(), key=lambda kv: (kv[1], kv[0]))
        return f"{name} {seconds / total:.0%}"

    @property
    def ok(self) -> bool:
        return not self.error


Outcomes = Mapping[Task, Outcome]


@dataclass(frozen=True)
class Experiment:
    """One experiment of the paper: which simulations it needs (`plan`), how it turns their
    outcomes into rows (`analyze`) and how it draws them (`plot`, into a folder, returning the
    files written)."""

    id: str
    title: str
    paper_ref: str
    plan: Callable[[Settings], list[Task]]
    analyze: Callable[[Outcomes, Settings], list[Row]]
    plot: Callable[[Sequence[Row], Path], list[Path]]


@dataclass(frozen=True)
class Verdict:
    """The result of checking one claim: `status` is pass, fail or not compared (ValueError
    otherwise), `detail` the numbers it was decided on."""

    status: str
    detail: str

    def __post_init__(self) -> None:
        if self.status not in VERDICTS:
            raise ValueError(f"status = {self.status!r}: one of {', '.join(VERDICTS)}")


PASS, FAIL, NOT_COMPARED = "pass", "fail", "not compared"
VERDICTS = (PASS, FAIL, NOT_COMPARED)


@dataclass(frozen=True)
class Claim:
    """One statement of the paper (our paraphrase, with its section) and the check on our rows
    that decides whether it holds; `method` says in words what the check computes."""

    id: str
    experiment: str
    source: str
    statement: str
    method: str
    check: Callable[[Rows], Verdict]


@dataclass(frozen=True)
class ClaimResult:
    """A claim with its verdict, as the report and `claims.json` show it."""

    claim: Claim
    verdict: Verdict

    def to_dict(self) -> dict[str, str]:
        c = self.claim
        return {"id": c.id, "experiment": c.experiment, "source": c.source,
                "statement": c.statement, "method": c.method, "status": self.verdict.status,
                "detail": self.verdict.detail}


@dataclass(frozen=True)
class ExperimentResult:
    """An experiment's rows and figures (paths relative to the output folder)."""

    experiment: Experiment
    rows: tuple[Row, ...]
    figures: tuple[str, ...]

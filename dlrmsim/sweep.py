"""A grid of simulations: one job (or model on a platform) with some of its settings varied, every
combination simulated, and the best by throughput or by examples per joule picked out. This is
`dlrmsim sweep`, and callable from notebooks:

    from dlrmsim.sweep import sweep
    done = sweep("m2_cpu", {"trainers": (4, 8, 16), "sparse_ps": (4, 8)}, iterations=20)
    done.best("throughput").settings      # {'trainers': 16, 'sparse_ps': 8}

A combination the simulator refuses (tables that do not fit where the placement puts them,
remote placement without sparse parameter servers) is a point with an `error`, not the end of
the sweep; an unknown preset or a value of the wrong type (a count given as '4', an axis as
one value instead of a list) ends it before anything runs, and a sweep whose every point fails
ends in an error too. (`dlrmsim sweep` also refuses bad values, such as a count below 1, as it
parses.)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dlrmsim.reproduce.runner import run_all
from dlrmsim.reproduce.types import Outcome, Task, task
from sim.arguments import check_whole, described
from sim.errors import ArgumentError, DlrmsimInputError, PresetError
from sim.run import DEFAULT_ITERATIONS, check_run_options, resolve

# The settings a sweep can vary: `sim.run.simulate`'s keywords, as the CLI's flags name them.
TEXT_AXES = ("model", "platform", "ps_platform", "placement", "sharding", "packing")
COUNT_AXES = ("batch_size", "trainers", "sparse_ps", "dense_ps", "readers", "hogwild", "gpus")
AXES = TEXT_AXES + COUNT_AXES
# Most points one sweep runs (count): a guard against a typo that multiplies the grid (each
# point takes about 0.5-2 s on the 2-core development VM); a choice, not a measurement.
MAX_POINTS = 1000
# What a sweep can rank its points by: a key of `SweepPoint.figures`.
METRICS = ("throughput", "examples_per_joule")


@dataclass(frozen=True)
class SweepPoint:
    """One combination of the swept settings and what simulating it gave."""

    settings: dict[str, Any]
    outcome: Outcome

    @property
    def ok(self) -> bool:
        return self.outcome.ok

    def label(self) -> str:
        return _label(self.settings) or "the job as given"  # a sweep that varies nothing

    def figures(self) -> dict[str, Any]:
        out = self.outcome
        return {"throughput": out.throughput, "throughput_rse": out.throughput_rse,
                "examples_per_joule": out.examples_per_joule, "power_w": out.power_w,
                "bottleneck": out.bottleneck, "longest_phase": out.longest_phase,
                "error": out.error, "notes": list(out.notes)}

    def to_dict(self) -> dict[str, Any]:
        figures = {"throughput_examples_per_s" if k == "throughput" else k: v
                   for k, v in self.figures().items()}
        return {**self.settings, **{k: _json_number(v) for k, v in figures.items()}}

    def error(self, metric: str) -> float:
        """The standard error of `metric` (throughput or examples per joule, which share their
        relative error), in its unit."""
        return self.figures()[metric] * self.outcome.throughput_rse


@dataclass(frozen=True)
class Sweep:
    """The points of a sweep in grid order (the first axis varies slowest)."""

    job: str | None
    axes: dict[str, tuple[Any, ...]]
    fixed: dict[str, Any]
    points: tuple[SweepPoint, ...]

    @property
    def failed(self) -> tuple[SweepPoint, ...]:
        return tuple(p for p in self.points if not p.ok)

    def best(self, metric: str) -> SweepPoint | None:
        """The point with the highest `metric` (one of METRICS); the earliest in grid order on
        a tie; None when every point failed."""
        check_metric(metric)
        done = [p for p in self.points if p.ok]
        return max(done, key=lambda p: p.figures()[metric]) if done else None

    def notes(self) -> dict[str, int]:
        """Each distinct note of the points (see SimResult.notes) and how many points had it,
        in the order they first came."""
        counts: dict[str, int] = {}
        for point in self.points:
            for note in point.outcome.notes:
                counts[note] = counts.get(note, 0) + 1
        return counts

    def ranked(self, metric: str) -> list[SweepPoint]:
        """The points that ran, best first by `metric` (grid order on ties)."""
        check_metric(metric)
        return sorted((p for p in self.points if p.ok), key=lambda p: -p.figures()[metric])

    def within_noise(self, metric: str) -> tuple[SweepPoint, SweepPoint] | None:
        """The best two points by `metric` when they differ by less than their combined
        standard error (their errors added in quadrature), so that which comes first may be
        the run's noise; None when they are further apart or fewer than two points ran."""
        ranked = self.ranked(metric)
        if len(ranked) < 2:
            return None
        first, second = ranked[:2]
        gap = first.figures()[metric] - second.figures()[metric]
        return (first, second) if gap < combined_error(first, second, metric) else None

    def to_dict(self) -> dict[str, Any]:
        best = {m: (p.settings if (p := self.best(m)) else None) for m in METRICS}
        return {"job": self.job, "axes": {k: list(v) for k, v in self.axes.items()},
                "fixed": self.fixed, "points": [p.to_dict() for p in self.points], "best": best}


def check_metric(metric: object) -> None:
    """ArgumentError unless `metric` is one a sweep ranks by (METRICS)."""
    if metric not in METRICS:
        raise ArgumentError(f"metric = {described(metric)}: give one of {', '.join(METRICS)}")


def combined_error(first: SweepPoint, second: SweepPoint, metric: str) -> float:
    """The standard error of the difference of two points' `metric`: their errors in quadrature,
    the runs being independent."""
    return math.hypot(first.error(metric), second.error(metric))


def grid(axes: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, the first axis varying slowest.

    Raises DlrmsimInputError for an unknown axis, an axis without values, a count that is not
    a whole number, or more than MAX_POINTS combinations.
    """
    if not isinstance(axes, Mapping):
        raise ArgumentError(f"axes = {described(axes)}: give a mapping of settings to their "
                            "values, e.g. {'trainers': (4, 8)}")
    unknown = [str(name) for name in axes if name not in AXES]
    if unknown:
        raise DlrmsimInputError(f"cannot sweep {', '.join(unknown)}: the settings a sweep varies "
                                f"are {', '.join(AXES)}")
    for name, values in axes.items():
        _check_values(name, values)
    empty = [name for name, values in axes.items() if not values]
    if empty:
        raise DlrmsimInputError(f"sweep axis {empty[0]} has no values; give at least one")
    count = math.prod(len(values) for values in axes.values())
    if count > MAX_POINTS:
        sizes = " x ".join(f"{len(v)} {k}" for k, v in axes.items())
        raise DlrmsimInputError(f"the sweep has {count:,} points ({sizes}), more than "
                                f"{MAX_POINTS:,}; give fewer values per axis")
    names = list(axes)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes.values())]


def _check_values(name: str, values: object) -> None:
    """ArgumentError unless an axis's values are a list (or tuple, range) and, for a count, whole
    numbers (or None: the job's own): a count out of range is a point that fails alone, as in
    the command line's grid, but a value of another type could never run."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise ArgumentError(f"sweep axis {name} = {described(values)}: give a list or tuple of "
                            "its values, e.g. {'trainers': (4, 8)} or {'placement': ('gpu', "
                            "'system')}")
    if name in COUNT_AXES:
        wrong = [v for v in values if v is not None and (
            not isinstance(v, int) or isinstance(v, bool))]
        if wrong:
            raise ArgumentError(f"sweep axis {name}: {described(wrong[0])} is not a whole "
                                f"number; give ints, e.g. {{'{name}': (4, 8)}}")


def sweep(job: str | None, axes: Mapping[str, Sequence[Any]], *, model: str | None = None,
          platform: str | None = None, profile: str | None = None, trace: str | None = None,
          iterations: int = DEFAULT_ITERATIONS, target_rse: float | None = None, seed: int = 0,
          jobs: int = 1, progress: bool | None = None) -> Sweep:
    """Simulate `job` (or `model` on `platform`) at every combination of `axes` (settings named
    as in AXES, each with its values); the other arguments are the same for every point, as in
    `sim.run.simulate`. `jobs` > 1 runs points in that many processes: same results.

    Raises DlrmsimInputError before running anything when a point names a preset that does not
    exist, and after, when every point failed (with the first point's error); a combination
    the specs or the placement refuse is one failed point among the others. Raises
    ArgumentError before running anything for a setting of the wrong type.
    """
    check_run_options(profile=profile, trace=trace, iterations=iterations, seed=seed,
                      target_rse=target_rse)
    check_whole("jobs", jobs, 1)
    fixed = {"model": model, "platform": platform}
    clash = [name for name, value in fixed.items() if value is not None and name in axes]
    if clash:
        raise DlrmsimInputError(f"{clash[0]} is given both as a fixed value and as a sweep axis; "
                                "give it one way")
    combos = grid(axes)
    tasks = [_task(job, {**fixed, **combo}, profile=profile, trace=trace, iterations=iterations,
                       target_rse=target_rse, seed=seed) for combo in combos]
    outcomes = run_all(tasks, jobs=jobs, progress=progress)
    points = tuple(SweepPoint(combo, outcomes[t]) for combo, t in zip(combos, tasks, strict=True))
    if points and all(not p.ok for p in points):
        first = points[0]
        raise DlrmsimInputError(f"every point of the sweep failed; the first ({first.label()}): "
                                f"{first.outcome.error}")
    kept = {k: v for k, v in {**fixed, "profile": profile, "trace": trace,
                              "iterations": iterations, "target_rse": target_rse,
                              "seed": seed}.items() if v is not None}
    return Sweep(job, {k: tuple(v) for k, v in axes.items()}, kept, points)


def _task(job: str | None, settings: dict[str, Any], **fixed: Any) -> Task:
    """The simulation of one point. Its presets are loaded first: a name that does not exist is
    the user's to fix before anything runs, while a combination the specs refuse (remote
    placement without sparse parameter servers) is one failed point among the others."""
    try:
        resolve(job, settings.get("model"), settings.get("platform"),
                settings.get("ps_platform"), settings.get("placement"),
                {k: settings.get(k) for k in COUNT_AXES},
                sharding=settings.get("sharding"), packing=settings.get("packing"))
    except (PresetError, ArgumentError) as err:  # a name or a value that no point can run with
        raise DlrmsimInputError(f"sweep point {_label(settings) or job}: {err}") from None
    except DlrmsimInputError:
        pass  # simulating the point says the same, as the point's error
    return task(job, **settings, **fixed)


def _label(settings: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in settings.items() if v is not None)


def _json_number(value: Any) -> Any:
    """NaN (a failed point's figures) and infinity (the error of a run too short to estimate
    it) as null: JSON has neither."""
    return None if isinstance(value, float) and not math.isfinite(value) else value

"""Measure an op's planned points, in order, within a wall-clock deadline."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from calibrate.clock import Clock
from calibrate.kernels.collectives import CollectiveError
from calibrate.measure import time_kernel
from calibrate.opspec import OpSpec
from calibrate.plan import Plan, PlannedPoint
from calibrate.types import Measurement, TimingPolicy

Progress = Callable[[str], None]


@dataclass
class SweepResult:
    """Measurements of one op and the points that could not be measured, with reasons."""

    measurements: list[Measurement] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0


def _out_of_memory(err: BaseException) -> bool:
    text = str(err).lower()
    return isinstance(err, MemoryError) or "out of memory" in text or "can't allocate" in text


def _measurement(spec: OpSpec, planned: PlannedPoint, result: tuple[Any, ...]) -> Measurement:
    samples, summary, flagged, attempts, inner = result[:5]
    observed = result[5] if len(result) > 5 else {}
    extra: dict[str, Any] = {"role": planned.point.role,
                             "load_1m": round(os.getloadavg()[0], 2)}  # disturbance hint
    if len(result) > 6 and result[6] is not None:
        paired_median_s, paired_flagged = result[6]
        extra["paired_median_s"] = float(paired_median_s)
        extra["paired_flagged"] = bool(paired_flagged)
    if planned.notes:
        extra["notes"] = list(planned.notes)
    return Measurement(
        op=spec.name, backend=spec.backend, params={**planned.point.params, **observed},
        samples_s=tuple(float(s) for s in samples), median_s=float(summary["median_s"]),
        spread=float(summary["spread"]), flagged=bool(flagged), held_out=planned.point.held_out,
        attempts=int(attempts), inner=int(inner), extra=extra)


def _have_one_like(result: SweepResult, planned: PlannedPoint) -> bool:
    """Whether a point of the same kind (fitted or held out) was measured already."""
    return any(m.held_out == planned.point.held_out for m in result.measurements)


def _measure_one(
    spec: OpSpec, planned: PlannedPoint, seed: int, clock: Clock, policy: TimingPolicy
) -> tuple[Any, ...]:
    assert spec.make is not None  # checked by OpSpec
    kernel = spec.make(dict(planned.point.params), seed)
    try:
        samples, summary, flagged, attempts, inner = time_kernel(kernel, clock, policy)
        observe = getattr(kernel, "observed_params", None)
        observed = dict(observe()) if observe is not None else {}
    finally:
        kernel.close()
    paired = None
    if spec.paired_make is not None:
        twin = spec.paired_make(dict(planned.point.params), seed)
        try:
            _, twin_summary, twin_flagged = time_kernel(twin, clock, policy)[:3]
            paired = (twin_summary.median_s, twin_flagged)
        finally:
            twin.close()
    return (samples, {"median_s": summary.median_s, "spread": summary.spread}, flagged, attempts,
            inner, observed, paired)


def run_sweep(
    spec: OpSpec,
    plan: Plan,
    clock: Clock,
    policy: TimingPolicy,
    seed: int,
    deadline_s: float,
    progress: Progress = lambda label: None,
    now: Callable[[], float] = time.monotonic,
) -> SweepResult:
    """Measure `plan`'s points of `spec`. Points not started before `deadline_s` (a `now()`
    reading) are skipped with reason "deadline", except that the op always gets one fitted and
    one held-out point where the plan has them, so that a slow host still yields a model and
    its error for every op; a point that runs out of memory is skipped."""
    result, start = SweepResult(), now()
    if spec.measure_group is not None:
        return _run_group(spec, plan, progress, now, start)
    for index, planned in enumerate(plan.points):
        progress(spec.name)
        if now() > deadline_s and _have_one_like(result, planned):
            result.skipped.append({"params": dict(planned.point.params), "reason": "deadline"})
            continue
        try:
            outcome = _measure_one(spec, planned, seed * 1000 + index, clock, policy)
        except (RuntimeError, MemoryError) as err:
            if not _out_of_memory(err):
                raise
            result.skipped.append({"params": dict(planned.point.params), "reason": "out of memory"})
            continue
        result.measurements.append(_measurement(spec, planned, outcome))
    result.wall_s = now() - start
    return result


def _run_group(
    spec: OpSpec, plan: Plan, progress: Progress, now: Callable[[], float], start: float
) -> SweepResult:
    assert spec.measure_group is not None
    result = SweepResult()
    try:
        outcomes = spec.measure_group([dict(p.point.params) for p in plan.points])
    except CollectiveError as err:
        result.skipped = [{"params": dict(p.point.params), "reason": str(err)}
                          for p in plan.points]
        outcomes = []
    for planned, outcome in zip(plan.points, outcomes, strict=False):
        result.measurements.append(_measurement(spec, planned, outcome))
    for _ in plan.points:
        progress(spec.name)
    result.wall_s = now() - start
    return result

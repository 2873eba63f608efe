"""Fit a grid into memory and time budgets, by a-priori estimates only, so the same seed and
limits always give the same plan. Points too large are shrunk (a parameter halved until the
point fits); when the op's estimated total still exceeds its budget, the most expensive
non-essential points are skipped. Every shrink and skip is recorded in the profile."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from calibrate.grid import Axis
from calibrate.opspec import OpSpec
from calibrate.types import GridPoint

RETRY_ALLOWANCE = 1.25  # expected extra samples from re-measuring noisy points (factor, guess)
MIN_HELD_OUT = 2  # held-out points (count) kept even when the budget is tight


@dataclass(frozen=True)
class Limits:
    """memory_cap_bytes: most bytes one point may allocate. max_call_s: most estimated seconds of
    one call. budget_s: estimated seconds for all of one op's points. samples_per_point: timed
    calls per point (first + warm-up + repeats, count). min_sample_s: seconds one sample lasts at
    least. max_inner: most calls per sample. Raises ValueError for non-positive limits."""

    memory_cap_bytes: float
    max_call_s: float
    budget_s: float
    samples_per_point: int
    min_sample_s: float
    max_inner: int

    def __post_init__(self) -> None:
        for name in ("memory_cap_bytes", "max_call_s", "budget_s", "samples_per_point"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class PlannedPoint:
    """A grid point as it will be measured, its estimated wall seconds, and what was changed."""

    point: GridPoint
    est_s: float
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """The points of one op to measure, and the points skipped with their reasons."""

    op: str
    points: tuple[PlannedPoint, ...]
    skipped: tuple[dict[str, Any], ...]

    @property
    def est_total_s(self) -> float:
        return sum(p.est_s for p in self.points)

    def describe(self) -> dict[str, Any]:
        return {
            "points": len(self.points),
            "held_out": sum(p.point.held_out for p in self.points),
            "estimated_s": round(self.est_total_s, 3),
            "changed": [{"params": dict(p.point.params), "notes": list(p.notes)}
                        for p in self.points if p.notes],
            "skipped": list(self.skipped),
        }


def point_cost_s(spec: OpSpec, params: dict[str, float], limits: Limits) -> float:
    """Estimated wall seconds to build and time one point."""
    call_s = max(spec.estimate_s(params), 1e-9)
    inner = max(1, min(limits.max_inner, int(limits.min_sample_s / call_s) + 1))
    sample_s = inner * (call_s + spec.prepare_s(params))
    return spec.setup_s(params) + limits.samples_per_point * sample_s * RETRY_ALLOWANCE


def _shrink(
    params: dict[str, float], names: Sequence[str], axes: dict[str, Axis], fits: Any
) -> tuple[dict[str, float] | None, list[str]]:
    """Halve `names` in order (not below the axis minimum) until `fits(params)`."""
    current, notes = dict(params), []
    for name in names:
        floor = axes[name].lo if name in axes and not axes[name].choices else 1.0
        while not fits(current) and current[name] / 2 >= floor:
            current[name] = float(round(current[name] / 2))
        if current[name] != params[name]:
            notes.append(f"{name} {params[name]:g} -> {current[name]:g}")
    return (current if fits(current) else None), notes


def _fit_point(spec: OpSpec, point: GridPoint, limits: Limits) -> tuple[PlannedPoint | None, str]:
    axes = {axis.name: axis for axis in spec.design.axes}
    params = dict(point.params)
    fits_memory = lambda p: spec.memory_bytes(p) <= limits.memory_cap_bytes  # noqa: E731
    fits_time = lambda p: spec.estimate_s(p) <= limits.max_call_s  # noqa: E731
    params_m, notes_m = _shrink(params, spec.shrink_for_memory, axes, fits_memory)
    if params_m is None:
        return None, "memory cap"
    params_t, notes_t = _shrink(params_m, spec.shrink_for_time, axes, fits_time)
    if params_t is None:
        return None, "time per call"
    notes = [f"{n} (memory cap)" for n in notes_m] + [f"{n} (time per call)" for n in notes_t]
    fitted = GridPoint(params=params_t, role=point.role, held_out=point.held_out)
    return PlannedPoint(fitted, point_cost_s(spec, params_t, limits), tuple(notes)), ""


def _trim_to_budget(
    points: list[PlannedPoint], budget_s: float
) -> tuple[list[PlannedPoint], list[PlannedPoint]]:
    """Drop the most expensive sweep/lhs points, then held-out ones down to MIN_HELD_OUT."""
    kept, dropped = list(points), []

    def total() -> float:
        return sum(p.est_s for p in kept)

    for removable in (
        lambda p: p.point.role != "centre" and not p.point.held_out,
        lambda p: p.point.held_out and sum(q.point.held_out for q in kept) > MIN_HELD_OUT,
    ):
        while total() > budget_s:
            candidates = [p for p in kept if removable(p)]
            if not candidates:
                break
            worst = max(candidates, key=lambda p: p.est_s)
            kept.remove(worst)
            dropped.append(worst)
    return kept, dropped


def plan_op(spec: OpSpec, grid: Sequence[GridPoint], limits: Limits) -> Plan:
    """Shrink or skip `grid`'s points so that they fit `limits`."""
    planned, skipped = [], []
    seen: set[tuple[tuple[str, float], ...]] = set()
    for point in grid:
        fitted, reason = _fit_point(spec, point, limits)
        if fitted is None:
            skipped.append({"params": dict(point.params), "reason": reason})
            continue
        key = tuple(sorted(fitted.point.params.items()))
        if key in seen:
            skipped.append({"params": dict(point.params), "reason": "duplicate after shrinking"})
            continue
        seen.add(key)
        planned.append(fitted)
    kept, dropped = _trim_to_budget(planned, limits.budget_s)
    skipped += [{"params": dict(p.point.params), "reason": "op time budget"} for p in dropped]
    return Plan(op=spec.name, points=tuple(kept), skipped=tuple(skipped))

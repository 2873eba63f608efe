"""Experimental design: which points of an op's parameter space to measure.

The full cross product of the ranges is far too large, so a design joins three parts, all
deterministic for a seed: each centre point; one-at-a-time sweeps of every axis through a centre
(these show each parameter's effect alone); and a Latin-hypercube sample over all axes (which
covers interactions and extremes). A fraction of the Latin-hypercube points is held out of the fit
to measure its error on points it has not seen.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from calibrate.types import GridPoint


@dataclass(frozen=True)
class Axis:
    """One parameter's range: log-spaced between `lo` and `hi` (inclusive), rounded to integers
    if `integer`, or drawn from `choices` when given. Raises ValueError for an empty range."""

    name: str
    lo: float
    hi: float
    integer: bool = True
    choices: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not 0 < self.lo <= self.hi and not self.choices:
            raise ValueError(f"axis {self.name}: need 0 < lo <= hi, got {self.lo}, {self.hi}")

    def _round(self, value: float) -> float:
        return float(round(value)) if self.integer else value

    def sweep(self, count: int) -> list[float]:
        """`count` values spanning the axis (all choices when the axis has them)."""
        if self.choices:
            return list(self.choices)
        if count < 2 or self.lo == self.hi:
            return [self._round(self.lo)]
        ratio = (self.hi / self.lo) ** (1.0 / (count - 1))
        return sorted({self._round(self.lo * ratio**i) for i in range(count)})

    def at(self, unit: float) -> float:
        """The value at position `unit` in [0, 1) along the axis (log scale, or choice index)."""
        if self.choices:
            return self.choices[min(len(self.choices) - 1, int(unit * len(self.choices)))]
        return self._round(self.lo * (self.hi / self.lo) ** unit)

    def describe(self) -> dict[str, object]:
        if self.choices:
            return {"choices": list(self.choices)}
        return {"lo": self.lo, "hi": self.hi, "scale": "log", "integer": self.integer}


@dataclass(frozen=True)
class Design:
    """Centres, sweep length per axis (count), Latin-hypercube size (count) and held-out
    fraction of those. Raises ValueError when a centre misses an axis or the fraction is not in
    [0, 1)."""

    axes: tuple[Axis, ...]
    centres: tuple[Mapping[str, float], ...]
    sweep_points: int
    lhs_points: int
    held_out_fraction: float = 0.3
    fixed: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = {axis.name for axis in self.axes}
        for centre in self.centres:
            if set(centre) != names:
                raise ValueError(f"centre {dict(centre)} must set exactly the axes {sorted(names)}")
        if not 0 <= self.held_out_fraction < 1:
            raise ValueError(f"held_out_fraction must be in [0, 1), got {self.held_out_fraction}")

    def describe(self) -> dict[str, object]:
        return {
            "axes": {axis.name: axis.describe() for axis in self.axes},
            "fixed": dict(self.fixed),
            "centres": [dict(c) for c in self.centres],
            "sweep_points_per_axis": self.sweep_points,
            "latin_hypercube_points": self.lhs_points,
            "held_out_fraction_of_lhs": self.held_out_fraction,
        }


def latin_hypercube(axes: Sequence[Axis], count: int, rng: random.Random) -> list[dict[str, float]]:
    """`count` points whose projections on each axis fall one per stratum of [0, 1)."""
    columns = {}
    for axis in axes:
        strata = list(range(count))
        rng.shuffle(strata)
        columns[axis.name] = [axis.at((s + rng.random()) / count) for s in strata]
    return [{axis.name: columns[axis.name][i] for axis in axes} for i in range(count)]


def build_grid(design: Design, seed: int) -> list[GridPoint]:
    """The design's points in measuring order, without duplicates; same seed, same grid."""
    rng = random.Random(seed)
    points: list[GridPoint] = []
    seen: set[tuple[tuple[str, float], ...]] = set()

    def add(params: Mapping[str, float], role: str, held_out: bool = False) -> None:
        full = {**params, **design.fixed}
        key = tuple(sorted(full.items()))
        if key not in seen:
            seen.add(key)
            points.append(GridPoint(params=full, role=role, held_out=held_out))

    for centre in design.centres:
        add(centre, "centre")
        for axis in design.axes:
            for value in axis.sweep(design.sweep_points):
                add({**centre, axis.name: value}, "sweep")
    sample = latin_hypercube(design.axes, design.lhs_points, rng)
    held = math.ceil(design.held_out_fraction * len(sample)) if len(sample) >= 2 else 0
    held_indices = set(rng.sample(range(len(sample)), held))
    for i, params in enumerate(sample):
        add(params, "lhs", held_out=i in held_indices)
    return points

"""Evaluating the paper's claims on result rows: the helpers the claim checks share, and
`evaluate`, which never lets a claim's check decide on missing data: a missing experiment or
point gives "not compared", a value we do not quote from the paper too."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

from dlrmsim.reproduce.types import (
    FAIL,
    NOT_COMPARED,
    PASS,
    Claim,
    ClaimResult,
    Row,
    Rows,
    Verdict,
)

# A throughput "falls" along a sweep when no step rises by more than STEP_SLACK (the simulator's
# batch-means error is ~1%, so a 2% rise is noise) and the last point is at least FALL_FRACTION
# below the first (fractions).
STEP_SLACK = 0.02
FALL_FRACTION = 0.10


class MissingData(LookupError):
    """The rows a claim needs are not there (experiment not run, point not swept, run refused)."""


def need(rows: Rows, experiment: str) -> Sequence[Row]:
    if experiment not in rows or not rows[experiment]:
        raise MissingData(f"experiment {experiment} was not run")
    return rows[experiment]


def series(rows: Sequence[Row], sweep: str, setup: str, column: str = "throughput"
           ) -> list[tuple[int, float]]:
    """(value, column) along a sweep for one setup, by value; MissingData if a point failed."""
    points = sorted((r["value"], r) for r in rows if r["sweep"] == sweep and r["setup"] == setup)
    if not points:
        raise MissingData(f"sweep {sweep} on {setup} was not run")
    failed = [v for v, r in points if r.get("error")]
    if failed:
        raise MissingData(f"sweep {sweep} on {setup} failed at {failed}")
    return [(v, float(r[column])) for v, r in points]


def paired(rows: Sequence[Row], sweep: str, column: str = "throughput"
           ) -> list[tuple[int, float, float]]:
    """(value, CPU, Big Basin) along a sweep, matched by swept value; MissingData if a point
    failed or the two setups were not swept at the same values."""
    cpu, gpu = dict(series(rows, sweep, "cpu", column)), dict(series(rows, sweep, "gpu", column))
    if cpu.keys() != gpu.keys():
        raise MissingData(f"sweep {sweep}: the CPU setup ran {sorted(cpu)}, Big Basin "
                          f"{sorted(gpu)}; the claim compares them point by point")
    return [(value, cpu[value], gpu[value]) for value in sorted(cpu)]


def falls(values: Sequence[float]) -> bool:
    """True when the values fall along the sweep (see STEP_SLACK and FALL_FRACTION)."""
    steps_ok = all(b <= a * (1 + STEP_SLACK) for a, b in itertools.pairwise(values))
    return steps_ok and values[-1] <= values[0] * (1 - FALL_FRACTION)


def knee(points: Sequence[tuple[int, float]], within: float = 0.10) -> int:
    """The smallest swept value whose metric is within `within` (a fraction) of the best: the
    optimal batch of a curve that saturates rather than peaks."""
    best = max(v for _, v in points)
    return next(x for x, v in points if v >= (1 - within) * best)


def verdict(ok: bool, detail: str) -> Verdict:
    return Verdict(PASS if ok else FAIL, detail)


def compare_to_paper(ours: float, paper: float | None, tolerance: float, what: str) -> Verdict:
    """Ours against a paper value within `tolerance` (a fraction); not compared without one."""
    if paper is None:
        return Verdict(NOT_COMPARED, f"{what}: ours {fmt(ours)}; paper value not quoted here")
    if math.isnan(ours):
        return Verdict(NOT_COMPARED, f"{what}: our run failed")
    off = ours / paper - 1
    return verdict(abs(off) <= tolerance,
                   f"{what}: ours {fmt(ours)}, paper {fmt(paper)} ({off:+.0%}; within "
                   f"{tolerance:.0%} needed)")


def evaluate(claims: Sequence[Claim], rows: Rows) -> list[ClaimResult]:
    """Each claim's verdict on `rows`, in the order given."""
    return [ClaimResult(c, _safe(c.check, rows)) for c in claims]


def _safe(check: Callable[[Rows], Verdict], rows: Rows) -> Verdict:
    try:
        return check(rows)
    except MissingData as err:
        return Verdict(NOT_COMPARED, str(err))


def fmt(value: float) -> str:
    """A number in a claim's detail: 3 significant digits, thousands separated when large."""
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def fmt_list(values: Sequence[float]) -> str:
    return "[" + ", ".join(fmt(v) for v in values) + "]"


def _where(where: dict[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in where.items())

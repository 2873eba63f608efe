"""Fit generator parameters (rows, Zipf exponent, pooling) to a locality-statistics entry or to
a real trace, and return them as a ModelSpec that `trace generate --model` takes.

Expected locality of N independent Zipf(n, s) lookups: row k is drawn with p_k, so
E[unique] = sum 1 - (1 - p_k)^N and E[once] = sum N p_k (1 - p_k)^(N-1). The head ranks are
summed exactly and the tail by quadrature on a log grid (the summand is smooth there).

Scaling. Meta's entries count one batch of 65536 over all of its tables. The unique ratio depends
on the lookups per table and batch, so a fit at a smaller batch B keeps the mean lookups per bag
and table (indices / (tables x 65536)) and fits rows and s to the entry's unique ratio and
once-accessed fraction at N = that mean x B lookups per table: the rows shrink with the batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.specs import ModelSpec, PoolingSpec, PopularitySpec, TableSpec
from traces.errors import TraceError
from traces.locality import HOT_FRACTION
from traces.locality_file import LocalityEntry
from traces.zipf import harmonic

_EXACT_RANKS = 1 << 14  # ranks summed term by term; unit: ranks (tail error < 1e-6 relative)
_GRID = 2048  # quadrature points over the tail; unit: points on a log scale
_S_RANGE = (0.05, 3.0)  # Zipf exponents searched; unit: none. Source: beyond real traces' range
_S_MAX = 4.0  # the largest exponent a trace table is fitted with; unit: none. Source: as above
# Variance that rounding floor(X + U) adds to a bag length X: E[f (1 - f)] for a fractional part
# f spread evenly. Unit: lookups squared. Source: that integral, 1/6.
_ROUNDING_VARIANCE = 1.0 / 6.0
# Placeholders where a statistics file says nothing; each is recorded in the spec's description.
DEFAULT_POOLING = PoolingSpec(1.0, "lognormal", sigma=1.0)  # the preset models' pooling law


def expected_locality(n: int, s: float, lookups: float) -> tuple[float, float]:
    """(E[unique rows], E[rows accessed once]) for `lookups` draws of Zipf(n, s)."""
    norm = harmonic(n, s)
    head = np.arange(1, min(n, _EXACT_RANKS) + 1, dtype=np.float64)
    unique, once = _terms(np.power(head, -s) / norm, lookups)
    total_u, total_o = float(unique.sum()), float(once.sum())
    if n > _EXACT_RANKS:
        x = np.geomspace(_EXACT_RANKS + 0.5, n + 0.5, _GRID)
        u_tail, o_tail = _terms(np.power(x, -s) / norm, lookups)
        total_u += float(np.trapezoid(u_tail, x))
        total_o += float(np.trapezoid(o_tail, x))
    return total_u, total_o


def _terms(p: np.ndarray, lookups: float) -> tuple[np.ndarray, np.ndarray]:
    log_miss = lookups * np.log1p(-np.minimum(p, 1.0 - 1e-16))
    return -np.expm1(log_miss), lookups * p * np.exp(log_miss - np.log1p(-np.minimum(p, 1.0 - 1e-16)))


def rows_for_ratio(s: float, lookups: float, ratio: float) -> int:
    """The rows n at which Zipf(n, s) gives unique/lookups = ratio (bisection on log n)."""
    lo, hi = max(1.0, ratio * lookups), 1e10
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        unique, _ = expected_locality(int(mid), s, lookups)
        lo, hi = (mid, hi) if unique / lookups < ratio else (lo, mid)
        if hi / lo < 1.0005:
            break
    return max(1, round(math.sqrt(lo * hi)))


@dataclass(frozen=True)
class ZipfFit:
    """Fitted rows and exponent, with the expected figures they give."""

    rows: int
    zipf_s: float
    unique_ratio: float
    once_fraction: float


def fit_zipf(lookups: float, unique_ratio: float, once_fraction: float) -> ZipfFit:
    """Rows and s whose expected unique ratio and once fraction match, at `lookups` per table.

    Raises TraceError when the targets are outside what a Zipf table can give.
    """
    if not 0 < unique_ratio < 1 or not 0 <= once_fraction <= 1 or lookups < 2:
        raise TraceError(f"cannot fit: unique ratio {unique_ratio}, once fraction {once_fraction}, "
                         f"{lookups} lookups per table")

    def once_at(s: float) -> tuple[float, int]:
        rows = rows_for_ratio(s, lookups, unique_ratio)
        unique, once = expected_locality(rows, s, lookups)
        if abs(unique / lookups - unique_ratio) > 0.01 * unique_ratio:
            return math.inf, rows  # no row count reaches the ratio at this s
        return once / unique, rows

    grid = np.linspace(*_S_RANGE, 40)
    errors = [abs(once_at(s)[0] - once_fraction) for s in grid]
    if not math.isfinite(min(errors)):
        raise TraceError(f"no Zipf table gives unique ratio {unique_ratio} at {lookups:.0f} lookups")
    best = int(np.argmin(errors))
    lo, hi = grid[max(0, best - 1)], grid[min(len(grid) - 1, best + 1)]
    for _ in range(30):  # golden-section search around the best grid point
        a, b = hi - (hi - lo) / 1.618, lo + (hi - lo) / 1.618
        lo, hi = (lo, b) if abs(once_at(a)[0] - once_fraction) < abs(once_at(b)[0] - once_fraction) \
            else (a, hi)
    s = 0.5 * (lo + hi)
    once, rows = once_at(s)
    unique, _ = expected_locality(rows, s, lookups)
    return ZipfFit(rows, float(s), unique / lookups, once)


def fit_locality_entry(entry: LocalityEntry, *, batch_size: int, tables: int = 8,
                       dim: int = 64, source_tables: int | None = None) -> ModelSpec:
    """A model of `tables` identical tables that reproduces `entry` at `batch_size`.

    Raises TraceError when the entry does not say how many tables it covers and
    `source_tables` is not given.
    """
    n_tables = source_tables or entry.tables
    if not n_tables:  # the caller names the entry: its name would only repeat here
        raise TraceError("its name does not say how many tables it covers (no _tN_ in it); "
                         "give source_tables")
    pooling = entry.lookups / (n_tables * entry.batch_size * entry.batches)
    fit = fit_zipf(pooling * batch_size, entry.unique_ratio, entry.once_fraction)
    spec = TableSpec("t0", fit.rows, dim,
                     PoolingSpec(round(pooling, 4), DEFAULT_POOLING.distribution,
                                 sigma=DEFAULT_POOLING.sigma),
                     PopularitySpec("zipf", round(fit.zipf_s, 5)))
    note = (f"fitted to {entry.file} (unique ratio {entry.unique_ratio:.4f}, once fraction "
            f"{entry.once_fraction:.3f}) at batch {batch_size}: {pooling:.2f} lookups per bag and "
            f"table kept, rows and Zipf s fitted; pooling law lognormal sigma 1 assumed")
    return ModelSpec(f"fit_{entry.file.split('.')[0]}", 13,
                     tuple(TableSpec(f"t{i}", spec.rows, dim, spec.pooling, spec.popularity)
                           for i in range(tables)),
                     (512,), (512, 256), description=note)


def s_for_ratio(rows: int, lookups: float, ratio: float) -> float:
    """The Zipf exponent at which `rows` rows give unique/lookups = ratio (0 if even a uniform
    law gives fewer unique rows; the ratio falls as s grows)."""
    lo, hi = 0.0, _S_MAX
    if expected_locality(rows, lo, lookups)[0] / lookups <= ratio:
        return 0.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if expected_locality(rows, mid, lookups)[0] / lookups > ratio else (lo, mid)
    return 0.5 * (lo + hi)


def s_for_top_share(rows: int, unique: int, share: float) -> float:
    """The Zipf exponent at which the hottest 1% of `unique` rows take `share` of the lookups,
    taking them for the law's hottest ranks (true of a table with many lookups per row, where
    the unique ratio says nothing); the share grows with s."""
    hottest = max(1, math.ceil(HOT_FRACTION * unique))
    lo, hi = 0.0, _S_MAX
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if harmonic(hottest, mid) / harmonic(rows, mid) < share else (lo, mid)
    return 0.5 * (lo + hi)


def fit_trace_stats(report: dict[str, Any], *, name: str = "fit") -> ModelSpec:
    """A model with one table per trace table (from `trace_stats` output): its rows; its bag
    lengths' law; and the s that gives its unique ratio or, where that ratio says nothing (every
    row touched, or beyond any s), its hottest 1%'s share. Raises TraceError for an empty trace."""
    tables, by_share = [], []
    for t in report["tables"]:
        if t["lookups"] < 2:
            raise TraceError(f"{report['file']}: table {t['name']!r} has {t['lookups']} lookups; "
                             "too few to fit")
        s, from_share = _table_exponent(t)
        if from_share:
            by_share.append(str(t["name"]))
        tables.append(TableSpec(str(t["name"]), int(t["rows"]), int(t["dim"]), _pooling(t),
                                PopularitySpec("zipf", round(s, 5))))
    dims = {t.dim for t in tables}
    return ModelSpec(name, 13, tuple(tables), (512,), (512, 256),
                     interaction="dot" if len(dims) == 1 else "cat",
                     description=f"fitted to {report['file']}: rows per table as measured; bag "
                     "lengths fixed where every bag had the same length, else lognormal with the "
                     "measured mean and spread; Zipf s per table matching its unique ratio over "
                     f"the whole trace{_share_note(by_share)}")


def _table_exponent(table: dict[str, Any]) -> tuple[float, bool]:
    """(s, whether it comes from the top share). The unique ratio of a table whose every row
    was touched, or one no s below _S_MAX reaches, does not tell s."""
    rows, unique = int(table["rows"]), int(table["unique_rows"])
    if unique < rows:
        s = s_for_ratio(rows, float(table["lookups"]), float(table["unique_ratio"]))
        if s < _S_MAX - 1e-3:
            return s, False
    return s_for_top_share(rows, unique, float(table["top1pct_share"])), True


def _share_note(names: list[str]) -> str:
    if not names:
        return ""
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return (f", except {shown}, whose unique ratio does not tell s (every row touched, or "
            "beyond any s): there, the share of the hottest 1% of rows")


def _pooling(table: dict[str, Any]) -> PoolingSpec:
    """Fixed where every bag had the same length; else a lognormal whose spread matches the
    bags' (the generator rounds X ~ lognormal stochastically, which adds about 1/6 to the
    variance of X)."""
    mean = max(round(float(table["mean_pooling"]), 4), 1e-4)
    if table["min_pooling"] == table["max_pooling"]:
        return PoolingSpec(mean, "fixed")
    variance = max(float(table["sd_pooling"]) ** 2 - _ROUNDING_VARIANCE, 1e-6 * mean ** 2)
    sigma = math.sqrt(math.log1p(variance / mean ** 2))
    return PoolingSpec(mean, "lognormal", sigma=round(max(sigma, 1e-3), 4))

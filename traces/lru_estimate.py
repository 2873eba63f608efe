"""LRU hit-ratio curves of traces too long for exact stack distances (`traces.lru`).

Large caches: row sampling (SHARDS, Waldspurger et al., FAST 2015) keeps a fraction R of the rows
with all their accesses and scales distances by 1/R. A sampled distance d stands for any true
distance in about [d/R, (d+1)/R), so caches below 1/R rows cannot be told apart, and one hot row
in or out of the sample moves every point. The SHARDS-adj correction (same paper, Section 4.3)
counts the accesses the sample has too few or too many as hits at every size, which is right for
hot rows in large caches, and the ends are pinned by the exact totals: no cache hits more than
1 - unique / lookups.

Small caches: a hot row interleaved with others misses in a small cache, so SHARDS-adj is off by
its share there. These sizes are measured exactly instead, over short windows, one at a random
place in each of equal stretches of the trace (time sampling, stratified), each read with the
stretch of trace before it (its lead): an access whose row was seen since the lead began has its
exact distance, and one whose row was not misses every cache no larger than the rows the lead
saw. Every access of a window is counted
(skipping the first ones instead would under-weight the hot stretches, which take longest to
see many rows). Where the batches are known (the shared curve of a table-major trace, where a
window's phase in its batch decides the tables it sees), the windows start at phases spread
evenly over a batch, so each table gets its share of them.

Where the two estimates meet they can disagree, and the curve is then made non-decreasing
(pooled adjacent violators), as an LRU cache's hit ratio is.

On the m1_prod trace of the README (20 x 1600, rows sampled at rate 0.075), every point of the
shared-cache curve is within 0.006 of the exact one (session 16, windows at batch phases; 0.003
at random phases in session 15, 0.007 when the windows ended their stretches, as measured when
they were added); row sampling alone was off by up to 0.125. Over six seeds of the windows'
places the worst point is 0.001-0.011 with either placement: with 244 windows, random phases
already give each of its 30 tables about its share. With 16 windows (a small budget) they do
not: on a 4-table test trace, seeds 0-11, the worst point went from 0.014-0.053 to 0.006-0.029.
On an m3_prod trace (2 x 800, seed 1, rate 0.201), within 0.0034 either way (session 15, on
another draw: 0.002, and 0.008 with the windows at the ends).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from traces.lru import HitRatioCurve, stack_distances

# Accesses per window, and in the lead before it. Unit: accesses. Source: a choice, checked on
# the m1_prod trace of the README (20 x 1600): hundreds of short windows follow a table-major
# trace's tables closely, and the leads see enough rows to measure caches of 512 to 1,024 rows.
WINDOW_ACCESSES = 1024
LEAD_ACCESSES = 3 * WINDOW_ACCESSES
# Seed of the windows' places in their strata. Unit: none. Source: a choice.
WINDOW_SEED = 0
# Share of the sampling budget spent on windows and leads, and the fewest windows. Unit:
# fraction, windows. Source: a choice; on the m1 trace above they add 2 s to the 38 s of
# `trace stats`.
WINDOW_SHARE = 0.5
MIN_WINDOWS = 16
# Share of the windows' accesses that may be undecided at a size (rows new to a lead that saw
# fewer rows than the size); each is counted as half a hit, so this bounds the error at half of
# it. Unit: fraction of accesses. Source: a choice, below the time-sampling spread.
UNDECIDED_SHARE = 0.01


@dataclass(frozen=True)
class Window:
    """The keys of a window's lead then of the window; `from_start` if the lead starts the
    trace (a row it has not seen is then a cold miss)."""

    keys: np.ndarray
    lead: int
    from_start: bool


def window_bounds(lookups: int, max_accesses: int, batch_starts: np.ndarray | None = None
                  ) -> list[tuple[int, int, int]]:
    """(lead start, start, stop) of the windows in a trace of `lookups` accesses, one window
    with its lead in each of equal strata, at a random place in it (a fixed seed: the same
    trace, the same windows); no two stretches overlap. Given where each batch starts (and
    `lookups` last), each window starts at its own phase of a batch where its stratum has one
    that leaves room for it, the phases spread evenly over a batch."""
    span = WINDOW_ACCESSES + LEAD_ACCESSES
    count = max(MIN_WINDOWS, int(WINDOW_SHARE * max_accesses) // span)
    stride = lookups // count
    length = min(WINDOW_ACCESSES, stride)
    if length < 1:
        return [(0, 0, lookups)]
    # Each stretch starts anywhere its stratum leaves room for it. Ending every stratum, the
    # windows fell on the same phases of a periodic trace (a table-major trace's batches)
    # whenever the stride was near a small multiple of its period: in a 4-table test trace,
    # on two phases only, which left out two tables (the shared curve off by up to 0.17).
    reach = min(span, stride)  # a stretch: the window and as much of its lead as fits
    rng = np.random.default_rng(WINDOW_SEED)
    shifts = np.floor(rng.random(count) * (stride - reach + 1))
    stops = (np.arange(count) * stride + reach + shifts.astype(np.int64)).tolist()
    if batch_starts is not None:
        stops = _on_batch_phases(stops, stride, reach, length, np.asarray(batch_starts), rng)
    return [(stop - reach, stop - length, stop) for stop in stops]


def _on_batch_phases(stops: list[int], stride: int, reach: int, length: int,
                     batch_starts: np.ndarray, rng: np.random.Generator) -> list[int]:
    """`stops` moved so that window k starts at phase (p_k + u_k) / count of a batch of its
    stratum (p a permutation, u uniform; the batch drawn among those that leave room), the
    stop kept where no batch of the stratum does.

    Why: in a table-major trace a window's phase picks the tables it sees, so windows at
    random phases give each table a random share of them. With 16 windows over a 4-table test
    trace, that alone moved the shared curve at 128-256 rows by up to 0.05 from seed to seed
    (the tables' own curves within 0.01); evenly spread phases give each table its share."""
    count = len(stops)
    phases = (rng.permutation(count) + rng.random(count)) / count
    starts, sizes = batch_starts[:-1], np.diff(batch_starts)
    moved = []
    for k, (stop, phase) in enumerate(zip(stops, phases, strict=True)):
        lo, hi = k * stride + reach - length, (k + 1) * stride - length  # window starts that fit
        first = max(0, int(np.searchsorted(starts, lo, side="right")) - 1)
        last = int(np.searchsorted(starts, hi, side="right"))
        begins = starts[first:last] + np.floor(phase * sizes[first:last]).astype(np.int64)
        fits = begins[(begins >= lo) & (begins <= hi)]
        moved.append(int(fits[rng.integers(fits.size)]) + length if fits.size else stop)
    return moved


def estimated_curve(sampled: np.ndarray, sample_rate: float,
                    windows: list[Window], *, lookups: int, unique: int
                    ) -> HitRatioCurve:
    """The curve at cache sizes 1, 2, 4, ... up to `unique` rows: exact over `windows` for the
    sizes they can measure, SHARDS-adj from `sampled` (the accesses kept at `sample_rate`) for
    the sizes of at least 1/rate rows above them; sizes in between are left out. `lookups` and
    `unique` are the whole trace's exact totals."""
    sizes = [1 << k for k in range(max(1, unique).bit_length() + 1)]
    limit = 1.0 - unique / lookups  # a cache of every row misses only the first accesses
    window_rows, window_hits = _window_points(windows, sizes)
    shards = _shards_adj(sampled, sample_rate, lookups)
    points = []
    for size in sizes:
        if size <= window_rows:
            hit = window_hits[size]
        elif size >= unique:
            hit = limit
        elif size * sample_rate >= 1.0:
            hit = shards(size)
        else:
            continue
        points.append((size, hit))
    hits = [min(max(hit, 0.0), limit) for hit in _non_decreasing([p[1] for p in points])]
    return HitRatioCurve(tuple(p[0] for p in points), tuple(hits), sample_rate,
                         window_rows=window_rows, windows=len(windows),
                         window_accesses=max((w.keys.size - w.lead for w in windows), default=0))


def _non_decreasing(hits: list[float]) -> list[float]:
    """The non-decreasing sequence nearest `hits` in least squares (pool adjacent violators).

    An LRU cache holds what any smaller one holds, so its hit ratio never falls with size; the
    two estimators can disagree where they meet (the windows' largest size against SHARDS-adj's
    smallest), and a falling curve is then a sampling artefact, not a property of the trace."""
    blocks: list[list[float]] = []  # [mean, count] of runs pooled so far
    for hit in hits:
        blocks.append([hit, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, count = blocks.pop()
            blocks[-1] = [(blocks[-1][0] * blocks[-1][1] + mean * count) / (blocks[-1][1] + count),
                          blocks[-1][1] + count]
    return [mean for mean, count in blocks for _ in range(int(count))]


def _shards_adj(sampled: np.ndarray, rate: float, lookups: int) -> Callable[[int], float]:
    """Hit ratio at a size from the row sample, corrected to the accesses it should hold."""
    distances = stack_distances(sampled)
    scaled = np.sort(distances[distances >= 0] / rate)
    expected = lookups * rate  # the accesses a sample at this rate holds on average
    extra = expected - sampled.size

    def hit(size: int) -> float:
        return (float(np.searchsorted(scaled, size, side="left")) + extra) / expected

    return hit


def _window_points(windows: list[Window], sizes: list[int]) -> tuple[int, dict[int, float]]:
    """The largest size the windows measure to within UNDECIDED_SHARE / 2 (0 for none), and the
    hit ratio over all windows at each size up to it. A row new to a lead of D distinct rows
    misses every cache of up to D rows, and is a cold miss if the lead starts the trace; in a
    larger cache it is undecided, and counted as half a hit."""
    if not windows:
        return 0, {}
    counted, reach = [], []
    for window in windows:
        distances = stack_distances(window.keys)
        counted.append(distances[window.lead:])
        seen = math.inf if window.from_start else np.count_nonzero(distances[:window.lead] < 0)
        reach.append(np.full(distances.size - window.lead, seen))
    kept, limits = np.concatenate(counted), np.concatenate(reach)
    new = kept < 0
    points = {}
    for size in sizes:
        undecided = np.count_nonzero(new & (limits < size))
        if undecided > UNDECIDED_SHARE * kept.size:
            break
        points[size] = float(np.count_nonzero(~new & (kept < size)) + undecided / 2) / kept.size
    return max(points, default=0), points


def cut_windows(keys: np.ndarray, bounds: list[tuple[int, int, int]]) -> list[Window]:
    """The windows of `window_bounds` from a trace's keys held in memory."""
    return [Window(keys[lead:stop], start - lead, lead == 0) for lead, start, stop in bounds]

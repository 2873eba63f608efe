"""LRU hit-ratio curves from exact stack distances, vectorized.

The stack distance of an access is the number of distinct other rows touched since the previous
access to the same row; an LRU cache of C rows hits exactly the accesses with distance < C
(Mattson et al., "Evaluation techniques for storage hierarchies", IBM Systems Journal 9(2), 1970).

For access i with previous access p, distance = (i - p - 1) - #{j > p : next(j) < i}: the window
(p, i) minus its repeats. The count is a 2-D dominance query, answered for all i at once over
dyadic blocks of positions (a merge-sort tree): O(N log^2 N) in numpy, no Python loop per access.
Long traces are sampled by row (SHARDS: C. Waldspurger et al., FAST 2015): a fixed hash keeps
a fraction R of the rows with all their accesses; `traces.lru_estimate` turns the sample into a
curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Accesses kept for a curve before row sampling starts. Unit: accesses. Source: a time budget,
# about 3 s on the dev machine's Xeon (O(N log^2 N) at ~60 ns per access and level).
DEFAULT_MAX_ACCESSES = 2_000_000
_GOLDEN64 = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing multiplier (Knuth, TAOCP 6.4)


def previous_and_next(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each position, the previous (-1 if none) and next (N if none) position of its key."""
    n = keys.size
    order = np.argsort(keys, kind="stable")
    same = keys[order][1:] == keys[order][:-1]
    prev = np.full(n, -1, dtype=np.int64)
    nxt = np.full(n, n, dtype=np.int64)
    prev[order[1:][same]] = order[:-1][same]
    nxt[order[:-1][same]] = order[1:][same]
    return prev, nxt


def stack_distances(keys: np.ndarray) -> np.ndarray:
    """Stack distance of every access (int64); -1 for first accesses (cold misses)."""
    n = keys.size
    prev, nxt = previous_and_next(keys)
    reuse = np.flatnonzero(prev >= 0)
    out = np.full(n, -1, dtype=np.int64)
    if not reuse.size:
        return out
    p, i = prev[reuse], reuse
    repeats = np.searchsorted(np.sort(nxt), i, side="left") - _prefix_counts(nxt, p + 1, i)
    out[reuse] = (i - p - 1) - repeats
    return out


def _prefix_counts(nxt: np.ndarray, m: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """#{j < m_q : nxt[j] < threshold_q} for every query q, over dyadic blocks of positions."""
    n = nxt.size
    big = np.int64(n + 1)
    positions = np.arange(n, dtype=np.int64)
    counts = np.zeros(m.size, dtype=np.int64)
    order = np.arange(n)
    level = 0
    while (1 << level) <= n:
        blocks = positions >> level
        # Sorting the previous level's order: runs are already sorted, so the stable sort merges.
        keys = (blocks * big + nxt)[order]
        step = np.argsort(keys, kind="stable")
        order, keys = order[step], keys[step]
        ask = np.flatnonzero((m >> level) & 1)
        if ask.size:
            block = (m[ask] >> level) - 1
            counts[ask] += np.searchsorted(keys, block * big + threshold[ask], side="left") - (
                block << level)
        level += 1
    return counts


@dataclass(frozen=True)
class HitRatioCurve:
    """Hit ratio of an LRU cache against its size in rows. `sample_rate` < 1 when estimated
    (`traces.lru_estimate`): caches up to `window_rows` rows are then measured exactly over
    `windows` windows of `window_accesses` accesses, larger ones from rows sampled at that rate."""

    cache_rows: tuple[int, ...]
    hit_ratio: tuple[float, ...]
    sample_rate: float
    window_rows: int = 0
    windows: int = 0
    window_accesses: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"cache_rows": list(self.cache_rows), "hit_ratio": list(self.hit_ratio),
                "sample_rate": self.sample_rate, "window_rows": self.window_rows,
                "windows": self.windows, "window_accesses": self.window_accesses}


def sample_mask(keys: np.ndarray, rate: float) -> np.ndarray:
    """Accesses whose row hashes below `rate` (all accesses of a row share the answer)."""
    if rate >= 1.0:
        return np.ones(keys.size, dtype=bool)
    hashed = (keys.astype(np.uint64) * _GOLDEN64) >> np.uint64(11)
    return hashed < np.uint64(int(rate * float(1 << 53)))


def hit_ratio_curve(keys: np.ndarray) -> HitRatioCurve:
    """The exact curve at cache sizes 1, 2, 4, ... up to the distinct rows (the last point is
    all reuses hit)."""
    if not keys.size:
        return HitRatioCurve((), (), 1.0)
    distances = stack_distances(keys)
    reuses = np.sort(distances[distances >= 0])
    distinct = int(np.count_nonzero(distances < 0))
    sizes = [1 << k for k in range(max(1, distinct).bit_length() + 1)]
    hits = np.searchsorted(reuses, np.asarray(sizes), side="left")
    return HitRatioCurve(tuple(sizes), tuple(float(h) / keys.size for h in hits), 1.0)

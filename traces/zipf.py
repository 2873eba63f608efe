"""Exact Zipf sampling over ranks 1..n without a table, and the exact law it samples.

The sampler is rejection-inversion (W. Hörmann and G. Derflinger, "Rejection-inversion to generate
variates from monotone discrete distributions", ACM TOMACS 6(3), 1996), in the form of Apache
Commons RNG's `RejectionInversionZipfSampler`: it draws from P(k) = k^-s / H(n, s) exactly (up to
float64 rounding), needs O(1) setup for any n, and accepts almost every proposal, so a batch costs a
few vectorized passes. An alias table or inverse CDF over 10M rows would need 80-160 MB per
(rows, s); this needs none.

Most draws land on the hottest ranks (at s = 1.05, over half on the first 900 of 4M), and for
those a guide table replaces the inverse's float64 log1p and exp (13-21 ns a draw on the AVX2
development host, whose NumPy has no AVX-512 loops for them): the range of u is cut into equal
cells, and a cell that lies, with a margin, inside the u-interval on which one rank is proposed
and accepted without the second test maps straight to that rank. Draws in the other cells take
the exact path as before. Every draw is therefore the rank the exact path alone gives, bit for
bit: the margin, 1e-9 (1 + |u|) in u, is over 1e4 times the float64 error of the exact path seen
in u (a few ulps of log x from log1p and exp, and half an ulp of u from t = u (1 - s); at most
about 1e-13 (1 + |u|) over the guided ranks of any s), so no guided draw lies where rounding
could change its rank or its acceptance. The rejected proposals, and so the random stream, are
the same too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

# Ranks up to this are summed term by term in `harmonic`; beyond, Euler-Maclaurin is exact to
# float64: its first omitted term, |B_8| / 8! |f^(7)(a)| for f(x) = x^-s, is below 1e-30 of the
# sum at a = 10^4 for any s <= 4 (at s = 1.05: 3e-35). Unit: ranks. Source: that remainder
# bound. (It was 10^6, 12 ms a table: too slow once every table's law is normalized.)
_DIRECT_SUM_RANKS = 10_000
# Proposals drawn per vectorized pass; 16K float64 (128 KB) stays in L2. Unit: draws. Source:
# measured on the 2-core Xeon of the dev machine (20 ns/draw at 100K vs 9 ns at 16K).
_CHUNK = 16_384
# Passes of fewer proposals than this skip the guide: the exact path settles them faster, since
# the guide adds its own passes and a small pass costs its calls, not its elements (the same
# ranks either way). Unit: proposals. Source: timeit on the EPYC development host (session 15),
# least of 7: 2M rows, 100 / 1000 / 3000 / 8000 proposals 64 / 183 / 263 / 342 us guided,
# 34 / 148 / 209 / 356 exact; 5,000 rows alike (crossing between 3000 and 8000).
_GUIDE_MIN_PROPOSALS = 4096
# Cells of the head guide. 2^16 int32 ranks = 256 KB, half the L2 a core has on the EPYC
# development host (lscpu: 1 MiB in 2 instances); 4x the cells would add only about 8% of the
# draws at s = 1.05 (the head grows with the cells to the power 1/s, the share like its log).
# Unit: cells. Source: that cache size; the share measured by benchmarks/bench_zipf_sampler.py.
_GUIDE_CELLS = 1 << 16
# A cell may be at most this fraction of the u-width its rank is accepted on: each guided rank
# loses at most about 3 cells (its two edges and the neighbour a rounded index may reach) of its
# width to the exact path. The head ends at the last rank this allows. Unit: fraction.
# Source: design choice, 1/8 (the last guided rank goes 3/8 exact, the hottest almost none).
_CELL_FRACTION = 1.0 / 8.0
# Distance kept between a guided cell and the edges of its rank's accepted interval, relative to
# 1 + |u|; it must dwarf the float64 error of the exact path (see the module docstring).
# Unit: fraction of 1 + |u|. Source: that error bound, about 1e-13, times 1e4.
_GUIDE_MARGIN = 1e-9
# The rank count the shared guide is built for: above any table's (the generator's limit is
# 2^31 - 1 rows), so no guided rank is the clamped last one. Unit: ranks.
_SHARED = 2**31


def _h_integral(x: np.ndarray | float, s: float) -> np.ndarray | float:
    """H(x) = integral of t^-s from 1 to x, i.e. (x^(1-s) - 1)/(1-s) (log x when s = 1)."""
    log_x = np.log(x)
    if s == 1.0:
        return log_x
    return np.expm1((1.0 - s) * log_x) / (1.0 - s)


def _h_integral_inverse(u: np.ndarray, s: float) -> np.ndarray:
    """The inverse of `_h_integral`; t is clipped at -1 where rounding would leave the domain."""
    if s == 1.0:
        return np.exp(u)
    t = u * (1.0 - s)
    np.maximum(t, -1.0, out=t)
    np.log1p(t, out=t)
    t *= 1.0 / (1.0 - s)
    return np.exp(t, out=t)


def _constants(n: int, s: float, first: int = 1) -> tuple[float, float, float]:
    """(lo, hi, squeeze) of rejection-inversion for ranks first..n: u is drawn on (lo, hi], and a
    proposal k with k - x <= squeeze is accepted without the second test (H-D, step 3).

    lo = H(first + 1/2) - first^-s makes rank `first`'s accepted interval the first h(first)
    of u, as rank 1's is; every other rank keeps its interval, so the law is the Zipf law
    conditioned on ranks >= first. The squeeze is rank 2's, which bounds every rank >= 2
    (H-D's argument for the whole range), so it holds on any tail of it."""
    hi = float(_h_integral(n + 0.5, s))
    lo = float(_h_integral(first + 0.5, s)) - float(first) ** -s
    two = float(_h_integral(2.5, s)) - 2.0 ** -s
    squeeze = 2.0 - float(_h_integral_inverse(np.array([two]), s)[0])
    return lo, hi, squeeze


@dataclass(frozen=True)
class _Guide:
    """u -> rank for the hottest ranks: cell i = floor((u - lo) * inv_width) holds the 0-based
    rank every u in it is accepted at, or -1 (the exact path decides); index `cells` and beyond
    (u past the head) hold -1 too."""

    lo: float
    inv_width: float
    cells: int
    ranks: np.ndarray = field(compare=False)

    def cell(self, u: np.ndarray) -> np.ndarray:
        """The cell of each u; `cells` (the -1 cell) for u past the head."""
        index = u - self.lo
        index *= self.inv_width
        np.minimum(index, float(self.cells), out=index)
        return index.astype(np.intp)


def _accepted_interval(k: np.ndarray, n: int, s: float, squeeze: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The u-interval [start, end) on which rank k (1-based) is proposed and accepted without
    the second test: x = H^-1(u) in [k - squeeze, k + 0.5), open-ended for k = n (the clamp)."""
    low_x = k - squeeze
    with np.errstate(divide="ignore", invalid="ignore"):
        start = np.where(low_x > 0, _h_integral(np.maximum(low_x, 1e-300), s), -np.inf)
    end = np.where(k < n, _h_integral(k + 0.5, s), np.inf)
    return start, end


def _head_ranks(n: int, s: float, lo: float, squeeze: float) -> int:
    """The most ranks K the guide can hold: cells over [lo, end of K] at most _CELL_FRACTION of
    rank K's accepted width (0 when not even rank 1 fits, which no s in use comes near)."""
    def fits(k: int) -> bool:
        start, end = (float(v[0]) for v in _accepted_interval(np.array([float(k)]), n + 1, s, squeeze))
        return (end - lo) / _GUIDE_CELLS <= _CELL_FRACTION * (end - max(start, lo))

    if not fits(1):
        return 0
    good, bad = 1, n + 1  # fits(good), and past n the whole range is guided anyway
    while bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if fits(middle) else (good, middle)
    return good


@lru_cache(maxsize=64)
def _guide(n: int, s: float) -> _Guide | None:
    """The guide of ranks 1..n at exponent s. Tables larger than the head share one guide per s
    (their hottest ranks' intervals do not depend on n), so many tables cost one 256 KB array."""
    lo, hi, squeeze = _constants(n, s)
    head = _head_ranks(n, s, lo, squeeze)
    if head == 0:
        return None
    end = hi if head >= n else float(_h_integral(head + 0.5, s))
    width = (end - lo) / _GUIDE_CELLS
    cell = np.arange(_GUIDE_CELLS, dtype=np.float64)
    # A u computed to lie in cell i lies in [i - 1, i + 2) cells from lo, whatever the rounding.
    first = lo + (cell - 1.0) * width
    first -= _GUIDE_MARGIN * (1.0 + np.abs(first))
    last = lo + (cell + 2.0) * width
    last += _GUIDE_MARGIN * (1.0 + np.abs(last))
    middle = _h_integral_inverse(lo + (cell + 0.5) * width, s)
    k = np.clip(np.floor(middle + 0.5), 1.0, float(n))
    start, stop = _accepted_interval(k, n, s, squeeze)
    ranks = np.where((start <= first) & (last < stop), k - 1.0, -1.0).astype(np.int32)
    return _Guide(lo, 1.0 / width, _GUIDE_CELLS, np.append(ranks, np.int32(-1)))


@lru_cache(maxsize=64)
def _shared_head(s: float) -> int:
    """The head of tables larger than it, which all share one guide at exponent s."""
    lo, _, squeeze = _constants(_SHARED, s)
    return _head_ranks(_SHARED, s, lo, squeeze)


def _guide_for(n: int, s: float) -> _Guide | None:
    """The cached guide: keyed by n only for tables the head covers whole."""
    head = _shared_head(s)
    return _guide(n if n <= head else _SHARED, s) if head else None


@dataclass(frozen=True)
class ZipfSampler:
    """Draws ranks in [0, n) (0 is the hottest) with P(rank k-1) proportional to k^-s; with
    `skip` = K, ranks in [K, n) only, by the same law (the tail beyond the K hottest ranks).

    Raises ValueError for n < 1, s < 0 or skip outside [0, n) (specs are validated before
    they get here).
    """

    n: int
    s: float
    skip: int = 0
    _lo: float = field(init=False, repr=False)
    _hi: float = field(init=False, repr=False)
    _squeeze: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.n < 1 or self.s < 0 or not 0 <= self.skip < self.n:
            raise ValueError(f"Zipf needs n >= 1, s >= 0 and 0 <= skip < n, got n={self.n}, "
                             f"s={self.s}, skip={self.skip}")
        lo, hi, squeeze = _constants(self.n, self.s, self.skip + 1)
        object.__setattr__(self, "_lo", lo)
        object.__setattr__(self, "_hi", hi)
        object.__setattr__(self, "_squeeze", squeeze)

    @property
    def _guide(self) -> _Guide | None:
        """The head's guide (cached): built on first use, 10-20 ms, which a sampler that is only
        split (traces/zipf_split.py) never needs; none for a tail, which the head is not in."""
        return _guide_for(self.n, self.s) if self.skip == 0 else None

    def sample(self, rng: np.random.Generator, size: int, *, fast: bool = True) -> np.ndarray:
        """`size` ranks (int64, 0-based) drawn independently. `fast=False` computes every draw
        by the exact path, without the guide (the same ranks, slower: kept to check the guide
        against)."""
        out = np.empty(size, dtype=np.int64)
        # Chunks that fit in L2 cache: the passes below are memory-bound on larger arrays.
        for start in range(0, size, _CHUNK):
            stop = min(size, start + _CHUNK)
            self._sample_chunk(rng, out[start:stop], fast)
        return out

    def _sample_chunk(self, rng: np.random.Generator, out: np.ndarray, fast: bool) -> None:
        rejected = self._propose(rng, out, fast)
        while rejected.size:  # about 0.2% of proposals at s = 1.05
            again = np.empty(rejected.size, dtype=np.int64)
            still = self._propose(rng, again, fast)
            kept = np.ones(rejected.size, dtype=bool)
            kept[still] = False
            out[rejected[kept]] = again[kept]
            rejected = rejected[still]

    def _propose(self, rng: np.random.Generator, out: np.ndarray, fast: bool) -> np.ndarray:
        """Writes out.size proposals (0-based ranks) into `out`; returns the positions of those
        rejected, which the caller draws again."""
        # u = hi + r (lo - hi) is uniform on (lo, hi]. All in place: this loop is the
        # generator's hot path, and each pass over a chunk costs about 0.5 ns a draw.
        u = rng.random(out.size)
        u *= self._lo - self._hi
        u += self._hi
        guide = self._guide if fast and out.size >= _GUIDE_MIN_PROPOSALS else None
        if guide is None:
            return self._settle(u, out)
        ranks = guide.ranks[guide.cell(u)]
        out[...] = ranks
        unguided = np.flatnonzero(ranks < 0)
        if not unguided.size:
            return unguided
        settled = np.empty(unguided.size, dtype=np.int64)
        rejected = self._settle(u[unguided], settled)
        out[unguided] = settled
        return unguided[rejected]

    def _settle(self, u: np.ndarray, out: np.ndarray) -> np.ndarray:
        """The exact path: x = H^-1(u), k the nearest rank, accepted by the squeeze or the exact
        test. Writes the 0-based ranks into `out`; returns the positions rejected."""
        x = _h_integral_inverse(u, self.s)
        k = x + 0.5
        np.floor(k, out=k)
        np.minimum(k, float(self.n), out=k)
        np.maximum(k, self.skip + 1.0, out=k)
        slow = np.flatnonzero((k - x) > self._squeeze)
        rejected = slow[:0]
        if slow.size:  # the exact test, for the few proposals the squeeze did not settle
            ks = k[slow]
            bound = _h_integral(ks + 0.5, self.s) - np.power(ks, -self.s)
            rejected = slow[u[slow] < bound]
        k -= 1.0
        out[...] = k  # float64 -> int64 on the way: whole numbers below 2^31, exact
        return rejected


def harmonic(n: int, s: float) -> float:
    """H(n, s) = sum of k^-s for k = 1..n, exact to float64."""
    head = min(n, _DIRECT_SUM_RANKS)
    total = float(np.sum(np.power(np.arange(head, 0, -1, dtype=np.float64), -s)))
    if n > head:
        total += _euler_maclaurin_tail(head + 1, n, s)
    return total


def _euler_maclaurin_tail(a: int, b: int, s: float) -> float:
    """Sum of k^-s for k = a..b with a large, by Euler-Maclaurin with three correction terms."""
    def f(x: float) -> float:
        return x ** -s

    integral = math.log(b / a) if s == 1.0 else (b ** (1 - s) - a ** (1 - s)) / (1 - s)
    d1 = lambda x: -s * x ** (-s - 1)  # noqa: E731
    d3 = lambda x: -s * (s + 1) * (s + 2) * x ** (-s - 3)  # noqa: E731
    d5 = lambda x: -s * (s + 1) * (s + 2) * (s + 3) * (s + 4) * x ** (-s - 5)  # noqa: E731
    return (
        integral + (f(a) + f(b)) / 2
        + (d1(b) - d1(a)) / 12 - (d3(b) - d3(a)) / 720 + (d5(b) - d5(a)) / 30240
    )


def head_pmf(n: int, s: float, count: int) -> np.ndarray:
    """Exact probabilities of the `count` hottest ranks (or all n if fewer)."""
    k = np.arange(1, min(n, count) + 1, dtype=np.float64)
    return np.power(k, -s) / harmonic(n, s)

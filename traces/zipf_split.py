"""A batch of Zipf draws as the counts of its hottest ranks plus the draws of the rest, for the
batch summaries the simulator replays (lookups and distinct rows), which need no batch built.

N independent draws from the Zipf law over ranks 1..n have the same joint law as: the counts of
the K hottest ranks and of "the rest" from Multinomial(N; p_1, ..., p_K, rest), then the rest's
draws from the law conditioned on ranks > K. The distinct ranks are the nonzero counts plus the
rest's distinct draws, so this gives a batch's distinct rows with exactly the law of counting
N plain draws. The counts cost O(K) (NumPy draws one binomial per rank) whatever N is, and the
rest costs what the plain sampler costs per draw. K is where a rank expects MIN_EXPECTED_DRAWS
draws a batch, so on M3's 800-example batches 70-100% of a large table's draws cost nothing.

The numbers differ from those of counting the plain sampler's draws: a written trace (which
draws plainly) and a summary drawn directly agree in law, not draw for draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from traces.distinct import DistinctCounter
from traces.zipf import ZipfSampler, harmonic

# A rank is counted, not drawn, when a batch expects at least this many draws of it. Unit:
# draws per rank and batch. Source: one binomial of NumPy's multinomial costs about what two
# plain draws cost (57 against 27-32 ns, timeit, EPYC development host, session 15); and
# benchmarks/bench_zipf_split.py there: M1's, M2's and M3's batches cost about the same for any
# value from 1 to 8 (M3: 78-83 ms a batch, against 184 ms drawn plainly).
MIN_EXPECTED_DRAWS = 2.0
# A head expecting fewer draws than this a batch is not counted, and the batch is drawn plainly
# (the plain sampler's numbers): a multinomial call costs about 4 us before its first rank,
# what 150 plain draws cost. Unit: draws per batch. Source: timeit on the EPYC development host
# (session 15): multinomial 5.1 us over 31 ranks, 11.2 over 100, 60.7 over 1000; the plain
# sampler 27-32 ns a draw in calls of 5000 or more; the margin over 150 is a choice.
MIN_HEAD_DRAWS = 500.0
# At most this many ranks are counted: their probabilities are kept per (rows, s, head), 8 bytes
# a rank (512 KB at this cap). Unit: ranks. Source: that memory bound.
MAX_HEAD_RANKS = 1 << 16


def head_ranks(n: int, s: float, expected_draws: float) -> int:
    """The hottest ranks a batch of `expected_draws` draws of Zipf(n, s) counts: those that
    expect at least MIN_EXPECTED_DRAWS draws, at most MAX_HEAD_RANKS; 0 (draw plainly) when
    they expect fewer than MIN_HEAD_DRAWS draws together."""
    if expected_draws <= 0:
        return 0
    norm = harmonic(n, s)
    # Rank k expects expected_draws k^-s / H(n, s) draws, decreasing in k.
    bound = expected_draws / (MIN_EXPECTED_DRAWS * norm)  # k^-s must reach 1 / bound
    if bound < 1.0:
        return 0
    # k <= bound^(1/s), compared in logs: a small s would overflow the power.
    head = n if s == 0.0 or math.log(bound) / s >= math.log(n) else math.floor(bound ** (1.0 / s))
    head = min(head, MAX_HEAD_RANKS)
    return head if expected_draws * harmonic(head, s) / norm >= MIN_HEAD_DRAWS else 0


@lru_cache(maxsize=256)
def _head_probabilities(n: int, s: float, head: int) -> np.ndarray:
    """p_1..p_head of Zipf(n, s), then a 0 that stands for the rest unless the head is every
    rank (NumPy's multinomial gives its last outcome what the others leave). Read-only."""
    p = np.power(np.arange(1, head + 1, dtype=np.float64), -s)
    p /= harmonic(n, s)
    if head < n:
        p = np.append(p, 0.0)
    p.setflags(write=False)
    return p


@dataclass(frozen=True)
class SplitDraw:
    """One batch of draws over `rows` ranks: `head_counts[k]` draws of rank k for each k below
    the head, and `tail`, the draws of ranks at or past it (int64)."""

    rows: int
    head_counts: np.ndarray
    tail: np.ndarray

    def distinct(self, counter: DistinctCounter) -> int:
        """Distinct ranks drawn (the tail's ranks are past the head's: the sets are disjoint)."""
        return int(np.count_nonzero(self.head_counts)) + counter.count(self.tail, self.rows)


class SplitZipf:
    """Batches of `plain`'s law, split at the head `head_ranks` gives for `expected_draws` (a
    batch's mean draws): a batch of any size is drawn exactly, the split sets only its cost."""

    def __init__(self, plain: ZipfSampler, expected_draws: float) -> None:
        if plain.skip:
            raise ValueError(f"split a whole Zipf law, not a tail (skip={plain.skip})")
        self.rows = plain.n
        self.head = head_ranks(plain.n, plain.s, expected_draws)
        self._p = _head_probabilities(plain.n, plain.s, self.head) if self.head else None
        self._rest: ZipfSampler | None = plain
        if self.head:
            self._rest = ZipfSampler(plain.n, plain.s, skip=self.head) if self.head < plain.n else None

    def draw(self, rng: np.random.Generator, size: int) -> SplitDraw:
        if self._p is None:  # no head: the plain sampler's draws
            assert self._rest is not None
            return SplitDraw(self.rows, _NONE, self._rest.sample(rng, size))
        counts = rng.multinomial(size, self._p)
        if self._rest is None:  # the head is every rank
            return SplitDraw(self.rows, counts, _NONE)
        return SplitDraw(self.rows, counts[:self.head], self._rest.sample(rng, int(counts[-1])))


_NONE = np.zeros(0, dtype=np.int64)
_NONE.setflags(write=False)

"""A cheap bijection from popularity ranks to row ids, so that hot rows are scattered.

A stored random permutation of a 20M-row table would cost 80 MB per table; an affine map
`row = (a * rank + b) mod rows` with gcd(a, rows) = 1 is a bijection that needs two numbers.
`a` is drawn near rows / golden ratio so that consecutive hot ranks land far apart (a Weyl
sequence spreads them evenly over the table, hence over row-wise shards).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_GOLDEN = (1.0 + 5.0 ** 0.5) / 2.0  # unit: none; the most irrational stride (Weyl sequences)
_CHUNK = 16_384  # ranks mapped per pass; unit: ranks (128 KB of int64, in L2 cache)


@dataclass(frozen=True)
class RowMap:
    """rank -> row id for one table; `a` is coprime to `rows`. Raises ValueError otherwise."""

    rows: int
    a: int
    b: int

    def __post_init__(self) -> None:
        if self.rows < 1 or math.gcd(self.a, self.rows) != 1 or not 0 <= self.b < self.rows:
            raise ValueError(f"RowMap needs gcd(a, rows) = 1 and 0 <= b < rows: {self}")

    @classmethod
    def draw(cls, rows: int, rng: np.random.Generator) -> RowMap:
        """A random map: `a` is the first integer coprime to `rows` at or after a jittered
        rows / golden ratio; `b` is uniform."""
        a = max(1, int(rows / _GOLDEN) + int(rng.integers(0, max(1, rows // 100) + 1)))
        a %= rows
        while math.gcd(a, rows) != 1:
            a = (a + 1) % rows
        return cls(rows, a, int(rng.integers(0, rows)))

    def apply(self, ranks: np.ndarray) -> np.ndarray:
        """Row ids (int64) of 0-based ranks; a * rank < 2^63 for rows < 2^31."""
        out = np.empty(ranks.size, dtype=np.int64)
        self.apply_into(ranks, out)
        return out

    def apply_into(self, ranks: np.ndarray, out: np.ndarray) -> None:
        """Write the row ids of `ranks` into `out` (any integer dtype that holds them), in
        chunks that stay in cache: three passes over a large array are memory-bound."""
        scratch = np.empty(min(ranks.size, _CHUNK), dtype=np.int64)
        for start in range(0, ranks.size, _CHUNK):
            part = scratch[:min(_CHUNK, ranks.size - start)]
            np.multiply(ranks[start:start + part.size], self.a, out=part)
            part += self.b
            np.remainder(part, self.rows, out=part)
            out[start:start + part.size] = part

"""Random lookup indices with uniform or Zipf row popularity, never all zeros.

Rows are ranked by popularity (rank 1 is the hottest) and a fixed bijection scatters the ranks
over the table, as a hash would, so the hot rows are not the first rows in memory.
"""

from __future__ import annotations

import torch

# Multiplier of the rank-to-row bijection: Knuth's multiplicative-hashing prime (TAOCP vol. 3,
# 6.4). It is coprime to every table size below itself, so (rank * A + B) % rows is a permutation.
_SCATTER_MULTIPLIER = 2654435761
_SCATTER_OFFSET = 40503  # any offset keeps the bijection; a fixed one keeps runs reproducible
_MAX_ROWS = _SCATTER_MULTIPLIER - 1  # rows (count) for which the bijection holds


class IndexSampler:
    """Draws int64 row indices in [0, rows) on `device` (where `generator` must live); rank k
    has probability proportional to k**-s (s = `zipf_s`; 0 means uniform).

    Raises ValueError if rows < 1, rows is too large for the scatter, or zipf_s < 0.
    """

    def __init__(
        self, rows: int, zipf_s: float, generator: torch.Generator, device: torch.device
    ) -> None:
        if not 1 <= rows <= _MAX_ROWS:
            raise ValueError(f"rows must be in [1, {_MAX_ROWS}], got {rows}")
        if zipf_s < 0:
            raise ValueError(f"zipf_s must be >= 0, got {zipf_s}")
        self.rows = int(rows)
        self.zipf_s = float(zipf_s)
        self._generator = generator
        self._device = device
        self._cdf: torch.Tensor | None = None
        if self.zipf_s > 0:
            ranks = torch.arange(1, self.rows + 1, dtype=torch.float64, device=device)
            cdf = torch.cumsum(ranks.pow(-self.zipf_s), 0)
            self._cdf = cdf / cdf[-1]

    def draw(self, count: int) -> torch.Tensor:
        """`count` fresh indices on the sampler's device (the generator's device)."""
        if self._cdf is None:
            ranks = torch.randint(0, self.rows, (count,), generator=self._generator,
                                  device=self._device)
        else:
            uniform = torch.rand(count, generator=self._generator, dtype=torch.float64,
                                 device=self._device)
            ranks = torch.searchsorted(self._cdf, uniform).clamp_(max=self.rows - 1)
        return (ranks * _SCATTER_MULTIPLIER + _SCATTER_OFFSET) % self.rows

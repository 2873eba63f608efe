"""Summary statistics of repeated timings: median and relative spread.

Spread is the relative inter-quartile range, (p75 - p25) / median, with linear interpolation
between order statistics (numpy's default). It is robust to one outlier among 5 to 10 samples,
unlike (max - min) / median.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SPREAD_DEFINITION = "relative IQR: (p75 - p25) / median of samples_s, numpy linear percentiles"


@dataclass(frozen=True)
class Summary:
    """Median (seconds) and relative spread of a non-empty list of samples.

    Raises ValueError for an empty list or a negative or non-finite sample.
    """

    median_s: float
    spread: float

    @classmethod
    def of(cls, samples_s: Sequence[float]) -> Summary:
        values = np.asarray(samples_s, dtype=np.float64)
        if values.size == 0:
            raise ValueError("samples_s must not be empty")
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError(f"samples_s must be finite and >= 0, got {list(samples_s)}")
        median = float(np.median(values))
        p25, p75 = np.percentile(values, [25.0, 75.0])
        spread = float((p75 - p25) / median) if median > 0 else 0.0
        return cls(median_s=median, spread=spread)

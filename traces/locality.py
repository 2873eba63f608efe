"""Locality figures of one table's (or a whole trace's) accesses, in the bins of Meta's
`locality_stats.txt` (facebookresearch/dlrm_datasets): how many unique rows were accessed
(0, 1], (1, 2], (2, 4], ... (16384, 32768] and more than 32768 times, and what share of all
accesses each bin takes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

# Bin edges of accesses per unique row. Unit: accesses. Source: locality_stats.txt of
# dlrm_datasets (embedding_bag/2021), "[0, 1, 2, 4, ..., 32768]", plus the open bin "32768+".
BIN_EDGES = (0, *(2**i for i in range(16)))
BIN_LABELS = (*tuple(f"({lo}, {hi}]" for lo, hi in itertools.pairwise(BIN_EDGES)), f"({BIN_EDGES[-1]}+")
HOT_FRACTION = 0.01  # the "hottest 1% of rows" of the issue; unit: fraction of unique rows


@dataclass(frozen=True)
class Locality:
    """Access counts summarized: totals, the Meta-bin histograms and the head share."""

    lookups: int
    unique_rows: int
    once_fraction: float  # unique rows accessed exactly once / unique rows
    top1pct_share: float  # accesses to the hottest 1% of unique rows / lookups
    rows_histogram: tuple[float, ...]  # fraction of unique rows per bin
    access_share: tuple[float, ...]  # fraction of accesses per bin

    @property
    def unique_ratio(self) -> float:
        return self.unique_rows / self.lookups if self.lookups else 0.0

    @property
    def mean_accesses_per_row(self) -> float:
        return self.lookups / self.unique_rows if self.unique_rows else 0.0

    def as_dict(self) -> dict[str, object]:
        return {"lookups": self.lookups, "unique_rows": self.unique_rows,
                "unique_ratio": self.unique_ratio, "once_fraction": self.once_fraction,
                "top1pct_share": self.top1pct_share,
                "mean_accesses_per_row": self.mean_accesses_per_row,
                "histogram_bins": list(BIN_LABELS),
                "rows_histogram": list(self.rows_histogram),
                "access_share": list(self.access_share)}


def access_counts(indices: np.ndarray) -> np.ndarray:
    """How often each distinct value occurs (int64, in no particular order)."""
    if not indices.size:
        return np.zeros(0, dtype=np.int64)
    ordered = np.sort(indices, kind="stable")
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    return np.diff(np.append(starts, ordered.size)).astype(np.int64)


def locality_of_counts(counts: np.ndarray) -> Locality:
    """Locality of a multiset given as per-row access counts (rows with count 0 are ignored)."""
    counts = counts[counts > 0].astype(np.int64)
    lookups, unique = int(counts.sum()), int(counts.size)
    if not unique:
        zeros = (0.0,) * len(BIN_LABELS)
        return Locality(0, 0, 0.0, 0.0, zeros, zeros)
    bins = np.searchsorted(np.asarray(BIN_EDGES[1:]), counts, side="left")  # (lo, hi] bins
    rows_hist = np.bincount(bins, minlength=len(BIN_LABELS)) / unique
    share = np.bincount(bins, weights=counts, minlength=len(BIN_LABELS)) / lookups
    hottest = max(1, int(np.ceil(HOT_FRACTION * unique)))
    top = np.partition(counts, unique - hottest)[unique - hottest:].sum()
    return Locality(lookups, unique, float(np.count_nonzero(counts == 1) / unique),
                    float(top / lookups), tuple(map(float, rows_hist)), tuple(map(float, share)))

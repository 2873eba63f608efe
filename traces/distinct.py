"""Counting distinct rows fast: the per-batch unique-row figures the simulator replays."""

from __future__ import annotations

import threading

import numpy as np

# Up to this many rows, a stamp array (int32 per row) is used instead of sorting; its pages are
# touched only where rows are hit. Unit: rows (4 bytes each). Source: benchmarks/
# bench_distinct_count.py on M3's batches (session 13, EPYC host): above 8M rows the stamp's
# random writes miss the TLB and its first use faults in up to 80 MB, so sorting costs as
# little per batch (36.6-38.4 ms at this limit against 40.5-43.8 with the stamp up to 64M
# rows, in 2 of 3 runs; 26.8 against 26.0 in the third) and a fresh process's first batch
# 51-121 ms against 162-328.
STAMP_MAX_ROWS = 1 << 23


class DistinctCounter:
    """Counts distinct values in [0, bound) in O(n): each value's slot records the last position
    that wrote it, and a position is counted if it is still its slot's writer. One instance per
    thread (the scratch is not shared). Raises nothing; values must be in range."""

    def __init__(self) -> None:
        self._stamp = np.empty(0, dtype=np.int32)
        self._positions = np.arange(0, dtype=np.int32)

    def count(self, values: np.ndarray, bound: int) -> int:
        n = values.size
        if n == 0:
            return 0
        if bound > STAMP_MAX_ROWS or n >= 2**31:
            ordered = np.sort(values)
            return 1 + int(np.count_nonzero(ordered[1:] != ordered[:-1]))
        if bound > self._stamp.size:
            self._stamp = np.empty(bound, dtype=np.int32)  # virtual until written
        if n > self._positions.size:
            self._positions = np.arange(max(n, 2 * self._positions.size), dtype=np.int32)
        positions = self._positions[:n]
        self._stamp[values] = positions
        return int(np.count_nonzero(self._stamp[values] == positions))


_local = threading.local()


def thread_counter() -> DistinctCounter:
    """The calling thread's DistinctCounter."""
    counter = getattr(_local, "counter", None)
    if counter is None:
        counter = _local.counter = DistinctCounter()
    return counter

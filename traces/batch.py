"""One batch of a trace in the native layout, and the checks every reader applies to it.

Layout (FBGEMM's and Meta's released traces): `indices` holds the rows looked up, table-major;
`offsets` has T*B+1 entries, so bag b of table t is indices[offsets[t*B+b] : offsets[t*B+b+1]].
Row ids are local to each table.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from traces.errors import trace_error

INT32_MAX = 2**31 - 1  # unit: rows; the largest table int32 indices can address


def index_dtype_for(max_rows: int) -> np.dtype:
    """int32 indices while every table fits (half the bytes), else int64."""
    return np.dtype(np.int32) if max_rows <= INT32_MAX else np.dtype(np.int64)


@dataclass(frozen=True)
class TraceBatch:
    """One batch: table-major `indices` and `offsets` (int64, T*B+1 entries, starting at 0)."""

    indices: np.ndarray
    offsets: np.ndarray
    batch_size: int

    @property
    def num_tables(self) -> int:
        return (self.offsets.size - 1) // self.batch_size

    def table_bounds(self) -> np.ndarray:
        """Start of each table's indices, plus the end: int64 [T+1]."""
        return self.offsets[:: self.batch_size]

    def table_indices(self, table: int) -> np.ndarray:
        bounds = self.table_bounds()
        return self.indices[bounds[table]:bounds[table + 1]]

    def lengths(self) -> np.ndarray:
        """Bag lengths as [T, B] int64."""
        return np.diff(self.offsets).reshape(self.num_tables, self.batch_size)


def validate_batch(
    batch: TraceBatch,
    rows: Sequence[int],
    names: Sequence[str],
    *,
    path: str | os.PathLike[str],
    batch_number: int,
) -> None:
    """Check offsets and indices; TraceError naming the file, the table and the position."""
    where = f"batch {batch_number}"
    offsets, b = batch.offsets, batch.batch_size
    if offsets.size != len(rows) * b + 1:
        raise trace_error(path, f"{offsets.size} offsets, expected {len(rows)} tables x {b} bags + 1",
                          position=where)
    if offsets[0] != 0 or offsets[-1] != batch.indices.size:
        raise trace_error(path, f"offsets run from {offsets[0]} to {offsets[-1]}, expected 0 to "
                          f"{batch.indices.size} (the number of indices)", position=where)
    steps = np.diff(offsets)
    bad = np.flatnonzero(steps < 0)
    if bad.size:
        t, bag = divmod(int(bad[0]), b)
        raise trace_error(path, f"offsets decrease (bag length {steps[bad[0]]})", table=names[t],
                          position=f"{where}, bag {bag}")
    _check_index_range(batch, rows, names, path, where)


def _check_index_range(
    batch: TraceBatch, rows: Sequence[int], names: Sequence[str], path: str | os.PathLike[str],
    where: str,
) -> None:
    bounds = batch.table_bounds()
    for t, limit in enumerate(rows):
        seg = batch.indices[bounds[t]:bounds[t + 1]]
        if not seg.size:
            continue
        low, high = int(seg.min()), int(seg.max())
        if low >= 0 and high < limit:
            continue
        pos = int(np.flatnonzero((seg < 0) | (seg >= limit))[0])
        raise trace_error(
            path, f"index {int(seg[pos])} is outside the table's rows [0, {limit})",
            table=names[t], position=f"{where}, index {pos} of the table",
        )

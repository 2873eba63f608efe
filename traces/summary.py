"""Per-batch, per-table demand of a trace (lookups, distinct rows, bytes): what the simulator
replays. Computed from a trace file (`summarize_trace`) or straight from a model without writing
one (`summarize_model`); both give the same numbers for the same seed."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from sim.specs import ModelSpec
from traces.distinct import thread_counter
from traces.errors import TraceError
from traces.generator import ModelGenerator, TableStream, check_counts
from traces.native import open_native


@dataclass(frozen=True)
class BatchDemand:
    """Per-batch, per-table demand of a trace: what the simulator replays.

    `lookups` and `unique_rows` are int64 [batches, tables]; `dims` int64 [tables].
    Raises TraceError when the shapes disagree.
    """

    table_names: tuple[str, ...]
    batch_size: int
    lookups: np.ndarray
    unique_rows: np.ndarray
    dims: np.ndarray

    def __post_init__(self) -> None:
        tables = len(self.table_names)
        if self.lookups.shape != self.unique_rows.shape or self.lookups.ndim != 2:
            raise TraceError(f"BatchDemand: lookups {self.lookups.shape} and unique_rows "
                             f"{self.unique_rows.shape} must be equal [batches, tables] shapes")
        if self.lookups.shape[1] != tables or self.dims.shape != (tables,):
            raise TraceError(f"BatchDemand: {tables} table names, lookups for "
                             f"{self.lookups.shape[1]} tables, {self.dims.shape} dims")

    @property
    def num_batches(self) -> int:
        return int(self.lookups.shape[0])

    def bytes_read(self, bytes_per_element: int) -> np.ndarray:
        """Embedding bytes gathered per batch and table: lookups * dim * bytes_per_element."""
        return self.lookups * self.dims[None, :] * int(bytes_per_element)

    def bytes_unique(self, bytes_per_element: int) -> np.ndarray:
        """Bytes of the distinct rows per batch and table (what a deduplicating fetch moves)."""
        return self.unique_rows * self.dims[None, :] * int(bytes_per_element)


def summarize_trace(path: str | os.PathLike[str], *, max_batches: int | None = None) -> BatchDemand:
    """Stream a native trace and count lookups and distinct rows per batch and table.

    Raises TraceError for an unreadable or corrupt file, or batches of different sizes.
    """
    summary = TraceSummary(path)
    return summary.first(summary.available if max_batches is None else max_batches)


def summarize_model(
    model: ModelSpec, *, batches: int, batch_size: int, seed: int, workers: int = 1
) -> BatchDemand:
    """Generate `model`'s lookups batch by batch in memory (no file) and count them.

    The numbers equal those of `summarize_trace` on `generate_trace(model, ..., seed=seed)`:
    ranks map one-to-one to rows, so distinct ranks are distinct rows, and the row map is skipped.
    Raises TraceError for a bad batch count or size.
    """
    return ModelSummary(model, batch_size=batch_size, seed=seed, workers=workers).first(batches)


class _GrowingSummary:
    """Per-batch counts that can be asked for more batches later: `first(n)` counts only the
    batches it has not counted yet, and gives the same first n batches as a fresh summary would.
    For a sample whose size is decided from its own spread (sim.demand)."""

    def __init__(self, names: tuple[str, ...], dims: np.ndarray) -> None:
        self.names = names
        self.dims = dims
        self._lookups = np.zeros((0, len(names)), dtype=np.int64)
        self._unique = np.zeros_like(self._lookups)

    @property
    def counted(self) -> int:
        """Batches counted so far."""
        return int(self._lookups.shape[0])

    def first(self, batches: int) -> BatchDemand:
        """The first `batches` batches, or all there are if fewer (copies: the summary may
        grow afterwards)."""
        if batches > self.counted:
            lookups, unique = self._count(batches - self.counted)
            self._lookups = np.concatenate([self._lookups, lookups])
            self._unique = np.concatenate([self._unique, unique])
        return BatchDemand(self.names, self.batch_size, self._lookups[:batches].copy(),
                           self._unique[:batches].copy(), self.dims)

    @property
    def batch_size(self) -> int:
        """Examples per batch (0 before a trace's first batch is read)."""
        raise NotImplementedError

    def _count(self, batches: int) -> tuple[np.ndarray, np.ndarray]:
        """Lookups and distinct rows, int64 [batches, tables], of the next `batches` batches
        (fewer where the source ends)."""
        raise NotImplementedError


class TraceSummary(_GrowingSummary):
    """`summarize_trace` that reads on from where it stopped (see _GrowingSummary).
    Raises TraceError for an unreadable or corrupt file, or batches of different sizes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._trace = open_native(path)
        super().__init__(self._trace.table_names,
                         np.array([t.dim for t in self._trace.tables], dtype=np.int64))
        self._sizes: set[int] = set()

    @property
    def available(self) -> int:
        """Batches the trace holds."""
        return self._trace.num_batches

    @property
    def batch_size(self) -> int:
        return _one_batch_size(self._trace.path, self._sizes)

    def _count(self, batches: int) -> tuple[np.ndarray, np.ndarray]:
        first = self.counted
        numbers = range(first, min(first + batches, self.available))
        lookups = np.zeros((len(numbers), len(self.names)), dtype=np.int64)
        unique = np.zeros_like(lookups)
        counter = thread_counter()
        for row, number in enumerate(numbers):
            batch = self._trace.read_batch(number)
            self._sizes.add(batch.batch_size)
            bounds = batch.table_bounds()
            lookups[row] = np.diff(bounds)
            for t, rows in enumerate(self._trace.rows):
                unique[row, t] = counter.count(batch.indices[bounds[t]:bounds[t + 1]], rows)
        return lookups, unique


def _one_batch_size(path: os.PathLike[str], sizes: set[int]) -> int:
    if len(sizes) > 1:
        # A converted trace may end with a short batch; the simulator wants equal batches.
        raise TraceError(f"{os.fspath(path)}: batches of different sizes {sorted(sizes)}; pass "
                         "max_batches to leave out the short last batch")
    return next(iter(sizes)) if sizes else 0


class ModelSummary(_GrowingSummary):
    """`summarize_model` that can be asked for more batches later (see _GrowingSummary): each
    table's stream just goes on. Raises TraceError for a bad batch count or size."""

    def __init__(self, model: ModelSpec, *, batch_size: int, seed: int, workers: int = 1) -> None:
        check_counts(1, batch_size)
        super().__init__(tuple(t.name for t in model.tables),
                         np.array([t.dim for t in model.tables], dtype=np.int64))
        self.model = model
        self._batch_size = batch_size
        self._generator = ModelGenerator(model, seed=seed, workers=workers)

    def first(self, batches: int) -> BatchDemand:
        check_counts(batches, self._batch_size)
        return super().first(batches)

    @property
    def batch_size(self) -> int:
        return self._batch_size

    def _count(self, batches: int) -> tuple[np.ndarray, np.ndarray]:
        lookups = np.zeros((batches, len(self.names)), dtype=np.int64)
        unique = np.zeros_like(lookups)
        rows = self._generator.map_tables(batches, self._batch_size, _count_batch)
        for number, row in enumerate(rows):
            lookups[number], unique[number] = row[:, 0], row[:, 1]
        return lookups, unique


def _count_batch(stream: TableStream, batch_size: int) -> tuple[int, int]:
    _, ranks = stream.next_batch(batch_size)
    return ranks.size, thread_counter().count(ranks, stream.table.rows)

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
    trace = open_native(path)
    count = trace.num_batches if max_batches is None else min(max_batches, trace.num_batches)
    tables = len(trace.tables)
    lookups = np.zeros((count, tables), dtype=np.int64)
    unique = np.zeros((count, tables), dtype=np.int64)
    counter = thread_counter()
    sizes = set()
    for number, batch in enumerate(trace.iter_batches(count)):
        sizes.add(batch.batch_size)
        bounds = batch.table_bounds()
        lookups[number] = np.diff(bounds)
        for t, rows in enumerate(trace.rows):
            unique[number, t] = counter.count(batch.indices[bounds[t]:bounds[t + 1]], rows)
    batch_size = _one_batch_size(trace.path, sizes)
    dims = np.array([t.dim for t in trace.tables], dtype=np.int64)
    return BatchDemand(trace.table_names, batch_size, lookups, unique, dims)


def _one_batch_size(path: os.PathLike[str], sizes: set[int]) -> int:
    if len(sizes) > 1:
        # A converted trace may end with a short batch; the simulator wants equal batches.
        raise TraceError(f"{os.fspath(path)}: batches of different sizes {sorted(sizes)}; pass "
                         "max_batches to leave out the short last batch")
    return sizes.pop() if sizes else 0


def summarize_model(
    model: ModelSpec, *, batches: int, batch_size: int, seed: int, workers: int = 1
) -> BatchDemand:
    """Generate `model`'s lookups batch by batch in memory (no file) and count them.

    The numbers equal those of `summarize_trace` on `generate_trace(model, ..., seed=seed)`:
    ranks map one-to-one to rows, so distinct ranks are distinct rows, and the row map is skipped.
    Raises TraceError for a bad batch count or size.
    """
    return ModelSummary(model, batch_size=batch_size, seed=seed, workers=workers).first(batches)


class ModelSummary:
    """`summarize_model` that can be asked for more batches later: `first(n)` draws only the
    batches it has not drawn yet, and its first n batches equal `summarize_model`'s for n (each
    table's stream just goes on). For a sample whose size is decided from its own spread.
    Raises TraceError for a bad batch count or size."""

    def __init__(self, model: ModelSpec, *, batch_size: int, seed: int, workers: int = 1) -> None:
        check_counts(1, batch_size)
        self.model = model
        self.batch_size = batch_size
        self._generator = ModelGenerator(model, seed=seed, workers=workers)
        self._lookups = np.zeros((0, model.num_tables), dtype=np.int64)
        self._unique = np.zeros_like(self._lookups)

    @property
    def drawn(self) -> int:
        """Batches drawn so far."""
        return int(self._lookups.shape[0])

    def first(self, batches: int) -> BatchDemand:
        """The first `batches` batches (copies: the summary may grow afterwards)."""
        check_counts(batches, self.batch_size)
        if batches > self.drawn:
            self._draw(batches - self.drawn)
        dims = np.array([t.dim for t in self.model.tables], dtype=np.int64)
        names = tuple(t.name for t in self.model.tables)
        return BatchDemand(names, self.batch_size, self._lookups[:batches].copy(),
                           self._unique[:batches].copy(), dims)

    def _draw(self, batches: int) -> None:
        lookups = np.zeros((batches, self.model.num_tables), dtype=np.int64)
        unique = np.zeros_like(lookups)
        rows = self._generator.map_tables(batches, self.batch_size, _count_batch)
        for number, row in enumerate(rows):
            lookups[number], unique[number] = row[:, 0], row[:, 1]
        self._lookups = np.concatenate([self._lookups, lookups])
        self._unique = np.concatenate([self._unique, unique])


def _count_batch(stream: TableStream, batch_size: int) -> tuple[int, int]:
    _, ranks = stream.next_batch(batch_size)
    return ranks.size, thread_counter().count(ranks, stream.table.rows)

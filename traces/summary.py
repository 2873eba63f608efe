"""Per-batch, per-table demand of a trace (lookups, distinct rows, bytes): what the simulator
replays. Computed from a trace file (`summarize_trace`) or straight from a model without writing
one (`summarize_model`); both give the same numbers for the same seed."""

from __future__ import annotations

import os
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.arguments import shown
from sim.specs import ModelSpec
from traces.distinct import thread_counter
from traces.errors import TraceError
from traces.generator import ModelGenerator, TableStream, check_counts, check_model
from traces.native import TraceTable, open_native
from traces.summary_processes import GroupWorker, can_fork, table_groups

# A model's sample is drawn in several processes only when a round draws at least this many
# lookups (count): about 50 ms of drawing at ~13 ns a lookup on the 2-vCPU development VM, twice
# the 25 ms a fork, one round trip and a join took there (measured, session 6).
MIN_FORK_LOOKUPS = 4_000_000


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
    if max_batches is not None and (not isinstance(max_batches, int)
                                    or isinstance(max_batches, bool) or max_batches < 1):
        raise TraceError(f"max_batches = {shown(max_batches)}: give a whole number >= 1, "
                         "or None for every batch")
    summary = TraceSummary(path)
    return summary.first(summary.available if max_batches is None else max_batches)


def summarize_model(
    model: ModelSpec, *, batches: int, batch_size: int, seed: int, workers: int = 1
) -> BatchDemand:
    """Generate `model`'s lookups batch by batch in memory (no file) and count them.

    Ranks map one-to-one to rows, so distinct ranks are distinct rows, and the row map is
    skipped. The numbers equal those of `summarize_trace` on `generate_trace(model, ...,
    seed=seed)` where every table is drawn lookup by lookup; a Zipf table whose hottest ranks a
    batch expects to hit often is drawn as counts (traces/zipf_split.py), and its numbers then
    agree with the written trace's in law, not one for one.
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
    def tables(self) -> tuple[TraceTable, ...]:
        return self._trace.tables

    @property
    def batch_sizes(self) -> np.ndarray:
        """Examples in each batch the trace holds, int64 (from its footer: nothing is read)."""
        return self._trace.footer["batch_size"].astype(np.int64)

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
        # A converted trace may end with a short batch; summarize_trace's max_batches leaves it
        # out (sim.demand does so itself, from the footer, before counting).
        raise TraceError(f"{os.fspath(path)}: batches of different sizes {sorted(sizes)}; pass "
                         "max_batches to leave out the short last batch")
    return next(iter(sizes)) if sizes else 0


class ModelSummary(_GrowingSummary):
    """`summarize_model` that can be asked for more batches later (see _GrowingSummary): each
    table's stream just goes on. With `processes` > 1, a round that draws at least
    `min_fork_lookups` lookups first forks that many minus one workers, each drawing a group of
    tables (traces/summary_processes.py); the numbers are the same, and `workers` (threads)
    no longer serve once it has forked. `close()` (or a with block) stops the processes.
    Raises TraceError for a bad batch count or size, or for a round after an interrupted one."""

    def __init__(self, model: ModelSpec, *, batch_size: int, seed: int, workers: int = 1,
                 processes: int = 1, min_fork_lookups: float = MIN_FORK_LOOKUPS) -> None:
        check_model(model)
        check_counts(1, batch_size)
        super().__init__(tuple(t.name for t in model.tables),
                         np.array([t.dim for t in model.tables], dtype=np.int64))
        self.model = model
        self._batch_size = batch_size
        self._generator = ModelGenerator(model, seed=seed, workers=workers)
        self._processes = max(1, int(processes))
        self._min_fork_lookups = min_fork_lookups
        self._groups: list[list[int]] = []
        self._workers: list[GroupWorker] = []
        self._interrupted = False

    def first(self, batches: int) -> BatchDemand:
        check_counts(batches, self._batch_size)
        if self._interrupted:
            raise TraceError("a round of this ModelSummary was interrupted, so its streams are "
                             "past its counts; make a new one")
        try:
            return super().first(batches)
        except BaseException:
            self._interrupted = True
            raise

    @property
    def batch_size(self) -> int:
        return self._batch_size

    def close(self) -> None:
        """Stop the worker processes, if any, taking back their streams where they stand: the
        summary then counts alone, and goes on with the same numbers. After an interrupted
        round the workers are just stopped (the summary cannot go on), and nothing is raised
        over the interruption."""
        streams = self._generator.streams
        for group, worker in zip(self._groups[1:], self._workers, strict=True):
            returned = worker.close()
            if self._interrupted:
                continue
            if returned is None:  # a worker that died: its tables cannot go on
                raise TraceError("a worker drawing lookups stopped unexpectedly; "
                                 "run again, or set DLRMSIM_DEMAND_PROCESSES=1")
            for t, stream in zip(group, returned, strict=True):
                streams[t] = stream
        self._workers, self._groups = [], []
        self._processes = 1  # no new workers either

    def __enter__(self) -> ModelSummary:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _count(self, batches: int) -> tuple[np.ndarray, np.ndarray]:
        self._maybe_fork(batches)
        if not self._workers:
            lookups = np.zeros((batches, len(self.names)), dtype=np.int64)
            unique = np.zeros_like(lookups)
            rows = self._generator.map_tables(batches, self._batch_size, _count_batch)
            for number, row in enumerate(rows):
                lookups[number], unique[number] = row[:, 0], row[:, 1]
            return lookups, unique
        for worker in self._workers:
            worker.ask(batches, self._batch_size)
        streams = self._generator.streams
        parts = [count_streams([streams[t] for t in self._groups[0]], batches, self._batch_size)]
        parts += [worker.answer() for worker in self._workers]
        lookups = np.zeros((batches, len(self.names)), dtype=np.int64)
        unique = np.zeros_like(lookups)
        for group, (group_lookups, group_unique) in zip(self._groups, parts, strict=True):
            lookups[:, group], unique[:, group] = group_lookups, group_unique
        return lookups, unique

    def _maybe_fork(self, batches: int) -> None:
        """Fork the workers before the first round worth it, from the streams as they stand."""
        if self._workers or self._processes < 2 or not can_fork():
            return
        per_batch = [t.pooling.effective_mean_lookups * self._batch_size for t in self.model.tables]
        if sum(per_batch) * batches < self._min_fork_lookups:
            return
        self._groups = table_groups(per_batch, self._processes)
        streams = self._generator.streams
        self._workers = [GroupWorker([streams[t] for t in group], count_streams)
                         for group in self._groups[1:]]
        weakref.finalize(self, _stop_all, list(self._workers))


def _stop_all(workers: list[GroupWorker]) -> None:
    """Stop the workers of a summary that was not closed (its streams are dropped with it)."""
    for worker in workers:
        worker.close()


def count_streams(streams: Sequence[TableStream], batches: int, batch_size: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Lookups and distinct rows, int64 [batches, streams], of the streams' next batches."""
    lookups = np.zeros((batches, len(streams)), dtype=np.int64)
    unique = np.zeros_like(lookups)
    for number in range(batches):
        for column, stream in enumerate(streams):
            lookups[number, column], unique[number, column] = _count_batch(stream, batch_size)
    return lookups, unique


def _count_batch(stream: TableStream, batch_size: int) -> tuple[int, int]:
    return stream.next_counts(batch_size, thread_counter())

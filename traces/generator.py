"""Synthetic lookup traces from a ModelSpec: per table, bag lengths from the pooling law and rows
from the popularity law (exact Zipf, explicit heavy hitters, inter-batch reuse).

Each table has its own random stream, seeded from (seed, table index), so a table's lookups do not
depend on the other tables or on how many threads generate them: same seed, same bytes.

A summary (lookups and distinct rows per batch) of a plain Zipf table is drawn by the split of
traces/zipf_split.py, which never builds the batch: it has the law of the written trace's
summary, not its draws.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from sim.arguments import check_path, shown
from sim.specs import ModelSpec, TableSpec
from traces.batch import TraceBatch, index_dtype_for
from traces.distinct import DistinctCounter
from traces.errors import TraceError
from traces.native import NativeWriter, TraceTable
from traces.pooling import PoolingSampler
from traces.progress import progress
from traces.rowmap import RowMap
from traces.zipf import ZipfSampler
from traces.zipf_split import SplitZipf

# Rows a generated table may have: the rank -> row map multiplies two row numbers in int64.
# Unit: rows. Source: 2^31 * 2^31 < 2^63.
MAX_GENERATED_ROWS = 2**31 - 1
T = TypeVar("T")


class TableStream:
    """The lookups of one table, batch after batch, as 0-based popularity ranks.

    Heavy hitter j (spec order) is rank j, so the explicit hot rows are also the law's hottest.
    A `reuse_fraction` of each batch's lookups copies a uniformly chosen lookup of the previous
    batch: this keeps the marginal law (the previous batch follows it) and adds temporal locality.
    Raises TraceError for a table too large to generate.
    """

    def __init__(self, table: TableSpec, seed: int, index: int) -> None:
        if table.rows > MAX_GENERATED_ROWS:
            raise TraceError(
                f"table {table.name!r}: {table.rows} rows; the generator handles at most "
                f"{MAX_GENERATED_ROWS}"
            )
        self.table = table
        self.rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(index, 0))))
        map_rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(index, 1))))
        self.row_map = RowMap.draw(table.rows, map_rng)
        self.pooling = PoolingSampler(table.pooling)
        pop = table.popularity
        self.zipf = ZipfSampler(table.rows, float(pop.zipf_s)) if pop.law == "zipf" else None
        self.hitter_share = float(sum(pop.heavy_hitters))
        self.hitter_cdf = np.cumsum(np.asarray(pop.heavy_hitters, dtype=np.float64))
        self.previous: np.ndarray | None = None
        # Counts alone cannot say which lookups heavy hitters replace or a reuse copies.
        self._counted = self.zipf is not None and self.hitter_share == 0 and pop.reuse_fraction == 0
        self._splits: dict[int, SplitZipf] = {}  # by batch size, which sets the split

    def next_batch(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """(bag lengths [batch_size], ranks [sum of lengths]) of the next batch, both int64."""
        lengths = self.pooling.sample(self.rng, batch_size)
        ranks = self._ranks(int(lengths.sum()))
        if self.table.popularity.reuse_fraction > 0:
            self.previous = ranks
        return lengths, ranks

    def next_counts(self, batch_size: int, counter: DistinctCounter) -> tuple[int, int]:
        """(lookups, distinct rows) of the next batch. A plain Zipf table's are drawn as counts
        (traces/zipf_split.py): the law of `next_batch`'s, not its numbers, at a fraction of
        the cost; other tables' are counted from `next_batch`."""
        if not self._counted:
            _, ranks = self.next_batch(batch_size)
            return ranks.size, counter.count(ranks, self.table.rows)
        count = int(self.pooling.sample(self.rng, batch_size).sum())
        return count, self._split(batch_size).draw(self.rng, count).distinct(counter)

    def _split(self, batch_size: int) -> SplitZipf:
        split = self._splits.get(batch_size)
        if split is None:
            assert self.zipf is not None
            expected = self.table.pooling.effective_mean_lookups * batch_size
            split = self._splits[batch_size] = SplitZipf(self.zipf, expected)
        return split

    def _ranks(self, count: int) -> np.ndarray:
        ranks = self._fresh(count)
        reuse = self.table.popularity.reuse_fraction
        if reuse > 0 and self.previous is not None and self.previous.size and count:
            repeat = np.flatnonzero(self.rng.random(count) < reuse)
            picks = self.rng.integers(0, self.previous.size, repeat.size)
            ranks[repeat] = self.previous[picks]
        return ranks

    def _fresh(self, count: int) -> np.ndarray:
        if self.zipf is None:
            ranks = self.rng.integers(0, self.table.rows, count, dtype=np.int64)
        else:
            ranks = self.zipf.sample(self.rng, count)
        if self.hitter_share > 0 and count:
            hit = np.flatnonzero(self.rng.random(count) < self.hitter_share)
            which = np.searchsorted(self.hitter_cdf, self.rng.random(hit.size) * self.hitter_share,
                                    side="right")
            ranks[hit] = np.minimum(which, self.hitter_cdf.size - 1)
        return ranks


@dataclass(frozen=True)
class RankBatch:
    """One batch as ranks per table: lengths[t] ([B]) and ranks[t] (table t's lookups)."""

    lengths: tuple[np.ndarray, ...]
    ranks: tuple[np.ndarray, ...]


class ModelGenerator:
    """Batches of a whole model, as ranks (`rank_batches`) or as a TraceBatch of row ids.

    `workers` threads generate tables concurrently; numbers do not depend on it.
    Raises TraceError for a bad batch size or batch count.
    """

    def __init__(self, model: ModelSpec, *, seed: int, workers: int = 1) -> None:
        check_model(model)
        check_seed(seed)
        check_workers(workers)
        self.model = model
        self.streams = [TableStream(t, seed, i) for i, t in enumerate(model.tables)]
        self.workers = workers
        self.index_dtype = index_dtype_for(max(t.rows for t in model.tables))

    def map_tables(self, batches: int, batch_size: int,
                   work: Callable[[TableStream, int], T]) -> Iterator[np.ndarray]:
        """For each batch, `work(stream, batch_size)` on every table (on the worker threads);
        yields the results of a batch as an array, in table order."""
        check_counts(batches, batch_size)
        if self.workers == 1:
            for _ in range(batches):
                yield np.array([work(s, batch_size) for s in self.streams])
            return
        with ThreadPoolExecutor(self.workers) as pool:
            for _ in range(batches):
                yield np.array(list(pool.map(lambda s: work(s, batch_size), self.streams)))

    def rank_batches(self, batches: int, batch_size: int) -> Iterator[RankBatch]:
        """Batches as (lengths, ranks) per table."""
        check_counts(batches, batch_size)
        pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None
        try:
            for _ in range(batches):
                def step(s: TableStream) -> tuple[np.ndarray, np.ndarray]:
                    return s.next_batch(batch_size)
                pairs = list(pool.map(step, self.streams)) if pool else [step(s) for s in self.streams]
                yield RankBatch(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))
        finally:
            if pool:
                pool.shutdown()

    def batches(self, batches: int, batch_size: int) -> Iterator[TraceBatch]:
        """TraceBatches (table-major row ids and offsets), one at a time."""
        for rb in self.rank_batches(batches, batch_size):
            yield self._to_trace_batch(rb, batch_size)

    def _to_trace_batch(self, rb: RankBatch, batch_size: int) -> TraceBatch:
        total = sum(r.size for r in rb.ranks)
        indices = np.empty(total, dtype=self.index_dtype)
        start = 0
        for stream, ranks in zip(self.streams, rb.ranks, strict=True):
            stream.row_map.apply_into(ranks, indices[start:start + ranks.size])
            start += ranks.size
        offsets = np.zeros(len(rb.lengths) * batch_size + 1, dtype=np.int64)
        np.cumsum(np.concatenate(rb.lengths), out=offsets[1:])
        return TraceBatch(indices=indices, offsets=offsets, batch_size=batch_size)


def check_seed(seed: int) -> None:
    """Seeds are whole numbers >= 0 (numpy's SeedSequence takes no negative entropy)."""
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise TraceError(f"seed must be a whole number >= 0, got {seed!r}")


def check_model(model: object) -> None:
    """TraceError unless `model` is a ModelSpec (from Python, a preset's name is easily given
    where the loaded model goes)."""
    if not isinstance(model, ModelSpec):
        hint = (f", e.g. sim.presets.load_model({model!r})" if isinstance(model, str) else "")
        raise TraceError(f"model = {model!r} ({type(model).__name__}): give a ModelSpec{hint}")


def check_workers(workers: object) -> None:
    """Threads are whole numbers >= 1 (0 or 1.5 used to pass as 1 without a word)."""
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise TraceError(f"workers = {shown(workers)}: give a whole number >= 1")


def check_counts(batches: int, batch_size: int) -> None:
    for name, value in (("batches", batches), ("batch size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise TraceError(f"{name} must be a whole number >= 1, got {value!r}")


def generate_trace(
    model: ModelSpec, path: str | os.PathLike[str], *, batches: int, batch_size: int, seed: int,
    workers: int = 1, show_progress: bool = True,
) -> int:
    """Write `batches` batches of `model`'s lookups to a native trace at `path`; returns the
    number of lookups written. Memory holds one batch. Same arguments, same bytes."""
    check_model(model)
    check_path("path", path, "the native trace to write", TraceError, optional=False)
    check_counts(batches, batch_size)
    tables = [TraceTable(t.name, t.rows, t.dim) for t in model.tables]
    source = {"generator": "dlrmsim.traces", "model": model.name, "seed": seed,
              "batch_size": batch_size}
    gen = ModelGenerator(model, seed=seed, workers=workers)
    lookups = 0
    # Generated batches are valid by construction; checking them would cost a third of the time.
    with NativeWriter(path, tables, source, check=False) as writer:
        stream = progress(gen.batches(batches, batch_size), total=batches, desc="generate",
                          enabled=show_progress)
        for batch in stream:
            writer.write(batch)
            lookups += batch.indices.size
    return lookups

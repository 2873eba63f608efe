"""Per-batch embedding demand (lookups and distinct rows per table) from a trace or the model's
generator, computed vectorized before the run; the simulator replays it batch after batch."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from sim.errors import DlrmsimInputError
from sim.specs import ModelSpec

if TYPE_CHECKING:
    from traces.summary import BatchDemand

# Batches summarized first (the pilot): enough to see the batch-to-batch spread of lookups and
# distinct rows, few enough to generate in a fraction of a second. The run cycles the batches.
DEFAULT_BATCHES = 8
# The run replays a sample of batches, so its throughput carries the sample's error on top of
# the run's own. More batches are drawn until the mean lookups per batch has at most this
# relative standard error: 0.5%, half the 1% precision that runs are held to, so the sample
# takes at most a quarter of the variance. (m2_cpu's 200-example batches vary by 11%: 8 batches
# gave a 3.8% error, and seeds 0 and 1 of m2_cpu at 64 trainers differed by 10% in throughput.)
DEMAND_RSE_TARGET = 0.005
# At most this many batches are drawn: m2_cpu needs about 470 (0.5 s to generate here); a model
# with wilder batches stops here and reports the error it has (`Demand.lookups_rse`).
MAX_BATCHES = 512
# Processes that draw a generated sample at most (count): a cap, so that a many-core host does
# not fork dozens of processes for a draw of a second or two (a choice, not a measurement).
MAX_DEMAND_PROCESSES = 8


@dataclass(frozen=True)
class Demand:
    """Lookups and distinct rows, int64 [batches, tables], for one batch size; read-only."""

    batch_size: int
    lookups: np.ndarray
    unique_rows: np.ndarray

    @property
    def num_batches(self) -> int:
        return int(self.lookups.shape[0])

    @property
    def lookups_rse(self) -> float:
        """Relative standard error of the mean lookups per batch over the replayed batches: the
        sample's share of a run's error (0 for a single batch, whose spread is unknown)."""
        return lookups_rse(self.lookups)


def lookups_rse(lookups: np.ndarray) -> float:
    """Relative standard error of the mean of the per-batch total lookups."""
    totals = lookups.sum(axis=1).astype(np.float64)
    if totals.size < 2 or totals.mean() <= 0:
        return 0.0
    return float(totals.std(ddof=1) / totals.mean() / math.sqrt(totals.size))


def batches_needed(pilot: np.ndarray) -> int:
    """Batches whose mean lookups would meet DEMAND_RSE_TARGET, judged from a pilot sample's
    spread; a multiple of DEFAULT_BATCHES between the pilot's size and MAX_BATCHES."""
    count = pilot.shape[0]
    error = lookups_rse(pilot)
    if error <= DEMAND_RSE_TARGET:
        return count
    wanted = count * (error / DEMAND_RSE_TARGET) ** 2
    rounded = math.ceil(wanted / DEFAULT_BATCHES) * DEFAULT_BATCHES
    return max(count, min(MAX_BATCHES, rounded))


def demand_for(model: ModelSpec, batch_size: int, *, seed: int, trace: str | None = None,
               batches: int | None = None) -> Demand:
    """The demand of `trace` (rescaled to `batch_size`) or generated from `model`: `batches`
    batches, or by default as many as DEMAND_RSE_TARGET asks (see `batches_needed`), up to
    MAX_BATCHES and what the trace holds.

    Raises DlrmsimInputError when the trace's tables do not match the model's.
    """
    if trace is None:
        return _generated(model, batch_size, seed, batches)
    from traces.summary import TraceSummary  # traces/ is optional at import time of sim/

    # One reader for all rounds of the sample: a round reads only the batches it adds.
    source = TraceSummary(trace)

    def first(count: int) -> Demand:
        return _traced(model, batch_size, trace, source.first(count))

    return sampled(first) if batches is None else first(batches)


def sampled(first: Callable[[int], Demand]) -> Demand:
    """A sample sized by its own spread: `first(n)` gives the first n batches of a source (fewer
    if it holds fewer). A pilot's spread sets the count; the larger sample's own spread may ask
    for more (a pilot of 8 misjudges it easily). Each round asks for more, up to MAX_BATCHES."""
    demand = first(DEFAULT_BATCHES)
    while (count := batches_needed(demand.lookups)) > demand.num_batches:
        more = first(count)
        if more.num_batches <= demand.num_batches:  # a trace that holds no more
            return more
        demand = more
    return demand


def demand_processes(cpus: int) -> int:
    """Processes that draw a model's sample: DLRMSIM_DEMAND_PROCESSES if set (1 draws in this
    process alone), else one per CPU, at most MAX_DEMAND_PROCESSES."""
    setting = os.environ.get("DLRMSIM_DEMAND_PROCESSES")
    if setting is None:
        return max(1, min(cpus, MAX_DEMAND_PROCESSES))
    if not setting.isdigit() or int(setting) < 1:
        raise DlrmsimInputError(f"DLRMSIM_DEMAND_PROCESSES={setting!r}: give a whole number >= 1")
    return int(setting)


def _traced(model: ModelSpec, batch_size: int, trace: str, summary: BatchDemand) -> Demand:
    """The demand of a trace's summary, rescaled to `batch_size`; checked against the model."""
    if summary.lookups.shape[1] != model.num_tables:
        raise DlrmsimInputError(
            f"trace {trace} has {summary.lookups.shape[1]} tables but model {model.name} has "
            f"{model.num_tables}; give a trace generated for this model (dlrmsim trace generate "
            f"--model {model.name}) or the model the trace was made for")
    if summary.num_batches == 0:
        raise DlrmsimInputError(f"trace {trace} holds no batches; give a non-empty trace")
    scale = batch_size / summary.batch_size
    # Lookups scale with the batch; distinct rows grow more slowly, so the sublinear law of the
    # trace itself is not known here: scaling them linearly, capped by rows, is the upper bound.
    rows = np.array([t.rows for t in model.tables], dtype=np.int64)
    lookups = np.rint(summary.lookups * scale).astype(np.int64)
    unique = np.minimum(np.rint(summary.unique_rows * scale).astype(np.int64), rows[None, :])
    return Demand(batch_size, lookups, np.minimum(unique, lookups))


@lru_cache(maxsize=32)
def _generated(model: ModelSpec, batch_size: int, seed: int, batches: int | None) -> Demand:
    from traces.summary import ModelSummary
    from traces.summary_processes import available_cpus

    # One generator for all rounds of the sample: a round draws only the batches it adds, and
    # its first n batches are those a fresh draw of n would give. Large rounds are drawn in
    # a process per CPU (the same numbers; traces/summary_processes.py).
    with ModelSummary(model, batch_size=batch_size, seed=seed,
                      processes=demand_processes(available_cpus())) as source:

        def first(count: int) -> Demand:
            summary = source.first(count)
            return Demand(batch_size, summary.lookups, summary.unique_rows)

        demand = first(batches) if batches is not None else sampled(first)
    demand.lookups.setflags(write=False)
    demand.unique_rows.setflags(write=False)
    return demand

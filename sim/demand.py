"""Per-batch embedding demand (lookups and distinct rows per table) from a trace or the model's
generator, computed vectorized before the run; the simulator replays it batch after batch."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from sim import demand_cache
from sim.errors import DlrmsimInputError
from sim.specs import ModelSpec

if TYPE_CHECKING:
    from traces.native import TraceTable
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
    """Lookups and distinct rows, int64 [batches, tables], for one batch size; read-only.
    `notes` say what a user should know about where they came from (a trace's left-out batch)."""

    batch_size: int
    lookups: np.ndarray
    unique_rows: np.ndarray
    notes: tuple[str, ...] = ()

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


def sample_target(target_rse: float | None) -> float:
    """The relative standard error the replayed sample is drawn to: DEMAND_RSE_TARGET, or half
    a tighter precision target of the run, for the same reason (at most a quarter of its
    variance)."""
    return DEMAND_RSE_TARGET if target_rse is None else min(DEMAND_RSE_TARGET, target_rse / 2)


def batches_needed(pilot: np.ndarray, target: float = DEMAND_RSE_TARGET) -> int:
    """Batches whose mean lookups would meet `target`, judged from a pilot sample's spread; a
    multiple of DEFAULT_BATCHES between the pilot's size and MAX_BATCHES."""
    count = pilot.shape[0]
    error = lookups_rse(pilot)
    if error <= target:
        return count
    wanted = count * (error / target) ** 2
    rounded = math.ceil(wanted / DEFAULT_BATCHES) * DEFAULT_BATCHES
    return max(count, min(MAX_BATCHES, rounded))


def demand_for(model: ModelSpec, batch_size: int, *, seed: int, trace: str | None = None,
               batches: int | None = None, target: float = DEMAND_RSE_TARGET) -> Demand:
    """The demand of `trace` (rescaled to `batch_size`) or generated from `model`: `batches`
    batches, or by default as many as a relative standard error of `target` asks (see
    `batches_needed`), up to MAX_BATCHES and what the trace holds.

    Raises DlrmsimInputError when the trace's tables do not match the model's (count, rows),
    or its batches differ in size other than by a shorter last batch, which is left out.
    """
    if trace is None:
        return _generated(_Drawn(model), batch_size, seed, batches, target)
    from traces.summary import TraceSummary  # traces/ is optional at import time of sim/

    # One reader for all rounds of the sample: a round reads only the batches it adds.
    source = TraceSummary(trace)
    notes = [*_matched_tables(model, trace, source.tables), *_unused_seed(seed, trace)]
    usable, left_out = _equal_batches(trace, source.batch_sizes)

    def first(count: int) -> Demand:
        summary = source.first(min(count, usable))
        return _traced(model, batch_size, trace, summary, (*notes, *left_out))

    return sampled(first, target) if batches is None else first(batches)


def _unused_seed(seed: int, trace: str) -> list[str]:
    """A note when a seed other than the default comes with a trace: the seed only draws the
    lookups (nothing else in a run is random), and a trace's lookups are read, not drawn."""
    if not seed:
        return []
    return [f"seed = {seed} (--seed): the lookups come from trace {trace}, and nothing else in "
            f"a run is drawn; the setting is not used"]


def _matched_tables(model: ModelSpec, trace: str, tables: Sequence[TraceTable]) -> list[str]:
    """Check a trace's tables against the model's, which they are matched to by position.
    Raises DlrmsimInputError when their count or rows differ; a note when only names do."""
    if len(tables) != model.num_tables:
        raise DlrmsimInputError(
            f"trace {trace} has {len(tables)} tables but model {model.name} has "
            f"{model.num_tables}; give a trace generated for this model (dlrmsim trace generate "
            f"--model {_model_argument(model)}), the model the trace was made for, or a model "
            f"fitted to the trace (dlrmsim trace fit {trace} --out MODEL.yaml)")
    pairs = list(zip(tables, model.tables, strict=True))
    rows_differ = [(i, t, m) for i, (t, m) in enumerate(pairs) if t.rows != m.rows]
    if rows_differ:
        i, t, m = rows_differ[0]
        raise DlrmsimInputError(
            f"trace {trace}: table #{i} {t.name!r} has {t.rows:,} rows but model {model.name}'s "
            f"table {m.name!r} has {m.rows:,} ({len(rows_differ)} of {len(pairs)} tables differ "
            f"in rows); give a trace generated for this model (dlrmsim trace generate --model "
            f"{_model_argument(model)}) or a model fitted to the trace (dlrmsim trace fit "
            f"{trace} --out MODEL.yaml)")
    renamed = [(t, m) for t, m in pairs if t.name != m.name]
    if not renamed:
        return []
    t, m = renamed[0]
    return [f"{len(renamed)} of trace {trace}'s {len(pairs)} tables are named differently from "
            f"model {model.name}'s (e.g. {t.name!r} for {m.name!r}); their rows agree, and "
            f"tables are matched by position"]


def _model_argument(model: ModelSpec) -> str:
    """What `dlrmsim trace generate --model` takes for this model: its preset's name when it
    is that preset unchanged, else its YAML file (a model of one's own, or a preset edited
    under the same name, which the preset's name would not give)."""
    from sim.presets import list_presets, load_model

    if model.name in list_presets().get("models", []) and load_model(model.name) == model:
        return model.name
    return f"MODEL.yaml, the file that defines model {model.name}"


def _equal_batches(trace: str, sizes: np.ndarray) -> tuple[int, list[str]]:
    """The trace's batches to replay (the first n) and a note: all of one size, or all but a
    shorter last batch, such as a converted trace's remainder. Raises DlrmsimInputError for
    other mixes of sizes."""
    if (sizes == sizes[:1]).all():
        return int(sizes.size), []
    if (sizes[:-1] == sizes[0]).all() and sizes[-1] < sizes[0]:
        return int(sizes.size) - 1, [
            f"the last batch of trace {trace} holds {sizes[-1]} examples and the others "
            f"{sizes[0]}; it is left out of the replay"]
    raise DlrmsimInputError(
        f"trace {trace} has batches of {np.unique(sizes).size} sizes (from {sizes.min()} to "
        f"{sizes.max()} examples); the simulator replays batches of one size: give a trace whose "
        f"batches are all one size but the last")


def sampled(first: Callable[[int], Demand], target: float = DEMAND_RSE_TARGET) -> Demand:
    """A sample sized by its own spread: `first(n)` gives the first n batches of a source (fewer
    if it holds fewer). A pilot's spread sets the count; the larger sample's own spread may ask
    for more (a pilot of 8 misjudges it easily). Each round asks for more, up to MAX_BATCHES."""
    demand = first(DEFAULT_BATCHES)
    while (count := batches_needed(demand.lookups, target)) > demand.num_batches:
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


def _traced(model: ModelSpec, batch_size: int, trace: str, summary: BatchDemand,
            notes: Sequence[str]) -> Demand:
    """The demand of a trace's summary (its tables checked against the model's already),
    rescaled to `batch_size`."""
    if summary.num_batches == 0:
        raise DlrmsimInputError(f"trace {trace} holds no batches; give a non-empty trace")
    scale = batch_size / summary.batch_size
    # Lookups scale with the batch; distinct rows grow more slowly, so the sublinear law of the
    # trace itself is not known here: scaling them linearly, capped by rows, is the upper bound.
    rows = np.array([t.rows for t in model.tables], dtype=np.int64)
    lookups = np.rint(summary.lookups * scale).astype(np.int64)
    unique = np.minimum(np.rint(summary.unique_rows * scale).astype(np.int64), rows[None, :])
    if summary.batch_size != batch_size:
        notes = (*notes, _rescaled(trace, summary.batch_size, batch_size))
    if summary.num_batches == 1:
        notes = (*notes, _one_batch(trace))
    return Demand(batch_size, lookups, np.minimum(unique, lookups), tuple(notes))


def _one_batch(trace: str) -> str:
    """A note: a single batch shows no batch-to-batch spread, so the error stated for the
    sample (0) is unknown rather than none."""
    return (f"trace {trace} holds one usable batch, so how much batches vary is unknown: the "
            f"run replays that batch alone and its stated error leaves the variation between "
            f"batches out; give a trace of more batches (dlrmsim trace generate --batches N)")


def _rescaled(trace: str, traced: int, wanted: int) -> str:
    """A note: the trace's counts were scaled to the job's batch, distinct rows linearly,
    which errs in the direction the note says (they grow more slowly than the batch)."""
    errs = "overstates" if wanted > traced else "understates"
    return (f"trace {trace} has batches of {traced} examples and the run {wanted} (all the "
            f"servers that share the tables together): lookups and distinct rows are scaled by "
            f"{wanted / traced:.3g}, which {errs} the distinct rows (they grow more slowly than "
            f"the batch); for exact counts give a trace of {wanted}-example batches (dlrmsim "
            f"trace generate --batch-size {wanted})")


class _Drawn:
    """A model as its generated demand sees it: equal to any model whose tables draw the same
    numbers (`demand_cache.drawn_tables`), so that models that differ only in their MLPs or
    their tables' names or widths (Figure 13's sweep of MLP sizes) share one draw."""

    def __init__(self, model: ModelSpec) -> None:
        self.model = model
        self.tables = demand_cache.drawn_tables(model)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Drawn) and self.tables == other.tables

    def __hash__(self) -> int:
        return hash(self.tables)


# Demands kept in this process (count). An entry is counts per batch and table, 8-107 KB for the
# presets' jobs (at most 512 batches x tables x 16 bytes); `dlrmsim reproduce` draws 34 distinct
# ones (session 14).
MAX_DEMANDS_IN_MEMORY = 64


@lru_cache(maxsize=MAX_DEMANDS_IN_MEMORY)
def _generated(drawn: _Drawn, batch_size: int, seed: int, batches: int | None,
               target: float) -> Demand:
    model = drawn.model
    key = demand_cache.entry_key(model, batch_size, seed, batches, target)
    cached = demand_cache.load(key, model.num_tables)
    if cached is not None:
        return _read_only(Demand(batch_size, *cached))
    from traces.summary import ModelSummary  # the generator: imported only to draw
    from traces.summary_processes import available_cpus

    # One generator for all rounds of the sample: a round draws only the batches it adds, and
    # its first n batches are those a fresh draw of n would give. Large rounds are drawn in
    # a process per CPU (the same numbers; traces/summary_processes.py).
    with ModelSummary(model, batch_size=batch_size, seed=seed,
                      processes=demand_processes(available_cpus())) as source:

        def first(count: int) -> Demand:
            summary = source.first(count)
            return Demand(batch_size, summary.lookups, summary.unique_rows)

        demand = first(batches) if batches is not None else sampled(first, target)
    demand_cache.store(key, demand.lookups, demand.unique_rows)
    return _read_only(demand)


def _read_only(demand: Demand) -> Demand:
    """The demand with its arrays made read-only: it is cached and shared by runs."""
    demand.lookups.setflags(write=False)
    demand.unique_rows.setflags(write=False)
    return demand

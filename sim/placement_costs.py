"""What a socket's tables cost it, for placement to balance sockets by.

Lookups x dimension (placement.table_load) counts the bytes a table gathers, and leaves out what
does not grow with them: each embedding kernel's per-call dispatch, the update of its unique
rows, and the last-level cache the tables on one socket share. A hot table alone on one socket
against six cold ones on the other (an M1 sparse PS, session 9) balanced their bytes but left
the cold socket twice the other's seconds. So the sockets of a sparse PS, and those of the
system placement, are weighed by the seconds the run's cost model charges the tables on them
for one batch: each table's forward and update on the socket's cores, summed over its tables.

A socket's tables share its last-level cache (embedding_work.group_costs), so a table's seconds
hang on which others join it; recosting a socket's group at each step of the greedy made the
placement of 1024 tables six times slower than the run. Each table is costed once instead, as
if every socket held an even share of the tables being spread: that share of the cache, and
that share of their bytes as the working set its calls cycle through. That even share misjudges
a socket the greedy gives many small tables, so placement reruns the greedy with each table
recosted at its landed group's share and keeps the candidate whose groups the run charges least
(group_steps; sim/placement.py, REFINE_ROUNDS).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sim.costs import AnalyticCosts, CostModel, EmbeddingWork, Processor
from sim.demand import Demand
from sim.processes.embedding_work import group_costs, table_work
from sim.specs import ModelSpec, ServerSpec, TableSpec


@dataclass(frozen=True)
class KernelCosts:
    """The cost models of the trainer's and the sparse PS's sockets, and each table's mean
    lookups and distinct rows per batch of `batch` examples (by table name), as placement
    weighs them."""

    trainer: CostModel
    ps: CostModel
    model: ModelSpec
    batch: int
    per_batch: Mapping[str, tuple[float, float]]  # table name -> (lookups, distinct rows)

    def __post_init__(self) -> None:
        # work() is asked for the same (table, shards) many times while candidates are weighed
        object.__setattr__(self, "_works", {})

    def work(self, table: TableSpec, shards: int = 1) -> EmbeddingWork:
        """The table's (or one of its `shards` row-wise shards') work for a mean batch, as the
        run builds it from a batch of its demand (embedding_work.table_work)."""
        works: dict[tuple[str, int], EmbeddingWork] = self._works  # type: ignore[attr-defined]
        key = (table.name, shards)
        if key not in works:
            lookups, unique = self.per_batch[table.name]
            works[key] = table_work(self.model, table, self.batch, lookups, unique, shards)
        return works[key]

    def even_share(self, tables: Sequence[TableSpec], sockets: int) -> tuple[float, float]:
        """(cache share, working-set bytes) of a socket when `tables` are spread evenly over
        `sockets` sockets."""
        per_socket = max(1.0, len(tables) / sockets)
        nbytes = sum(self.work(t).table_bytes for t in tables)
        return 1.0 / per_socket, nbytes / max(1.0, min(sockets, len(tables)))

    def group_share(self, members: Sequence[tuple[TableSpec, int]]) -> tuple[float, float]:
        """(cache share, working-set bytes) of each member of a socket's group of tables (or
        row-wise shards, (table, shards)), as the run charges them (embedding_work.group_costs)."""
        return 1.0 / len(members), sum(self.work(t, n).table_bytes for t, n in members)

    def group_steps(self, costs: CostModel, proc: Processor,
                    members: Sequence[tuple[TableSpec, int]]) -> tuple[float, float]:
        """(forward, update) seconds the run charges `proc` for a mean batch of the group
        `members` ((table, shards) each): embedding_work.group_costs of their works."""
        if not members:
            return 0.0, 0.0
        forward, update = group_costs(costs, proc, (self.work(t, n) for t, n in members),
                                      self.model.optimizer)
        return forward.seconds, update.seconds

    def seconds(self, costs: CostModel, proc: Processor, table: TableSpec,
                share: tuple[float, float], shards: int = 1) -> float:
        """Seconds of `table`'s forward and update for one batch on `proc`, with `share` of
        the socket's cache and its working set (even_share); with `shards`, of one of its
        row-wise shards (its share of the rows, lookups and distinct rows, and the kernels'
        full per-call cost)."""
        forward, update = self.steps(costs, proc, table, share, shards)
        return forward + update

    def steps(self, costs: CostModel, proc: Processor, table: TableSpec,
              share: tuple[float, float], shards: int = 1) -> tuple[float, float]:
        """(forward, update) seconds of what `seconds` sums: a sparse PS runs them in
        different steps of a trainer's iteration."""
        work = dataclasses.replace(self.work(table, shards), cache_share=share[0],
                                   working_set_bytes=share[1])
        return (costs.embedding_forward(proc, work).seconds,
                costs.embedding_update(proc, work, self.model.optimizer).seconds)


def socket_proc(server: ServerSpec, socket: int) -> Processor:
    """A socket serving its tables on all its cores, as a sparse PS's socket does
    (sparse_ps.ps_socket_proc) and a GPU server's socket for the system placement."""
    spec = server.sockets[socket]
    return Processor("cpu", spec, threads=spec.cores)


def demand_per_batch(model: ModelSpec, demand: Demand) -> dict[str, tuple[float, float]]:
    """Each table's mean lookups and mean distinct rows per batch of the demand."""
    lookups = demand.lookups.mean(axis=0)
    unique = demand.unique_rows.mean(axis=0)
    return {t.name: (float(lookups[i]), float(unique[i])) for i, t in enumerate(model.tables)}


def spec_per_batch(model: ModelSpec, batch: int) -> dict[str, tuple[float, float]]:
    """Each table's lookups per batch of the spec's mean pooling, without a demand; the distinct
    rows at most the lookups and the rows (an upper bound; a run passes its demand instead)."""
    per_batch = {}
    for t in model.tables:
        lookups = t.pooling.effective_mean_lookups * batch
        per_batch[t.name] = (lookups, min(float(t.rows), lookups))
    return per_batch


def analytic_kernel_costs(model: ModelSpec, trainer: ServerSpec, ps: ServerSpec,
                          batch: int) -> KernelCosts:
    """The servers' analytic cost models over the spec's mean work: what placement weighs by
    when its caller gives no cost models (the run gives its own and its demand)."""
    return KernelCosts(AnalyticCosts(trainer.efficiency), AnalyticCosts(ps.efficiency), model,
                       batch, spec_per_batch(model, batch))

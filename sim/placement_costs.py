"""What a socket's tables cost it, for placement to balance sockets by.

Lookups x dimension (placement.table_load) counts the bytes a table gathers, and leaves out what
does not grow with them: each embedding kernel's per-call dispatch, the update of its unique
rows, and the last-level cache the tables on one socket share. A hot table alone on one socket
against six cold ones on the other (an M1 sparse PS, session 9) balanced their bytes but left
the cold socket twice the other's seconds. So the sockets of a sparse PS, and those of the
system placement, are weighed by the seconds the run's cost model charges the tables on them
for one batch: their forward and update run one after another on the socket's cores, as the
trainers' plans run them (embedding_work.group_costs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sim.costs import AnalyticCosts, CostModel, EmbeddingWork, Processor
from sim.demand import Demand
from sim.processes.embedding_work import group_costs
from sim.specs import ModelSpec, ServerSpec, TableSpec


@dataclass(frozen=True)
class KernelCosts:
    """The cost models of the trainer's and the sparse PS's sockets, and each table's work for
    one mean batch (by table name), as placement weighs them."""

    trainer: CostModel
    ps: CostModel
    works: Mapping[str, EmbeddingWork]
    optimizer: str

    def seconds(self, costs: CostModel, proc: Processor, tables: Sequence[TableSpec]) -> float:
        """Seconds of the forward and update of `tables` for one batch, one after another on
        `proc` (0 for none)."""
        if not tables:
            return 0.0
        forward, update = group_costs(costs, proc, (self.works[t.name] for t in tables),
                                      self.optimizer)
        return forward.seconds + update.seconds


def socket_proc(server: ServerSpec, socket: int) -> Processor:
    """A socket serving its tables on all its cores, as a sparse PS's socket does
    (sparse_ps.ps_socket_proc) and a GPU server's socket for the system placement."""
    spec = server.sockets[socket]
    return Processor("cpu", spec, threads=spec.cores)


def demand_works(model: ModelSpec, demand: Demand) -> dict[str, EmbeddingWork]:
    """Each table's work for a batch of the demand's mean lookups and mean distinct rows."""
    lookups = demand.lookups.mean(axis=0)
    unique = demand.unique_rows.mean(axis=0)
    return {t.name: _work(model, t, demand.batch_size, float(lookups[i]), float(unique[i]))
            for i, t in enumerate(model.tables)}


def spec_works(model: ModelSpec, batch: int) -> dict[str, EmbeddingWork]:
    """Each table's work for a batch of the spec's mean lookups, without a demand: the distinct
    rows at most the lookups and the rows (an upper bound; a run passes its demand instead)."""
    works = {}
    for t in model.tables:
        lookups = t.pooling.effective_mean_lookups * batch
        works[t.name] = _work(model, t, batch, lookups, min(float(t.rows), lookups))
    return works


def analytic_kernel_costs(model: ModelSpec, trainer: ServerSpec, ps: ServerSpec,
                          batch: int) -> KernelCosts:
    """The servers' analytic cost models over the spec's mean work: what placement weighs by
    when its caller gives no cost models (the run gives its own and its demand)."""
    return KernelCosts(AnalyticCosts(trainer.efficiency), AnalyticCosts(ps.efficiency),
                       spec_works(model, batch), model.optimizer)


def _work(model: ModelSpec, table: TableSpec, batch: int, lookups: float,
          unique: float) -> EmbeddingWork:
    # As embedding_work.shard_work makes one batch's work from the demand's figures.
    return EmbeddingWork(batch=batch, rows=table.rows, dim=table.dim, pooling=lookups / batch,
                         unique_rows=max(1, int(unique)),
                         zipf_s=float(table.popularity.zipf_s),
                         bytes_per_element=model.bytes_per_element)

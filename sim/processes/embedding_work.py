"""Per-batch embedding work of tables and table shards, and the kernels' costs for a group of
tables on one processor, from the replayed demand."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from sim.costs import CostModel, EmbeddingWork, OpCost, Processor
from sim.demand import Demand
from sim.specs import ModelSpec, TableSpec


def shard_work(model: ModelSpec, demand: Demand, batch_index: int, table: int,
               shards: int = 1) -> EmbeddingWork:
    """One table's (or one of its `shards` row-wise shards') work for one batch of the demand."""
    row = batch_index % demand.num_batches
    return table_work(model, model.tables[table], demand.batch_size,
                      float(demand.lookups[row, table]), int(demand.unique_rows[row, table]),
                      shards)


def table_work(model: ModelSpec, table: TableSpec, batch: int, lookups: float,
               unique_rows: float, shards: int = 1) -> EmbeddingWork:
    """A table's work for a batch of `lookups` lookups over `unique_rows` distinct rows, or one
    of its `shards` row-wise shards' work: its share of the rows, lookups and distinct rows."""
    return EmbeddingWork(batch=batch, rows=max(1, table.rows // shards), dim=table.dim,
                         pooling=lookups / shards / batch,
                         unique_rows=max(1, int(unique_rows) // shards),
                         zipf_s=float(table.popularity.zipf_s),
                         bytes_per_element=model.bytes_per_element)


def group_costs(costs: CostModel, proc: Processor, works: Iterable[EmbeddingWork],
                optimizer: str) -> tuple[OpCost, OpCost]:
    """(forward, update) costs of a group of tables run one after another on one processor;
    the tables share its last-level cache evenly, and each step cycles through all of them."""
    group = list(works)
    forward, update = OpCost(0.0), OpCost(0.0)
    working_set = sum(w.table_bytes for w in group)
    for work in (dataclasses.replace(w, cache_share=1.0 / len(group),
                                     working_set_bytes=working_set) for w in group):
        forward = forward + costs.embedding_forward(proc, work)
        update = update + costs.embedding_update(proc, work, optimizer)
    return forward, update


def index_bytes(demand: Demand, batch_index: int, table: int, shards: int = 1) -> float:
    """Bytes of one table's indices and bag lengths for one batch (or one row-wise shard)."""
    from sim.cluster import INDEX_BYTES, LENGTH_BYTES

    row = batch_index % demand.num_batches
    return (float(demand.lookups[row, table]) * INDEX_BYTES / shards
            + demand.batch_size * LENGTH_BYTES)

"""What one iteration of a job's GPU trainer servers does, per batch of the demand: bytes of each
copy and all-to-all, costs of each kernel, on which GPU, socket or sparse parameter server.

With several servers and tables in GPU or system memory, the servers train one global batch
(each its own batch, split over its GPUs) and the tables are spread over all of them (see
sim.placement.sharing_servers): GPU and socket numbers run over the servers (`Layout`), a table's
indices come from every server and its pooled embeddings go to every GPU, across the network
where they change servers. With remote tables each server has its own batch and plan."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from sim.cluster import DENSE_BYTES, Job, cpu_proc, dense_update_cost, gpu_proc, mlp_cost
from sim.costs import OpCost, feature_interaction
from sim.processes.embedding_work import group_costs, index_bytes, shard_work
from sim.processes.sparse_ps import Share, ps_socket_proc
from sim.topology import Endpoint, Route, ServerResources, route_between


def local_batches(batch: int, gpus: int) -> list[int]:
    """The global batch split over the GPUs (data-parallel MLPs), remainder to the first."""
    base, extra = divmod(batch, gpus)
    return [base + (1 if g < extra else 0) for g in range(gpus)]


@dataclass(frozen=True)
class Layout:
    """The job's GPUs and sockets numbered over its trainer servers, a server's own first: GPU
    d is GPU d % gpus of server d // gpus, and socket s likewise."""

    servers: tuple[ServerResources, ...]
    gpus: int

    @property
    def sockets(self) -> int:
        return len(self.servers[0].cpu)

    def gpu(self, d: int) -> tuple[ServerResources, Endpoint]:
        return self.servers[d // self.gpus], ("gpu", d % self.gpus)

    def socket(self, s: int) -> tuple[ServerResources, Endpoint]:
        return self.servers[s // self.sockets], ("host", s % self.sockets)

    def route(self, src: tuple[ServerResources, Endpoint], dst: tuple[ServerResources, Endpoint],
              spread: int = 0) -> Route:
        return route_between(src[0], src[1], dst[0], dst[1], spread)


@dataclass
class DenseCosts:
    """The batch-independent kernels of each GPU: MLPs, interaction, dense optimizer step."""

    forward: list[OpCost]  # bottom MLP
    top: list[OpCost]  # interaction + top MLP, forward and backward
    backward: list[OpCost]  # bottom MLP backward and the dense optimizer step
    allreduce_bytes: float  # what each GPU sends to its ring successor


@dataclass
class BatchPlan:
    """The batch-dependent work of one iteration (see module docstring). GPUs and sockets are
    numbered over the servers (Layout), except in the remote_* fields, which each server has
    for its own batch and GPUs."""

    input_bytes: list[float]  # from the GPU's own server: its dense features, its tables' indices
    emb_fwd: list[OpCost]
    emb_upd: list[OpCost]
    # GPU -> {server: bytes}: its tables' indices from the batches of the other servers
    input_from: dict[int, dict[int, float]] = field(default_factory=dict)
    a2a: dict[tuple[int, int], float] = field(default_factory=dict)
    host_fwd: dict[int, OpCost] = field(default_factory=dict)
    host_upd: dict[int, OpCost] = field(default_factory=dict)
    # socket -> {server: bytes}: its tables' indices from the batches of the other servers
    host_in: dict[int, dict[int, float]] = field(default_factory=dict)
    host_out: dict[int, dict[int, float]] = field(default_factory=dict)  # socket -> {GPU: bytes}
    # Bytes of the messages to and from each sparse PS, keyed (ps, socket) by the socket whose
    # memory holds the tables they are for (sparse_ps.Share): indices out, rows back (and
    # their gradients out); and per PS, its reply, which the client copies as one message.
    remote_req: dict[Share, float] = field(default_factory=dict)
    remote_fwd: dict[tuple[int, int], OpCost] = field(default_factory=dict)
    remote_upd: dict[tuple[int, int], OpCost] = field(default_factory=dict)
    remote_out: dict[Share, float] = field(default_factory=dict)
    remote_replies: dict[int, float] = field(default_factory=dict)
    remote_to_gpu: list[float] = field(default_factory=list)
    remote_threads: dict[tuple[int, int], int] = field(default_factory=dict)


def dense_costs(job: Job, server: ServerResources, gpus: int) -> DenseCosts:
    model, costs = job.model, job.trainer_costs
    forward, top, backward = [], [], []
    for g, b in enumerate(local_batches(job.spec.batch_size, gpus)):
        proc = gpu_proc(server, g)
        forward.append(mlp_cost(costs, proc, b, model.bottom_layer_widths, backward=False))
        top.append(feature_interaction(costs, proc, model, b, backward=False)
                   + mlp_cost(costs, proc, b, model.top_layer_widths, backward=False)
                   + costs.loss(proc, b)
                   + mlp_cost(costs, proc, b, model.top_layer_widths, backward=True)
                   + feature_interaction(costs, proc, model, b, backward=True))
        backward.append(mlp_cost(costs, proc, b, model.bottom_layer_widths, backward=True,
                                 input_is_data=True)
                        + dense_update_cost(costs, proc, model))
    ring = 2.0 * (gpus - 1) / gpus * model.dense_parameters * DENSE_BYTES if gpus > 1 else 0.0
    return DenseCosts(forward, top, backward, ring)


def batch_plan(job: Job, layout: Layout, batch_index: int) -> BatchPlan:
    model = job.model
    per_gpu = local_batches(job.spec.batch_size, layout.gpus)
    locals_ = per_gpu * len(layout.servers)  # examples of every GPU of the job
    plan = BatchPlan([float(b * model.dense_features * DENSE_BYTES) for b in locals_],
                     [OpCost(0.0)] * len(locals_), [OpCost(0.0)] * len(locals_),
                     remote_to_gpu=[0.0] * layout.gpus)
    gpu_works: dict[int, list] = defaultdict(list)
    host_works: dict[int, list] = defaultdict(list)
    remote_works: dict[tuple[int, int], list] = defaultdict(list)
    for t, where in enumerate(job.placement.tables):
        if where.location == "gpu":
            _gpu_table(job, layout, plan, gpu_works, batch_index, t, locals_)
        elif where.location == "host":
            _host_table(job, layout, plan, host_works, batch_index, t, locals_)
        else:
            _remote_table(job, plan, remote_works, batch_index, t, per_gpu)
    _costs(job, layout, plan, gpu_works, host_works, remote_works)
    return plan


def _local_shards(job: Job, layout: Layout, works: dict[int, list], batch_index: int, t: int
                  ) -> Iterator[tuple[int, int, float, int]]:
    """For each GPU or socket holding a shard of table t: queue the shard's work for the global
    batch, and yield (device, shards, each server's share of the shard's indices, row bytes)."""
    model, demand, where = job.model, job.demand, job.placement.tables[t]
    shards, servers = len(where.devices), len(layout.servers)
    row_bytes = model.tables[t].dim * model.bytes_per_element
    for d in where.devices:
        works[d].append(shard_work(model, demand, batch_index, t, shards))
        yield d, shards, index_bytes(demand, batch_index, t, shards) / servers, row_bytes


def _gpu_table(job: Job, layout: Layout, plan: BatchPlan, works: dict[int, list],
               batch_index: int, t: int, locals_: list[int]) -> None:
    """A table in GPU memory: each of its GPUs looks up its shard for the global batch, takes
    every server's share of the indices and sends each GPU its examples' pooled rows."""
    for d, _, share, row_bytes in _local_shards(job, layout, works, batch_index, t):
        for s in range(len(layout.servers)):
            if s == d // layout.gpus:
                plan.input_bytes[d] += share
            else:
                _add(plan.input_from, d, s, share)
        for h, b in enumerate(locals_):
            if h != d:
                plan.a2a[(d, h)] = plan.a2a.get((d, h), 0.0) + b * row_bytes


def _host_table(job: Job, layout: Layout, plan: BatchPlan, works: dict[int, list],
                batch_index: int, t: int, locals_: list[int]) -> None:
    """A table in system memory: each of its sockets looks up its shard for the global batch
    (indices of other servers' batches come over the network) and sends every GPU its slice.
    A row-wise table's shards pool partial sums; the sockets reduce-scatter them (a few hundred
    kB over the socket links, left out) and each sends its slice of bags."""
    for k, shards, share, row_bytes in _local_shards(job, layout, works, batch_index, t):
        for s in range(len(layout.servers)):
            if s != k // layout.sockets:
                _add(plan.host_in, k, s, share)
        for h, b in enumerate(locals_):
            _add(plan.host_out, k, h, b * row_bytes / shards)


def _remote_table(job: Job, plan: BatchPlan, works: dict[tuple[int, int], list],
                  batch_index: int, t: int, per_gpu: list[int]) -> None:
    """A table on a sparse PS, served by the socket the placement gave it there: each server
    sends its own batch's indices (to that socket) and stages the replies to its GPUs."""
    model, demand, where = job.model, job.demand, job.placement.tables[t]
    p, key = where.devices[0], (where.devices[0], where.ps_socket)
    row_bytes = model.tables[t].dim * model.bytes_per_element
    works[key].append(shard_work(model, demand, batch_index, t))
    plan.remote_req[key] = plan.remote_req.get(key, 0.0) + index_bytes(demand, batch_index, t)
    plan.remote_out[key] = plan.remote_out.get(key, 0.0) + demand.batch_size * row_bytes
    plan.remote_replies[p] = plan.remote_replies.get(p, 0.0) + demand.batch_size * row_bytes
    for h, b in enumerate(per_gpu):
        plan.remote_to_gpu[h] += b * row_bytes


def _costs(job: Job, layout: Layout, plan: BatchPlan, gpu_works: dict[int, list],
           host_works: dict[int, list], remote_works: dict[tuple[int, int], list]) -> None:
    """The kernels of each GPU, socket and sparse-PS socket for the tables it holds."""
    optimizer = job.model.optimizer
    for d, works in gpu_works.items():
        server, (_, g) = layout.gpu(d)
        plan.emb_fwd[d], plan.emb_upd[d] = group_costs(job.trainer_costs, gpu_proc(server, g),
                                                       works, optimizer)
    for k, works in host_works.items():
        server, (_, s) = layout.socket(k)
        proc = cpu_proc(server, s, server.spec.sockets[s].cores)
        plan.host_fwd[k], plan.host_upd[k] = group_costs(job.trainer_costs, proc, works, optimizer)
    for (p, s), works in remote_works.items():
        proc = ps_socket_proc(job, p, s)
        plan.remote_threads[(p, s)] = proc.threads
        plan.remote_fwd[(p, s)], plan.remote_upd[(p, s)] = group_costs(job.ps_costs, proc, works,
                                                                       optimizer)


def _add(table: dict[int, dict[int, float]], key: int, inner: int, nbytes: float) -> None:
    row = table.setdefault(key, {})
    row[inner] = row.get(inner, 0.0) + nbytes

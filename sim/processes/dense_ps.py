"""Dense parameter servers: elastic averaging (EASGD) of the MLP weights. Every k iterations a
trainer sends its dense parameters (sharded evenly over the dense PS), each PS moves its centre
toward them and replies with the new centre; the elastic update streams three arrays once."""

from __future__ import annotations

from sim.cluster import DENSE_BYTES, Job, Proc, cpu_proc
from sim.costs import OpCost
from sim.topology import Endpoint, ServerResources, network_route


def easgd(job: Job, trainer: ServerResources, end: Endpoint, spread: int = 0) -> Proc:
    """One EASGD exchange of `trainer` with every dense PS; done when all replies are in."""
    servers = job.dense_ps
    if not servers:
        return
    shard = job.model.dense_parameters * DENSE_BYTES / len(servers)
    sends, kernels, replies = [], [], []
    latency = 0.0
    for i, ps in enumerate(servers):
        out = network_route(trainer, end, ps, ("host", 0), spread=spread + i)
        back = network_route(ps, ("host", 0), trainer, end, spread=spread + i)
        latency = max(latency, out.latency_s)
        sends.append((out.demands(shard), 0.0))
        replies.append((back.demands(shard), 0.0))
        cost = _elastic_cost(job, ps, shard)
        kernels.append((job.kernel_demands(ps, ("host", 0), cost), cost.seconds))
    yield from job.bundle(sends, latency)
    yield from job.bundle(kernels)
    yield from job.bundle(replies, latency)


def _elastic_cost(job: Job, ps: ServerResources, nbytes: float) -> OpCost:
    proc = cpu_proc(ps, 0, 1)
    moved = 3.0 * nbytes  # read centre and trainer copy, write centre
    return OpCost(moved / job.ps_costs.memory_bw_bytes_per_s(proc), moved)

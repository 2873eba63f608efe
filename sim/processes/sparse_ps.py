"""Sparse parameter servers: they serve pooled lookups of the tables they hold and apply the
gradient updates, on their cores and memory bandwidth; requests and replies cross the network."""

from __future__ import annotations

from collections.abc import Mapping

from sim.cluster import Job, Proc
from sim.costs import OpCost
from sim.engine import Channel
from sim.topology import Endpoint, ServerResources, network_route

Part = tuple[list[tuple[Channel, float]], float]


def kernel_parts(job: Job, costs: Mapping[tuple[int, int], OpCost],
                 threads: Mapping[tuple[int, int], int], only: int | None = None) -> list[Part]:
    """Bundle parts for the kernels of sparse PS sockets, keyed (ps, socket)."""
    parts = []
    for (p, s), cost in sorted(costs.items()):
        if only is None or p == only:
            server = job.sparse_ps[p]
            parts.append((job.kernel_demands(server, ("host", s), cost, threads[(p, s)]),
                          cost.seconds))
    return parts


def exchange(job: Job, client: ServerResources, end: Endpoint, nbytes: Mapping[int, float],
             *, to_ps: bool) -> Proc:
    """One fan-out (to_ps) or fan-in of messages between a client and sparse PS, as a bundle
    that ends when the last message is in (the client waits for all of them anyway)."""
    parts: list[Part] = []
    latency = 0.0
    for p, size in sorted(nbytes.items()):
        ps = job.sparse_ps[p]
        route = (network_route(client, end, ps, ("host", 0), spread=p) if to_ps
                 else network_route(ps, ("host", 0), client, end, spread=p))
        parts.append((route.demands(size), 0.0))
        latency = max(latency, route.latency_s)
    yield from job.bundle(parts, latency)


def serve(job: Job, costs: Mapping[tuple[int, int], OpCost],
          threads: Mapping[tuple[int, int], int]) -> Proc:
    """Every sparse PS named in `costs` runs its part; done when all are."""
    yield from job.bundle(kernel_parts(job, costs, threads))

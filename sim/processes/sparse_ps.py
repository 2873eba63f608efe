"""Sparse parameter servers: they serve pooled lookups of the tables they hold and apply the
gradient updates, on their cores and memory bandwidth; requests and replies cross the network."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass

from sim.cluster import INDEX_BYTES, LENGTH_BYTES, Job, Proc, cpu_proc
from sim.costs import OpCost, Processor
from sim.engine import Channel
from sim.topology import Endpoint, ServerResources, network_route

Part = tuple[list[tuple[Channel, float]], float]


def ps_socket_proc(job: Job, ps: int, socket: int) -> Processor:
    """The processor that serves a request's tables on one socket of sparse PS `ps`: all the
    socket's cores, since one request's pooled lookups split over its bags. Requests that
    overlap share those cores through the socket's core channel. (Sizing it by the request's
    table count left a socket that holds one hot table serving it on one core, so adding
    servers made a job slower.)"""
    server = job.sparse_ps[ps]
    return cpu_proc(server, socket, server.spec.sockets[socket].cores)


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
    fan = _fan(job, client, end, tuple(sorted(nbytes)), to_ps)
    sizes = [nbytes[p] for p in fan.servers]
    # Each channel's amount is summed over its messages in server order, as a bundle of one
    # part per message would: the flow is the same, bit for bit, without rebuilding routes.
    demands = []
    for channel, members in fan.members:
        amount = 0.0
        for i in members:
            amount += sizes[i]
        demands.append((channel, amount))
    yield from job.bundle([(demands, 0.0)], fan.latency_s)


@dataclass(frozen=True)
class _Fan:
    """The channels of one client's messages to (or from) a set of sparse PS: each channel
    with the positions (in `servers`) of the messages that cross it, in first-use order."""

    servers: tuple[int, ...]
    members: tuple[tuple[Channel, tuple[int, ...]], ...]
    latency_s: float


# Routes depend only on the servers' specs and names, so each fan is built once per job; a
# worker repeats the same fans every iteration. Weak keys: a finished job frees its fans.
_FANS: weakref.WeakKeyDictionary[Job, dict[tuple[str, Endpoint, tuple[int, ...], bool], _Fan]]
_FANS = weakref.WeakKeyDictionary()


def exchange_bytes(job: Job) -> dict[int, tuple[float, float, float]]:
    """Per sparse PS, the bytes per example of a trainer's three exchanges with it, as the
    model expects them: (indices and bag lengths out, pooled rows back, their gradients out),
    summed over the tables it holds."""
    totals: dict[int, tuple[float, float, float]] = {}
    for table, where in zip(job.model.tables, job.placement.tables, strict=True):
        if where.location == "remote":
            p = where.devices[0]
            request = table.pooling.effective_mean_lookups * INDEX_BYTES + LENGTH_BYTES
            row = float(table.dim * job.model.bytes_per_element)
            before = totals.get(p, (0.0, 0.0, 0.0))
            totals[p] = (before[0] + request, before[1] + row, before[2] + row)
    return totals


def client_nics(job: Job, client: ServerResources, end: Endpoint) -> dict[int, int]:
    """The client's NIC toward (and from) each sparse PS, among those that may serve `end`.

    Each exchange (requests, replies, gradients) ends when its last message is in, so its time
    goes with the most bytes one NIC carries in it. Largest PS first (all three exchanges'
    bytes), each goes onto the NIC that leaves the smallest sum over the exchanges of those
    most bytes; ties to the NIC with the fewest bytes so far, then the first in the pool.
    (Sparse PS hold unequal bytes, so the earlier rule, PS p on NIC p modulo the NICs, loaded
    one of Big Basin's two NICs of socket 0 more than the other; balancing the three
    exchanges' bytes together instead of each can leave the replies on one NIC, as for M2.)
    With one NIC both rules give it."""
    pool = client.nic_pool(end)
    per_ps = exchange_bytes(job)
    loads = [[0.0, 0.0, 0.0] for _ in pool]

    def busiest(k: int, add: tuple[float, float, float]) -> float:
        return sum(max(loads[i][e] + (add[e] if i == k else 0.0) for i in range(len(pool)))
                   for e in range(3))

    chosen: dict[int, int] = {}
    for p in sorted(per_ps, key=lambda p: (-sum(per_ps[p]), p)):
        k = min(range(len(pool)), key=lambda i: (busiest(i, per_ps[p]), sum(loads[i]), i))
        loads[k] = [a + b for a, b in zip(loads[k], per_ps[p], strict=True)]
        chosen[p] = pool[k]
    return chosen


def _fan(job: Job, client: ServerResources, end: Endpoint, servers: tuple[int, ...],
         to_ps: bool) -> _Fan:
    fans = _FANS.setdefault(job, {})
    key = (client.name, end, servers, to_ps)
    if key not in fans:
        members: dict[int, tuple[Channel, list[int]]] = {}
        latency = 0.0
        nics = client_nics(job, client, end)
        for i, p in enumerate(servers):
            ps = job.sparse_ps[p]
            route = (network_route(client, end, ps, ("host", 0), spread=p, src_nic=nics[p])
                     if to_ps else
                     network_route(ps, ("host", 0), client, end, spread=p, dst_nic=nics[p]))
            for channel in route.channels:
                members.setdefault(id(channel), (channel, []))[1].append(i)
            latency = max(latency, route.latency_s)
        fans[key] = _Fan(servers, tuple((c, tuple(m)) for c, m in members.values()), latency)
    return fans[key]


def serve(job: Job, costs: Mapping[tuple[int, int], OpCost],
          threads: Mapping[tuple[int, int], int]) -> Proc:
    """Every sparse PS named in `costs` runs its part; done when all are."""
    yield from job.bundle(kernel_parts(job, costs, threads))

"""Sparse parameter servers: they serve pooled lookups of the tables they hold and apply the
gradient updates, on the cores and memory bandwidth of the socket that holds each table;
requests and replies cross the network, and inside the PS reach each table's socket."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass

from sim.cluster import INDEX_BYTES, LENGTH_BYTES, Job, Proc, cpu_proc
from sim.costs import OpCost, Processor
from sim.engine import Channel
from sim.topology import Endpoint, Route, ServerResources, network_route

Part = tuple[list[tuple[Channel, float]], float]
# (sparse PS, socket): the part of a PS's message for the tables that socket's memory holds
Share = tuple[int, int]


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


def exchange(job: Job, client: ServerResources, end: Endpoint, nbytes: Mapping[Share, float],
             *, to_ps: bool) -> Proc:
    """One fan-out (to_ps) or fan-in of messages between a client and sparse PS, as a bundle
    that ends when the last message is in (the client waits for all of them anyway).

    `nbytes` holds each PS's message split by the socket of that PS whose memory holds the
    tables the bytes are for, keyed (ps, socket) (see `Share`): each share enters or leaves
    the PS at its socket, so a share for socket 1 of a PS whose NIC sits on socket 0 crosses
    the inter-socket link and socket 1's memory channel. A PS's message keeps one NIC at
    each end, and the exchange one latency (its slowest route's)."""
    fan = _fan(job, client, end, tuple(sorted(nbytes)), to_ps)
    sizes = [nbytes[k] for k in fan.shares]
    # Each channel's amount is summed over its shares in (ps, socket) order, as a bundle of
    # one part per share would: the flow is the same, bit for bit, without rebuilding routes.
    # Channels crossed by the same shares (every client-side hop) share one sum.
    sums: list[float] = []
    for members in fan.groups:
        amount = 0.0
        for i in members:
            amount += sizes[i]
        sums.append(amount)
    yield from job.bundle([([(channel, sums[g]) for channel, g in fan.channels], 0.0)],
                          fan.latency_s)


@dataclass(frozen=True)
class _Fan:
    """The channels of one client's messages to (or from) sparse PS, split into `shares`:
    `groups` are the distinct sets of positions (in `shares`) of the shares that cross a
    channel, and `channels` each channel, in first-use order, with the index of its group."""

    shares: tuple[Share, ...]
    groups: tuple[tuple[int, ...], ...]
    channels: tuple[tuple[Channel, int], ...]
    latency_s: float


# Routes depend only on the servers' specs and names, so each fan is built once per job; a
# worker repeats the same fans every iteration. Weak keys: a finished job frees its fans.
_FANS: weakref.WeakKeyDictionary[Job, dict[tuple[str, Endpoint, tuple[Share, ...], bool], _Fan]]
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
    With one NIC both rules give it. The balance is by PS, not by (PS, socket) share: a PS's
    message is one RPC on one connection, so its shares for each socket travel together
    through one NIC; only inside the PS do they part for their sockets."""
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


def _fan(job: Job, client: ServerResources, end: Endpoint, shares: tuple[Share, ...],
         to_ps: bool) -> _Fan:
    """The job's fan for these shares, built on first use."""
    fans = _FANS.setdefault(job, {})
    key = (client.name, end, shares, to_ps)
    if key not in fans:
        members: dict[int, tuple[Channel, list[int]]] = {}
        latency = 0.0
        nics = client_nics(job, client, end)
        for i, share in enumerate(shares):
            route = _share_route(job, client, end, share, nics[share[0]], to_ps)
            # A fan sums its shares' bytes per channel, one byte per byte moved: true of routes
            # between host endpoints. A GPU endpoint's route stages through host memory at 2
            # bytes per byte (Route.per_byte), which a fan would undercharge.
            if any(f != 1.0 for f in route.factors()):
                raise ValueError(f"sparse PS exchange from {end} of {client.name}: only host "
                                 "endpoints may exchange with sparse PS")
            for channel in route.channels:
                members.setdefault(id(channel), (channel, []))[1].append(i)
            latency = max(latency, route.latency_s)
        groups: dict[tuple[int, ...], int] = {}
        channels = tuple((c, groups.setdefault(tuple(m), len(groups)))
                         for c, m in members.values())
        fans[key] = _Fan(shares, tuple(groups), channels, latency)
    return fans[key]


def _share_route(job: Job, client: ServerResources, end: Endpoint, share: Share,
                 client_nic: int, to_ps: bool) -> Route:
    """The route of one share of a PS's message. The PS's NIC is the one its whole message
    takes (nic_for its socket 0), whichever socket the share is for: one message, one NIC at
    each end. Between that NIC and the share's socket the bytes cross the inter-socket link
    when the two differ (ServerResources.to_nic)."""
    p, socket = share
    ps = job.sparse_ps[p]
    ps_nic = ps.nic_for(("host", 0), spread=p)
    if to_ps:
        return network_route(client, end, ps, ("host", socket), src_nic=client_nic,
                             dst_nic=ps_nic)
    return network_route(ps, ("host", socket), client, end, src_nic=ps_nic, dst_nic=client_nic)


def serve(job: Job, costs: Mapping[tuple[int, int], OpCost],
          threads: Mapping[tuple[int, int], int]) -> Proc:
    """Every sparse PS named in `costs` runs its part; done when all are."""
    yield from job.bundle(kernel_parts(job, costs, threads))

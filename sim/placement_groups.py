"""What the run charges a socket for its group of tables, for placement to judge its candidates
by (session 16).

A socket's tables share its last-level cache and cycle through their summed bytes
(embedding_work.group_costs), so a table's seconds hang on the group it lands in. Placement
first weighs each table at an even share of a socket (placement_costs.KernelCosts.even_share),
which misjudges a socket given many small tables; these functions recost a placement's groups
as the run will, and give the greedy its weights for the next candidate (sim/placement.py keeps
the candidate these charge least). Here too: the weights of the first candidate (socket_weigh),
the balance of tables over the sparse PS (ps_balance), and the row-wise sharding of hot tables
over a GPU server's sockets (split_hot), which group costs decide.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sim.costs import CostModel
from sim.placement_costs import KernelCosts, socket_proc
from sim.placement_ps import (
    PsCharge,
    PsLoad,
    busiest_steps_s,
    exchange_bytes,
    network_and_sockets,
    ps_nic_bw,
)
from sim.specs import JobSpec, ModelSpec, ServerSpec, TableSpec

if TYPE_CHECKING:  # placement.py imports this module
    from sim.placement import Balance, ShardWeigh, TablePlacement

# A socket's group: (table, row-wise shards) of what it holds, in the model's order
Group = list[tuple[TableSpec, int]]
# Sockets' groups -> (forward, update) seconds the run charges each socket for them
GroupCharge = Callable[[Sequence[Group]], list[tuple[float, float]]]
Share = Callable[[TableSpec], tuple[float, float]]  # a table -> (cache share, working set)


def groups(tables: Sequence[TableSpec], placed: Sequence[TablePlacement], devices: int
            ) -> list[Group]:
    """Each device's group of tables and shards, in the tables' order (as the run's plans
    append their works)."""
    groups: list[Group] = [[] for _ in range(devices)]
    for t, p in zip(tables, placed, strict=True):
        for d in p.devices:
            groups[d].append((t, len(p.devices)))
    return groups



def worst_steps(steps: Sequence[tuple[float, float]]) -> float:
    """The slowest forward plus the slowest update over sockets: how long the sockets' two
    kernel steps hold up a batch (each ends with its slowest socket)."""
    return max(f for f, _ in steps) + max(u for _, u in steps)



def socket_charge(costs: KernelCosts, model_costs: CostModel, server: ServerSpec
                   ) -> GroupCharge:
    """What the run charges each socket (numbered over `server`'s sockets server by server)
    for its group, per mean batch (KernelCosts.group_steps)."""
    sockets = len(server.sockets)

    def charge(groups: Sequence[Group]) -> list[tuple[float, float]]:
        return [costs.group_steps(model_costs, socket_proc(server, d % sockets), g)
                for d, g in enumerate(groups)]
    return charge



def landed_weigh(costs: KernelCosts, model_costs: CostModel, server: ServerSpec,
                  tables: Sequence[TableSpec], placed: Sequence[TablePlacement],
                  devices: int) -> ShardWeigh:
    """A table's seconds per batch on socket `device` with the cache share and working set of
    the group it landed in under `placed` (a shard, those of `device`'s group): the greedy's
    weights for its next candidate."""
    sockets = len(server.sockets)
    shares = [costs.group_share(g) if g else (1.0, 0.0)
              for g in groups(tables, placed, devices)]
    home = {t.name: shares[p.devices[0]] for t, p in zip(tables, placed, strict=True)}

    def weigh(device: int, table: TableSpec, shards: int = 1) -> float:
        share = home[table.name] if shards == 1 else shares[device]
        return costs.seconds(model_costs, socket_proc(server, device % sockets), table, share,
                             shards)
    return weigh



def ps_groups(model: ModelSpec, ps: ServerSpec, remote: Sequence[TablePlacement], servers: int
               ) -> list[list[Group]]:
    """Each sparse PS's sockets' groups, in the tables' order."""
    groups: list[list[Group]] = [[[] for _ in ps.sockets] for _ in range(servers)]
    for t, p in zip(model.tables, remote, strict=True):
        groups[p.devices[0]][p.ps_socket].append((t, 1))
    return groups



def landed_share(model: ModelSpec, job: JobSpec, ps: ServerSpec, costs: KernelCosts,
                  remote: Sequence[TablePlacement]) -> Share:
    """Each table's share of the (PS, socket) group it landed in."""
    groups = ps_groups(model, ps, remote, job.sparse_ps)
    # One share per group, not per member: per member it grew with the square of the tables.
    share = {(server, socket): costs.group_share(group)
             for server, sockets in enumerate(groups) for socket, group in enumerate(sockets)
             if group}
    shares = {t.name: share[p.devices[0], p.ps_socket]
              for t, p in zip(model.tables, remote, strict=True)}
    return lambda table: shares[table.name]



def remote_charge(model: ModelSpec, job: JobSpec, ps: ServerSpec, costs: KernelCosts,
                   remote: Sequence[TablePlacement]) -> float:
    """The sum over a trainer's five steps of the busiest PS's seconds (placement_ps), the
    sockets' kernels as the run charges their groups."""
    charge = socket_charge(costs, costs.ps, ps)
    loads = []
    for server, groups in enumerate(ps_groups(model, ps, remote, job.sparse_ps)):
        indices = rows = 0.0
        bw = ps_nic_bw(ps, server)
        for group in groups:
            for table, _ in group:
                i, r = exchange_bytes(table, costs.batch, costs.per_batch[table.name][0],
                                      model.bytes_per_element)
                indices, rows = indices + i / bw, rows + r / bw
        steps = charge(groups)
        loads.append(PsLoad(indices, rows, [f for f, _ in steps], [u for _, u in steps]))
    return busiest_steps_s(loads)



def ps_balance(model: ModelSpec, job: JobSpec, ps: ServerSpec, costs: KernelCosts,
                share: Share) -> Balance:
    """Tables over the sparse PS by their NICs' and sockets' seconds per batch together
    (sim/placement_ps.py); a table's forward and update on a socket with `share` of its cache
    and working set (at first an even share of every socket of every PS,
    KernelCosts.even_share, as socket_weigh costs them)."""
    sockets = range(len(ps.sockets))
    # Every PS is of type `ps`: a table's seconds on a socket are the same on each, costed once.
    steps = {t.name: [costs.steps(costs.ps, socket_proc(ps, s), t, share(t)) for s in sockets]
             for t in model.tables}

    def charge(server: int, table: TableSpec) -> PsCharge:
        lookups, _ = costs.per_batch[table.name]
        indices, rows = exchange_bytes(table, costs.batch, lookups, model.bytes_per_element)
        bw = ps_nic_bw(ps, server)
        forward, update = zip(*steps[table.name], strict=True)
        return PsCharge(indices / bw, rows / bw, forward, update)
    return network_and_sockets(charge, len(sockets))


def socket_weigh(costs: KernelCosts, model_costs: CostModel, server: ServerSpec,
                  tables: Sequence[TableSpec], devices: int) -> ShardWeigh:
    """A table's seconds per batch on socket `device` (counted over `server`'s sockets server
    by server, as the system placement numbers them), served on all its cores, while `tables`
    are spread over `devices` sockets (KernelCosts.seconds); whole unless `shards` is given."""
    sockets, share = len(server.sockets), costs.even_share(tables, devices)

    def weigh(device: int, table: TableSpec, shards: int = 1) -> float:
        return costs.seconds(model_costs, socket_proc(server, device % sockets), table, share,
                             shards)
    return weigh


def split_hot(placed: tuple[TablePlacement, ...], tables: Sequence[TableSpec],
               capacity: Sequence[int], weigh: ShardWeigh, charge: GroupCharge
               ) -> tuple[TablePlacement, ...]:
    """Shard a table row-wise over every socket where that shortens the sockets' slowest
    forward plus slowest update, as the run charges their groups (`charge`): the sockets then
    serve its lookups in parallel instead of one socket serving them all (on Zion one hot table
    would otherwise leave seven sockets idle). A shard costs what the cost model charges its
    share of the lookups, per-call overhead in full, and joins every socket's group, taking a
    share of each one's cache; so a table whose seconds are mostly overhead stays whole. One
    pass, most seconds first (`weigh`), each table weighed against the sockets as the tables
    before it left them (only a table on the one slowest socket can shorten it), and only where
    every socket still holds what it is given (a shard moves 1/sockets of the table onto each
    other socket, which may be full of colder tables). (Summing each table's seconds at an even
    share of the cache, as before session 16, sharded M2's hot table on Big Basin for a gain
    the run did not deliver.)"""
    sockets = tuple(range(len(capacity)))
    if len(sockets) < 2:
        return placed
    used = [0] * len(sockets)
    for p in placed:
        for d in p.devices:
            used[d] += p.bytes // len(p.devices)
    whole = [weigh(p.devices[0], t, 1) for t, p in zip(tables, placed, strict=True)]
    result = list(placed)
    steps = charge(groups(tables, result, len(sockets)))
    for i in sorted(range(len(tables)), key=lambda i: (-whole[i], tables[i].name)):
        p = result[i]
        seconds = [f + u for f, u in steps]
        slowest = max(seconds)
        # Sharding adds a shard to every socket but its own: it can only shorten the slowest
        # socket if that is its own and no other is as slow.
        if len(p.devices) > 1 or seconds[p.devices[0]] < slowest or seconds.count(slowest) > 1:
            continue
        nbytes = list(used)
        nbytes[p.devices[0]] -= p.bytes
        for d in sockets:
            nbytes[d] += p.bytes // len(sockets)
        if any(u > c for u, c in zip(nbytes, capacity, strict=True)):
            continue
        trial = list(result)
        trial[i] = dataclasses.replace(p, devices=sockets)
        after = charge(groups(tables, trial, len(sockets)))
        if worst_steps(after) < worst_steps(steps):
            steps, used, result = after, nbytes, trial
    return tuple(result)

"""Decide where every embedding table lives, or say by how many bytes it does not fit.

Four placements (DESIGN.md): GPU memory (table-wise or row-wise; packed on the fewest GPUs that
hold the tables with their optimizer state, or spread over all), the GPU server's system memory,
remote CPU servers' memory (sparse parameter servers), and hybrid (hottest tables onto the GPUs
until full, table-wise or row-wise, the rest in system memory as the system placement puts
them). Table load for balancing GPUs is lookups per example times dimension: the bytes each
table gathers per example. Sockets (a sparse PS's, and those of the system placement) are
balanced instead by the seconds the cost model charges the tables on each for a batch
(sim/placement_costs.py), which count what a socket's tables cost beyond their bytes; a table
in system memory is sharded over the sockets where that shortens the slowest one. Sparse PS
servers are balanced by their NICs' and sockets' seconds together (sim/placement_ps.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sim.errors import PlacementError
from sim.placement_costs import KernelCosts, analytic_kernel_costs
from sim.placement_groups import (
    Share,
    groups,
    landed_share,
    landed_weigh,
    ps_balance,
    remote_charge,
    socket_charge,
    socket_weigh,
    split_hot,
    worst_steps,
)
from sim.specs import JobSpec, ModelSpec, ServerSpec, TableSpec

GB = 1e9  # for messages only
# Candidate placements of sockets' tables tried: the greedy over even shares (KernelCosts
# .even_share), then the greedy again with each table recosted by the share of the group it
# landed in, twice; the one the run's group costs charge least is kept (session 16).
REFINE_ROUNDS = 3
_HYBRID_HOST = " (for the tables the GPUs cannot hold)"  # what a hybrid's system memory holds
# A table's load on a device (for a socket, its seconds per batch there); a device's load is
# the sum over its tables.
Weigh = Callable[[int, TableSpec], float]
# A balance rule of _assign: given the tables and the number of devices, the order to place
# the tables in and a chooser, which picks a table's device among those with room for it
# (called once per table, in that order, it keeps the load so far).
Choose = Callable[[TableSpec, Sequence[int]], int]
Balance = Callable[[Sequence[TableSpec], int], tuple[list[TableSpec], Choose]]


class ShardWeigh(Protocol):
    """A table's seconds per batch on a socket, whole or as one of `shards` row-wise shards."""

    def __call__(self, device: int, table: TableSpec, shards: int = 1) -> float: ...


@dataclass(frozen=True)
class TablePlacement:
    """Where one table lives: `location` gpu, host or remote, and the indices it occupies there
    (GPU indices, several for row-wise shards; a socket for host; a sparse-PS index for remote).
    `bytes` counts weights plus optimizer state. `ps_socket`: for a remote table, the socket of
    its sparse PS whose memory holds it and whose cores serve it (0 elsewhere)."""

    table: str
    location: str
    devices: tuple[int, ...]
    bytes: int
    ps_socket: int = 0


@dataclass(frozen=True)
class Placement:
    """Every table's place under one placement kind."""

    kind: str
    sharding: str
    tables: tuple[TablePlacement, ...]

    def devices_used(self, location: str) -> tuple[int, ...]:
        used = {d for t in self.tables if t.location == location for d in t.devices}
        return tuple(sorted(used))

    def bytes_by_device(self, location: str) -> dict[int, int]:
        totals: dict[int, int] = {}
        for t in self.tables:
            if t.location == location:
                share = t.bytes // len(t.devices)
                for d in t.devices:
                    totals[d] = totals.get(d, 0) + share
        return totals


def table_bytes(model: ModelSpec, table: TableSpec) -> int:
    return table.weight_bytes(model.bytes_per_element) + model.optimizer_state_bytes_per_table(table)


def table_load(table: TableSpec) -> float:
    return table.pooling.effective_mean_lookups * table.dim


def gpu_capacity_bytes(server: ServerSpec) -> list[int]:
    fraction = server.efficiency.hbm_usable_fraction
    return [int(g.hbm_capacity_bytes * fraction) for g in server.gpus]


def place(model: ModelSpec, job: JobSpec, trainer: ServerSpec, ps: ServerSpec,
          costs: KernelCosts | None = None) -> Placement:
    """Place `model`'s tables for `job`; PlacementError says what does not fit and by how much.
    Sockets are balanced by what `costs` charges their tables (by default the servers'
    analytic models over the spec's mean lookups; a run gives its own models and demand)."""
    if costs is None:
        costs = analytic_kernel_costs(model, trainer, ps,
                                      job.batch_size * sharing_servers(job, trainer))
    kind = job.placement.kind
    _check_has_gpus(kind, trainer)
    if kind == "gpu":
        return _place_gpu(model, job, trainer)
    if kind == "system":
        capacity, where = _host_room(job, trainer)
        return Placement(kind, job.placement.sharding,
                         _place_host(model, model.tables, capacity, where, costs, trainer))
    if kind == "remote":
        return Placement(kind, job.placement.sharding, _place_remote(model, job, ps, costs))
    return _place_hybrid(model, job, trainer, costs)


def sharing_servers(job: JobSpec, trainer: ServerSpec) -> int:
    """Trainer servers whose GPUs and system memory the tables are spread over, and which
    therefore train one global batch: every server of a GPU job whose tables are not remote
    (device and socket indices of the placement run over the servers in order, a server's own
    first); a CPU trainer keeps its local tables to itself, and remote tables stay on the
    sparse PS, each server sending its own batch."""
    return job.trainers if trainer.gpus and job.placement.kind != "remote" else 1


def check_fit(model: ModelSpec, job: JobSpec, trainer: ServerSpec, ps: ServerSpec) -> None:
    """Raise the PlacementError `place` raises where the tables' bytes (with optimizer state)
    exceed all the memory the placement puts them in, or where it needs GPUs the trainer lacks;
    from table sizes and capacities alone, without a cost model or a demand, so that a run says
    it before drawing its demand (most of the time to the error for M3). Quiet where only the
    arrangement could fail (a table larger than any one device, tables that do not pack
    table-wise, a sparse PS's sockets): `place` says those. Never refuses what `place`
    accepts: every total checked here is one `place` checks with the same bytes, capacity and
    words."""
    kind = job.placement.kind
    _check_has_gpus(kind, trainer)
    if kind == "gpu":
        capacity, where = _gpu_room(job, trainer)
        _check_total(_total_bytes(model, model.tables), sum(capacity), where)
    elif kind == "remote":
        capacity, where = _ps_room(job, ps)
        _check_total(_total_bytes(model, model.tables), sum(capacity), where)
    else:  # system, or the hybrid's tables the GPUs leave
        on_host = (model.tables if kind == "system"
                   else _hybrid_gpu_part(model, job, trainer)[1])
        capacity, where = _host_room(job, trainer, "" if kind == "system" else _HYBRID_HOST)
        _check_total(_total_bytes(model, on_host), sum(capacity), where)


def _ps_room(job: JobSpec, ps: ServerSpec) -> tuple[list[int], str]:
    """The usable bytes of each sparse PS, and how messages name them."""
    one_ps = int(ps.mem_capacity_bytes * ps.efficiency.dram_usable_fraction)
    return [one_ps] * job.sparse_ps, f"{job.sparse_ps} sparse parameter server(s) of type {ps.name}"


def _total_bytes(model: ModelSpec, tables: Sequence[TableSpec]) -> int:
    return sum(table_bytes(model, t) for t in tables)


def _check_has_gpus(kind: str, trainer: ServerSpec) -> None:
    if kind in ("gpu", "hybrid") and not trainer.gpus:
        raise PlacementError(f"placement '{kind}' needs GPUs, and {trainer.name} has none; "
                             "use placement remote or system")


def _label(trainer: ServerSpec, servers: int) -> str:
    return trainer.name if servers == 1 else f"{servers} x {trainer.name}"


def _gpus_for_job(job: JobSpec, trainer: ServerSpec) -> int:
    count = job.gpus_per_trainer or len(trainer.gpus)
    if count > len(trainer.gpus):
        raise PlacementError(f"gpus_per_trainer = {count} but {trainer.name} has "
                             f"{len(trainer.gpus)} GPUs; use at most {len(trainer.gpus)}")
    return count


def _gpu_room(job: JobSpec, trainer: ServerSpec) -> tuple[list[int], str]:
    """The usable bytes of each GPU the job's tables may go on, and how messages name them."""
    servers = sharing_servers(job, trainer)
    capacity = gpu_capacity_bytes(trainer)[: _gpus_for_job(job, trainer)] * servers
    return capacity, (f"the GPU memory of {_label(trainer, servers)} ({len(capacity)} x "
                      f"{capacity[0] / GB:.1f} GB usable)")


def _place_gpu(model: ModelSpec, job: JobSpec, trainer: ServerSpec) -> Placement:
    capacity, where = _gpu_room(job, trainer)
    _check_total(_total_bytes(model, model.tables), sum(capacity), where)
    if job.placement.packing == "packed":
        capacity = capacity[: _fewest_devices(model, capacity, job.placement.sharding)]
    if job.placement.sharding == "row_wise":
        devices = tuple(range(len(capacity)))
        placed = tuple(TablePlacement(t.name, "gpu", devices, table_bytes(model, t))
                       for t in model.tables)
        return Placement("gpu", "row_wise", placed)
    return Placement("gpu", "table_wise", _spread(model, model.tables, capacity, "gpu", where))


def _fewest_devices(model: ModelSpec, capacity: Sequence[int], sharding: str) -> int:
    total = sum(table_bytes(model, t) for t in model.tables)
    for count in range(1, len(capacity) + 1):
        if sharding == "row_wise" and total <= sum(capacity[:count]):
            return count
        # the same assignment _spread makes, so that the count chosen here is one it can fill
        if sharding == "table_wise" and _assign(model, model.tables, capacity[:count])[0]:
            return count
    return len(capacity)


def _assign(model: ModelSpec, tables: Sequence[TableSpec], capacity: Sequence[int],
            weigh: Weigh | None = None, balance: Balance | None = None
            ) -> tuple[dict[str, int], tuple[TableSpec, int] | None]:
    """Table name -> device index, or ({}, (the first table that found no room, the most free
    bytes then)). First a greedy balance (`balance`; by default of load, heaviest first onto
    the least-loaded device with room); where that strands a table, first-fit by size (largest
    first onto the first device with room), which packs tables the balance cannot. By default
    a table's load is `weigh`'s (table_load by default), ordered by its load on device 0."""

    def greedy(order: Sequence[TableSpec], choose: Choose
               ) -> tuple[dict[str, int], tuple[TableSpec, int] | None]:
        free = list(capacity)
        where: dict[str, int] = {}
        for table in order:
            size = table_bytes(model, table)
            fits = [i for i in range(len(free)) if free[i] >= size]
            if not fits:
                return {}, (table, max(free))
            best = choose(table, fits)
            free[best] -= size
            where[table.name] = best
        return where, None

    order, choose = (balance or _by_load(model, weigh))(tables, len(capacity))
    balanced, stranded = greedy(order, choose)
    if not stranded:
        return balanced, None
    return greedy(sorted(tables, key=lambda t: (-table_bytes(model, t), t.name)),
                  lambda _table, fits: fits[0])


def _by_load(model: ModelSpec, weigh: Weigh | None) -> Balance:
    """Heaviest first (by load on device 0, then size) onto the least-loaded device with room,
    a device's load the sum of `weigh` (table_load by default) over its tables."""
    load_of: Weigh = weigh or (lambda _device, table: table_load(table))

    def balance(tables: Sequence[TableSpec], devices: int) -> tuple[list[TableSpec], Choose]:
        own = {t.name: load_of(0, t) for t in tables}
        load = [0.0] * devices

        def choose(table: TableSpec, fits: Sequence[int]) -> int:
            best = min(fits, key=lambda i: (load[i], i))
            load[best] += load_of(best, table)
            return best
        return sorted(tables, key=lambda t: (-own[t.name], -table_bytes(model, t), t.name)), choose
    return balance


def _spread(model: ModelSpec, tables: Sequence[TableSpec], capacity: Sequence[int],
            location: str, where: str, weigh: Weigh | None = None,
            balance: Balance | None = None) -> tuple[TablePlacement, ...]:
    """Greedy balance (by default of load: heaviest first onto the least-loaded device that has
    room), or, where that strands a table, first-fit by size (see _assign)."""
    _check_total(sum(table_bytes(model, t) for t in tables), sum(capacity), where)
    assigned, stranded = _assign(model, tables, capacity, weigh, balance)
    if stranded:
        table, most_free = stranded
        size = table_bytes(model, table)
        if size > max(capacity):
            raise PlacementError(
                f"table {table.name} ({size / GB:.2f} GB with optimizer state) fits on no single "
                f"device of {where}: the largest holds {max(capacity) / GB:.2f} GB, short by "
                f"{size - max(capacity)} bytes ({(size - max(capacity)) / GB:.2f} GB); use "
                "row-wise sharding (--sharding row_wise) or devices with more memory")
        raise PlacementError(
            f"the tables do not pack table-wise onto {where}: once the larger tables are "
            f"placed, table {table.name} ({size / GB:.2f} GB with optimizer state) finds at most "
            f"{most_free / GB:.2f} GB free on one device, short by {size - most_free} bytes "
            f"({(size - most_free) / GB:.2f} GB); use row-wise sharding (--sharding row_wise) "
            "or more devices")
    return tuple(TablePlacement(t.name, location, (assigned[t.name],), table_bytes(model, t))
                 for t in tables)


def _place_host(model: ModelSpec, tables: Sequence[TableSpec], capacity: Sequence[int],
                where: str, costs: KernelCosts, trainer: ServerSpec
                ) -> tuple[TablePlacement, ...]:
    """Tables over the sockets of the servers sharing them, hot ones sharded (split_hot): of
    REFINE_ROUNDS candidates, the one whose sockets' groups the run charges least. Weighing
    each table at an even share of a socket's cache misjudges a socket that ends up with many
    small tables, each then with a small share of its cache; recosting each table as the
    group it landed in and balancing again corrects that, and the first candidate is today's
    greedy, so the kept one is never worse by the run's measure."""
    charge = socket_charge(costs, costs.trainer, trainer)
    weigh = socket_weigh(costs, costs.trainer, trainer, tables, len(capacity))
    tried: list[tuple[float, tuple[TablePlacement, ...]]] = []
    for _ in range(REFINE_ROUNDS):
        host = _spread(model, tables, capacity, "host", where, weigh)
        host = split_hot(host, tables, capacity, weigh, charge)
        score = worst_steps(charge(groups(tables, host, len(capacity))))
        tried.append((score, host))
        weigh = landed_weigh(costs, costs.trainer, trainer, tables, host, len(capacity))
    return min(tried, key=lambda c: c[0])[1]  # the first of the cheapest


def _ps_sockets(model: ModelSpec, remote: tuple[TablePlacement, ...], ps: ServerSpec,
                costs: KernelCosts) -> tuple[TablePlacement, ...]:
    """Each sparse PS's tables balanced over its sockets: heaviest first onto the socket whose
    tables cost it the fewest seconds per batch (`costs`) with room in its memory; of
    REFINE_ROUNDS candidates (as _place_host), the one whose slowest socket's forward plus
    slowest update, as the run charges the sockets' groups, is least. (A table's index modulo
    the sockets left one socket of an M3 PS with 1.8 to 22.6 times the other's load; lookups x
    dimension, the next rule, put an M1 PS's hottest table alone on one socket and six cold
    ones, which cost more in per-call overhead, on the other; weighing every table at an even
    share of the cache put 16 small tables on one socket of an M3 PS, 36% slower than the
    placement expected.)"""
    by_name = {t.name: t for t in model.tables}
    result = {p.table: p for p in remote}
    sockets = len(ps.sockets)
    charge = socket_charge(costs, costs.ps, ps)
    for server in sorted({p.devices[0] for p in remote}):
        held = [by_name[p.table] for p in remote if p.devices[0] == server]
        weigh = socket_weigh(costs, costs.ps, ps, held, sockets)
        tried: list[tuple[float, tuple[TablePlacement, ...]]] = []
        for _ in range(REFINE_ROUNDS):
            on_sockets = _spread(model, held, _socket_capacity(ps), "remote",
                                 f"the sockets of sparse parameter server {server} ({ps.name})",
                                 weigh)
            score = worst_steps(charge(groups(held, on_sockets, sockets)))
            tried.append((score, on_sockets))
            weigh = landed_weigh(costs, costs.ps, ps, held, on_sockets, sockets)
        for p in min(tried, key=lambda c: c[0])[1]:
            result[p.table] = dataclasses.replace(result[p.table], ps_socket=p.devices[0])
    return tuple(result[p.table] for p in remote)


def _place_remote(model: ModelSpec, job: JobSpec, ps: ServerSpec, costs: KernelCosts
                  ) -> tuple[TablePlacement, ...]:
    """Tables over the sparse PS (ps_balance) and each PS's over its sockets (_ps_sockets):
    of REFINE_ROUNDS candidates, first with every table at an even share of a socket, then
    each recosted at the share of the (PS, socket) group it landed in, the one whose five
    steps' busiest PS (placement_ps) the run's group costs charge least."""
    capacity, where = _ps_room(job, ps)
    even = costs.even_share(model.tables, job.sparse_ps * len(ps.sockets))

    def even_share(_table: TableSpec) -> tuple[float, float]:
        return even
    share: Share = even_share
    tried: list[tuple[float, tuple[TablePlacement, ...]]] = []
    for _ in range(REFINE_ROUNDS):
        remote = _spread(model, model.tables, capacity, "remote", where,
                         balance=ps_balance(model, job, ps, costs, share))
        remote = _ps_sockets(model, remote, ps, costs)
        score = remote_charge(model, job, ps, costs, remote)
        tried.append((score, remote))
        share = landed_share(model, job, ps, costs, remote)
    return min(tried, key=lambda c: c[0])[1]  # the first of the cheapest


def _check_total(needed: int, available: int, where: str) -> None:
    if needed > available:
        raise PlacementError(
            f"the tables need {needed / GB:.1f} GB with optimizer state but {where} holds "
            f"{available / GB:.1f} GB: short by {needed - available} bytes "
            f"({(needed - available) / GB:.1f} GB); choose a "
            "placement with more memory (gpu < hybrid < system < remote) or more devices "
            "(--gpus, --trainers, --sparse-ps)")


def _socket_capacity(server: ServerSpec) -> list[int]:
    fraction = server.efficiency.dram_usable_fraction
    return [int(s.mem_capacity_bytes * fraction) for s in server.sockets]


def _place_hybrid(model: ModelSpec, job: JobSpec, trainer: ServerSpec,
                  costs: KernelCosts) -> Placement:
    """The hottest tables that fit onto the GPUs, the rest in system memory. Table-wise, each
    table goes whole onto the GPU with the most room; row-wise, each is sharded over every GPU
    and goes on while every GPU has room for its shard (PlacementSpec refuses `packed`: hybrid
    fills the GPUs). The host part is spread over the sockets as the system placement's is,
    hot tables sharded over them (split_hot)."""
    on_gpu, rest = _hybrid_gpu_part(model, job, trainer)
    host_part: tuple[TablePlacement, ...] = ()
    if rest:
        capacity, where = _host_room(job, trainer, _HYBRID_HOST)
        host_part = _place_host(model, rest, capacity, where, costs, trainer)
    by_name = {**on_gpu, **{p.table: p for p in host_part}}
    return Placement("hybrid", job.placement.sharding,
                     tuple(by_name[t.name] for t in model.tables))


def _host_room(job: JobSpec, trainer: ServerSpec, note: str = "") -> tuple[list[int], str]:
    """The usable bytes of each socket of the servers sharing the tables, and how messages
    name them (with `note` after)."""
    servers = sharing_servers(job, trainer)
    return (_socket_capacity(trainer) * servers,
            f"the system memory of {_label(trainer, servers)}{note}")


def _hybrid_gpu_part(model: ModelSpec, job: JobSpec, trainer: ServerSpec
                     ) -> tuple[dict[str, TablePlacement], list[TableSpec]]:
    """The hybrid placement's tables on the GPUs (by name), and the rest, left for system
    memory: from sizes and table loads only, so that check_fit can tell what is left."""
    free = gpu_capacity_bytes(trainer)[: _gpus_for_job(job, trainer)] * sharing_servers(job, trainer)
    row_wise = job.placement.sharding == "row_wise"
    on_gpu: dict[str, TablePlacement] = {}
    rest: list[TableSpec] = []
    # Hottest first: the tables that gather the most bytes per example gain most from HBM.
    for table in sorted(model.tables, key=lambda t: (-table_load(t), t.name)):
        size = table_bytes(model, table)
        if row_wise:
            shard = -(-size // len(free))  # rounded up, so that every shard has its room
            if min(free) >= shard:
                free = [f - shard for f in free]
                on_gpu[table.name] = TablePlacement(table.name, "gpu", tuple(range(len(free))),
                                                    size)
            else:
                rest.append(table)
            continue
        slot = max(range(len(free)), key=lambda i: (free[i], -i))
        if free[slot] >= size:
            free[slot] -= size
            on_gpu[table.name] = TablePlacement(table.name, "gpu", (slot,), size)
        else:
            rest.append(table)
    return on_gpu, rest

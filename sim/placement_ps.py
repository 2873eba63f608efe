"""Which sparse parameter server holds each remote table: its network and its sockets together.

Per batch a trainer sends every sparse PS its tables' indices and bag lengths, takes back their
pooled rows and later sends their gradients (sparse_ps.exchange_bytes): three exchanges, each
one message per PS, bundled into one flow that ends when the last message is in
(sparse_ps.exchange); after the indices the PS serve the forward, after the gradients the
update, each as one bundle that ends with the slowest PS socket (sparse_ps.serve). So each of
five steps lasts as long as its busiest PS: a trainer waits for the PS with the most indices,
the slowest socket's forward, the most rows out, the most gradients in (as many bytes as the
rows), and the slowest socket's update.

Tables were assigned by lookups x dimension, which follows none of these: the rows a PS sends
grow with the dimension of its tables, not with their lookups, and its sockets' seconds with
per-call overheads and distinct rows as well. Assigning them by the sockets' seconds alone
(tried in session 10) left the PS's bytes uneven, and the runs bound by the network lost. Here
a table goes, heaviest first, to the PS that leaves the smallest sum over the five steps of the
busiest PS's seconds in each (bytes over the PS's NIC; kernels as the cost model charges
them); ties to the PS whose own sum is least, then the first (the rule a trainer's NICs are
chosen by, sparse_ps.client_nics). Tried and not kept (session 11): each table to the PS whose
own slowest resource, NIC or socket, stays least, which evens the PS's maxima but not each
step's (M3 with 8 sparse PS on Big Basin lost 17%); and forward and update summed as one step,
which let the PS with the hot table's long forward take cold tables whose updates then outlast
the hot table's (a noisy M1 run of Figure 5 lost 10%).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.specs import ServerSpec, TableSpec

if TYPE_CHECKING:
    from sim.placement import Balance, Choose


@dataclass(frozen=True)
class PsCharge:
    """What one table asks of the sparse PS that holds it per trainer batch, in seconds: its
    indices and bag lengths into the PS's NIC (`indices_s`), its pooled rows out of it, and as
    long again their gradients into it (`rows_s`, each), and its forward and its update on each
    socket of the PS (`forward_s`, `update_s`, by socket, the cost model's)."""

    indices_s: float
    rows_s: float
    forward_s: tuple[float, ...]
    update_s: tuple[float, ...]

    @property
    def total_s(self) -> float:
        """Its seconds over the steps it takes part in, on its fastest socket."""
        kernels = min(f + u for f, u in zip(self.forward_s, self.update_s, strict=True))
        return self.indices_s + 2.0 * self.rows_s + kernels


# (sparse PS index, table) -> the table's charge on that PS
Charge = Callable[[int, TableSpec], PsCharge]
STEPS = 5  # of a trainer's iteration that wait for the busiest PS (PsLoad.steps_s)


def exchange_bytes(table: TableSpec, batch: int, lookups: float, bytes_per_element: int
                   ) -> tuple[float, float]:
    """(indices and bag lengths, pooled rows) of one table in a batch of `batch` examples
    with `lookups` lookups, the bytes a trainer's messages carry for it (the plans' index_bytes
    and rows of batch x dim elements); its gradients are as many bytes as its rows."""
    from sim.cluster import INDEX_BYTES, LENGTH_BYTES  # sim.cluster imports sim.placement

    rows = float(batch * table.dim * bytes_per_element)
    return lookups * INDEX_BYTES + batch * LENGTH_BYTES, rows


def ps_nic_bw(ps: ServerSpec, server: int) -> float:
    """Bytes per second of the NIC that sparse PS `server`'s messages take: its socket 0's pool,
    the `server`-th cyclically (sparse_ps._share_route, ServerResources.nic_for). Infinite for a
    server without NICs, which the run refuses when it builds the routes."""
    pool = ps.socket_nics(0)
    return ps.nics[pool[server % len(pool)]].link.bw_bytes_per_s if pool else float("inf")


@dataclass
class PsLoad:
    """Seconds per trainer batch of one PS: its NIC's indices and rows, each socket's forward
    and update."""

    indices_s: float
    rows_s: float
    forward_s: list[float]
    update_s: list[float]

    def plus(self, charge: PsCharge) -> PsLoad:
        """This PS with the table added on its least busy socket, forward and update together,
        as _ps_sockets then balances its sockets."""
        sockets = range(len(self.forward_s))
        best = min(sockets, key=lambda s: (self.forward_s[s] + self.update_s[s], s))
        forward, update = list(self.forward_s), list(self.update_s)
        forward[best] += charge.forward_s[best]
        update[best] += charge.update_s[best]
        return PsLoad(self.indices_s + charge.indices_s, self.rows_s + charge.rows_s, forward,
                     update)

    @property
    def steps_s(self) -> tuple[float, ...]:
        """Its seconds in each step of a trainer's iteration: indices in, the slowest socket's
        forward, rows out, gradients in, the slowest socket's update."""
        return (self.indices_s, max(self.forward_s), self.rows_s, self.rows_s,
                max(self.update_s))


def network_and_sockets(charge: Charge, sockets: int) -> Balance:
    """The balance of tables over sparse PS described in the module docstring, for
    placement._assign."""

    def balance(tables: Sequence[TableSpec], servers: int) -> tuple[list[TableSpec], Choose]:
        loads = [PsLoad(0.0, 0.0, [0.0] * sockets, [0.0] * sockets) for _ in range(servers)]
        own = {t.name: charge(0, t).total_s for t in tables}

        def choose(table: TableSpec, fits: Sequence[int]) -> int:
            tops = [_top_two([load.steps_s[k] for load in loads]) for k in range(STEPS)]
            after = {p: loads[p].plus(charge(p, table)) for p in fits}

            def cost(p: int) -> tuple[float, float, int]:
                mine = after[p].steps_s
                busiest = sum(max(mine[k], tops[k][1] if tops[k][2] == p else tops[k][0])
                              for k in range(STEPS))
                return busiest, sum(mine), p
            best = min(fits, key=cost)
            loads[best] = after[best]
            return best
        return sorted(tables, key=lambda t: (-own[t.name], t.name)), choose
    return balance


def busiest_steps_s(loads: Sequence[PsLoad]) -> float:
    """The sum over the five steps of the busiest PS's seconds in each: what a trainer waits
    for the sparse PS per batch."""
    return sum(max(load.steps_s[k] for load in loads) for k in range(STEPS))


def _top_two(values: Sequence[float]) -> tuple[float, float, int]:
    """(the largest value, the largest of the others, the largest's index): the busiest PS but
    one, read off without a pass per candidate."""
    first = max(range(len(values)), key=lambda i: (values[i], -i))
    second = max((v for i, v in enumerate(values) if i != first), default=0.0)
    return values[first], second, first

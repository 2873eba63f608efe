"""Remote tables go to the sparse PS by their network bytes and their sockets' seconds together
(sim/placement_ps.py), not by lookups x dimension.

Expected values are derived by hand, for a batch of 1600 examples (Big Basin's trainer), fp32,
row-wise Adagrad, tables of 10^7 rows (never in a socket's 27.5 MB cache), on the sparse PS of
type dual_socket_cpu: one 25 Gbit/s NIC (3.125 GB/s), sockets of 20 cores.

Per table of dimension d with L lookups per example, a PS's NIC carries per batch its indices
and bag lengths in, 1600 x (8 L + 4) bytes (INDEX_BYTES, LENGTH_BYTES), its pooled rows out,
1600 x 4 d bytes, and as many bytes of gradients in. Over 3.125 GB/s: indices 0.512 us per
byte per example, rows 2.048 us per unit of d.
- w (d 256, L 1): indices 12 x 0.512 = 6.1 us, rows 524.3 us (1048.6 out and back).
- n (d 64, L 8): indices 68 x 0.512 = 34.8 us, rows 131.1 us (262.1 out and back).
Their forward and update on a socket (the analytic defaults, as tests/sim/test_ps_balance.py
derives them: gathers at 44.8 GB/s, streams at 96 GB/s, 10 us per operator, 2 forward and
4 + 3 update operators, as many distinct rows as lookups, 2 x (4 d + 64) bytes each):
- w: forward 1600 x 1024 B / 44.8 GB/s + 20 us + 1600 x 1024 B / 96 GB/s = 36.57 + 20 + 17.07
  = 73.6 us; update 17.07 + 70 + 1600 x 2176 B / 44.8 GB/s = 164.8 us.
- n: forward 8 x 9.14 + 20 + 4.27 = 97.4 us; update 34.13 + 70 + 12800 x 640 B / 44.8 GB/s
  = 287.0 us.
A trainer's iteration waits for the busiest PS in five steps: indices in, forward, rows out,
gradients in, update.
"""

from __future__ import annotations

import dataclasses

import pytest

from sim.errors import PlacementError
from sim.placement import place
from sim.placement_ps import PsCharge, network_and_sockets
from sim.presets import load_platform
from sim.processes import sparse_ps
from sim.run import build
from sim.specs import JobSpec, ModelSpec, PlacementSpec, PoolingSpec, TableSpec

BB = load_platform("big_basin")
CPU = load_platform("dual_socket_cpu")
SOCKET = int(128e9 * 0.85)  # usable bytes of one socket of dual_socket_cpu
# The dual-socket server cut to its first socket: a PS whose memory is one socket's.
ONE_SOCKET = dataclasses.replace(CPU, name="one_socket_cpu", sockets=CPU.sockets[:1])


def _model(tables: list[tuple[str, int, int, float]]) -> ModelSpec:
    """Tables (name, rows, dimension, mean lookups), row-wise Adagrad; their pooled rows
    concatenated (the dot interaction needs one dimension)."""
    return ModelSpec("m", 13, tuple(TableSpec(n, rows, dim, PoolingSpec(lookups))
                                    for n, rows, dim, lookups in tables), (64,), (32,),
                     interaction="cat")


def _remote(sparse_ps: int) -> JobSpec:
    return JobSpec("j", "m", "big_basin", 1600, sparse_ps=sparse_ps,
                   placement=PlacementSpec("remote"))


def _wide_and_narrow(narrow_rows: int = 10**7) -> ModelSpec:
    return _model([("w", 10**7, 256, 1.0), ("n1", narrow_rows, 64, 8.0),
                   ("n2", narrow_rows, 64, 8.0)])


def test_the_nic_the_expectations_assume() -> None:
    assert [n.link.bw_bytes_per_s for n in CPU.nics] == [25e9 / 8]


# By lookups x dimension (n1, n2 512; w 256) the old rule put n1 on PS 0, n2 on PS 1 and w
# on PS 0 (a tie at 512, the first): PS 0 sent 1024 + 256 = 1280 bytes of rows per example,
# 2.5 times PS 1's 256, and its rows took 655.4 us each way. Now, heaviest first by the
# table's seconds over the steps (w 6.1 + 2 x 524.3 + 73.6 + 164.8 = 1293.1; n 34.8 +
# 2 x 131.1 + 97.4 + 287.0 = 681.4), each onto the PS that leaves the least sum of the
# busiest PS's seconds in each step: w -> PS 0 (a tie, the first); n1 on PS 0 (its idle
# socket): 41.0 + 97.4 + 2 x 655.4 + 287.0 = 1736.1, on PS 1: 34.8 + 97.4 + 2 x 524.3 +
# 287.0 = 1467.8 -> PS 1; n2 on PS 0 1736.1 again, on PS 1 (its second socket) 69.6 + 97.4 +
# 2 x 524.3 + 287.0 = 1502.6 -> PS 1. Rows: 1024 and 512 bytes per example.
def test_a_wide_table_gets_a_sparse_ps_whose_nic_it_does_not_share_with_hot_narrow_ones() -> None:
    placed = place(_wide_and_narrow(), _remote(2), BB, CPU)
    assert [(p.devices, p.ps_socket) for p in placed.tables] == [((0,), 0), ((1,), 0),
                                                                  ((1,), 1)]


def test_the_run_moves_the_bytes_the_placement_balanced() -> None:
    # The run's own accounting of each PS's exchanges per example (indices out, rows back,
    # gradients out): PS 0 holds w (12, 1024, 1024), PS 1 n1 and n2 (2 x 68, 2 x 256, 2 x 256).
    job = build(_remote(2), _wide_and_narrow(), BB, CPU, profile=None, trace=None, seed=0,
                iterations=3, warmup=1)
    assert sparse_ps.exchange_bytes(job) == {0: pytest.approx((12.0, 1024.0, 1024.0)),
                                             1: pytest.approx((136.0, 512.0, 512.0))}


# PS with one socket each (ONE_SOCKET). w -> PS 0; n1 on PS 0 (its socket then 73.6 + 97.4 =
# 171.0 forward, 164.8 + 287.0 = 451.8 update): 41.0 + 171.0 + 2 x 655.4 + 451.8 = 1974.5,
# on PS 1: 1467.8 as above -> PS 1; n2 on PS 0 1974.5 again, on PS 1 (194.8 forward, 574.0
# update on its socket): 69.6 + 194.8 + 2 x 524.3 + 574.0 = 1887.0 -> PS 1 where it has
# room. With n1 and n2 of 0.6 of a socket each, PS 1 has 0.4 left after n1: n2 goes to PS 0.
def test_a_table_goes_to_the_sparse_ps_it_prefers_only_where_that_has_room() -> None:
    fits = place(_wide_and_narrow(), _remote(2), BB, ONE_SOCKET)
    assert [p.devices for p in fits.tables] == [(0,), (1,), (1,)]
    rows = int(SOCKET * 0.6) // (64 * 4 + 4)
    crowded = place(_wide_and_narrow(rows), _remote(2), BB, ONE_SOCKET)
    assert [p.devices for p in crowded.tables] == [(0,), (1,), (0,)]


# Two PS of one socket each and no network bytes: h costs 100 us forward and 10 update, u1 and
# u2 10 forward and 60 update. Heaviest first: h -> PS 0. u1 on PS 0: forward 110 + update
# 70 = 180; on PS 1: forward max(100, 10) + update max(10, 60) = 160 -> PS 1. u2 on PS 0:
# max(110, 10) + max(70, 60) = 180; on PS 1: max(100, 20) + max(10, 120) = 220 -> PS 0.
# Weighed as one step (forward and update summed) u2 would join u1 (max(110, 140) = 140
# against 180), and the trainer would wait 100 us for h's forward and 120 for their updates.
def test_forward_and_update_are_separate_steps_of_the_busiest_ps() -> None:
    charges = {"h": (100.0, 10.0), "u1": (10.0, 60.0), "u2": (10.0, 60.0)}
    tables = [TableSpec(name, 10, 64, PoolingSpec(1.0)) for name in ("u2", "h", "u1")]

    def charge(_server: int, table: TableSpec) -> PsCharge:
        forward, update = charges[table.name]
        return PsCharge(0.0, 0.0, (forward * 1e-6,), (update * 1e-6,))

    order, choose = network_and_sockets(charge, 1)(tables, 2)
    assert [t.name for t in order] == ["h", "u1", "u2"]
    assert [choose(t, [0, 1]) for t in order] == [0, 1, 0]


def test_tables_that_do_not_pack_onto_the_sparse_ps_are_refused_by_how_much() -> None:
    # Three tables of 0.6 of a one-socket PS on two of them: 1.8 fits 2 in all, but once two
    # are placed the third finds 0.4 free at most.
    rows = int(SOCKET * 0.6) // (64 * 4 + 4)
    model = _model([(f"t{i}", rows, 64, 1.0) for i in range(3)])
    size = rows * (64 * 4 + 4)
    with pytest.raises(PlacementError) as err:
        place(model, _remote(2), BB, ONE_SOCKET)
    message = str(err.value)
    assert "do not pack table-wise onto 2 sparse parameter server(s) of type one_socket_cpu" \
        in message
    assert f"short by {size - (SOCKET - size)} bytes" in message


def test_a_table_larger_than_any_sparse_ps_is_named() -> None:
    model = _model([("big", SOCKET // (64 * 4 + 4) + 1, 64, 1.0), ("small", 10, 64, 1.0)])
    with pytest.raises(PlacementError, match="table big .* fits on no single device of 2 sparse "
                       r"parameter server\(s\) of type one_socket_cpu"):
        place(model, _remote(2), BB, ONE_SOCKET)

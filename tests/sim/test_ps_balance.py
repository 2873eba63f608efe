"""Remote tables are balanced over the sockets of their sparse PS, and a trainer's messages to
the sparse PS over its NICs, by load rather than by index.

Expected values are derived by hand. Tables have dimension 64 (fp32), so a table's load
(placement.table_load: lookups per example x dimension) is 64 x its mean lookups; a trainer
exchanges with a PS, per example and table, its indices and bag length out (lookups x 8 + 4:
INDEX_BYTES, LENGTH_BYTES), its pooled row back (64 x 4) and the row's gradient out (64 x 4).
A socket of the dual-socket CPU server holds 128 GB x 0.85
usable (dram_usable_fraction); a table of `rows` rows with row-wise Adagrad holds
rows x (64 x 4 + 4) bytes."""

from __future__ import annotations

import pytest

from sim.errors import PlacementError
from sim.placement import place, table_load
from sim.presets import load_job, load_model, load_platform
from sim.processes import sparse_ps
from sim.processes.cpu_trainer import cpu_batch_plan
from sim.processes.embedding_work import group_costs, shard_work
from sim.processes.gpu_plan import Layout, batch_plan
from sim.run import build
from sim.specs import JobSpec, ModelSpec, PlacementSpec, PoolingSpec, TableSpec

BB = load_platform("big_basin")
CPU = load_platform("dual_socket_cpu")
ROW_BYTES = 64 * 4 + 4  # dim 64, fp32 weights, one fp32 row-wise Adagrad accumulator per row
SOCKET = int(128e9 * 0.85)  # usable bytes of one socket of dual_socket_cpu


def _model(tables: list[tuple[str, int, float]]) -> ModelSpec:
    """Tables (name, rows, mean lookups) of dimension 64, row-wise Adagrad."""
    return ModelSpec("m", 13, tuple(TableSpec(n, rows, 64, PoolingSpec(lookups))
                                    for n, rows, lookups in tables), (64,), (32,))


def _remote(trainer: str, sparse_ps: int) -> JobSpec:
    batch = 1600 if trainer == "big_basin" else 200
    return JobSpec("j", "m", trainer, batch, sparse_ps=sparse_ps,
                   placement=PlacementSpec("remote"))


def test_the_socket_capacity_these_tests_assume() -> None:
    assert [int(s.mem_capacity_bytes * CPU.efficiency.dram_usable_fraction)
            for s in CPU.sockets] == [SOCKET, SOCKET]


# Lookups 3, 1, 2, 2 on one dual-socket PS. Hottest first onto the least-loaded socket:
# t0 (3) -> s0; t2 (2, before t3 by name) -> s1; t3 (2) -> s1 (2 < 3), now 4; t1 (1) -> s0
# (3 < 4): sockets 4 and 4 (x 64). The index modulo 2 gave {t0, t2} = 5 and {t1, t3} = 3.
BALANCED = _model([("t0", 10**5, 3.0), ("t1", 10**5, 1.0), ("t2", 10**5, 2.0),
                   ("t3", 10**5, 2.0)])
BALANCED_SOCKETS = {0: (0, 1), 1: (2, 3)}


def test_a_sparse_ps_balances_its_tables_over_its_sockets_by_load() -> None:
    placed = place(BALANCED, _remote("big_basin", 1), BB, CPU)
    assert [p.devices for p in placed.tables] == [(0,)] * 4
    assert [p.ps_socket for p in placed.tables] == [0, 0, 1, 1]
    loads = [sum(table_load(t) for t, p in zip(BALANCED.tables, placed.tables, strict=True)
                 if p.ps_socket == s) for s in (0, 1)]
    assert loads == [4 * 64, 4 * 64]


@pytest.mark.parametrize("trainer", ["big_basin", "dual_socket_cpu"])
def test_the_trainers_plans_serve_each_table_on_its_placed_socket(trainer: str) -> None:
    # The GPU plan and the CPU trainer's plan group a PS socket's tables as the placement
    # put them: socket 0 costs what t0 and t1 cost together on its cores, socket 1 t2 and t3.
    platform = BB if trainer == "big_basin" else CPU
    job = build(_remote(trainer, 1), BALANCED, platform, CPU, profile=None, trace=None, seed=0,
                iterations=3, warmup=1)
    if trainer == "big_basin":
        plan = batch_plan(job, Layout(tuple(job.trainers), 8), 0)
        forward, update = plan.remote_fwd, plan.remote_upd
    else:
        cpu_plan = cpu_batch_plan(job, 0)
        forward, update = cpu_plan.ps_fwd, cpu_plan.ps_upd
    assert sorted(forward) == [(0, 0), (0, 1)]
    for s, tables in BALANCED_SOCKETS.items():
        works = [shard_work(job.model, job.demand, 0, t) for t in tables]
        expected = group_costs(job.ps_costs, sparse_ps.ps_socket_proc(job, 0, s), works,
                               job.model.optimizer)
        assert (forward[(0, s)], update[(0, s)]) == expected


def test_a_table_goes_to_the_least_loaded_socket_that_has_room() -> None:
    # a (0.7 socket, 10 lookups) -> s0; b (0.7, 5) -> s1; c (0.2, 4) -> s1 (5 < 10; 0.3 free),
    # now 9; d (0.2, 1): s1 is less loaded (9 < 10) but has 0.1 free, so s0 (0.3 free).
    def rows(share: float) -> int:
        return int(SOCKET * share) // ROW_BYTES

    model = _model([("a", rows(0.7), 10.0), ("b", rows(0.7), 5.0), ("c", rows(0.2), 4.0),
                    ("d", rows(0.2), 1.0)])
    placed = place(model, _remote("big_basin", 1), BB, CPU)
    assert [p.ps_socket for p in placed.tables] == [0, 1, 1, 0]


def test_a_sparse_ps_refuses_tables_its_sockets_cannot_hold() -> None:
    # 0.7 + 0.7 + 0.4 sockets fit the PS's 2 sockets together, but once a and b take a socket
    # each, c (0.4) finds 0.3 free on either.
    def rows(share: float) -> int:
        return int(SOCKET * share) // ROW_BYTES

    model = _model([("a", rows(0.7), 3.0), ("b", rows(0.7), 2.0), ("c", rows(0.4), 1.0)])
    with pytest.raises(PlacementError, match="sockets of sparse parameter server 0"):
        place(model, _remote("big_basin", 1), BB, CPU)


def test_every_m3_sparse_ps_balances_its_sockets_within_its_hottest_table() -> None:
    # Adding each table to the less-loaded of two sockets keeps their difference at most the
    # largest table added (|d - x| <= max(d, x)), whatever the order. The index modulo 2 left
    # one socket of a PS with 1.8 to 22.6 times the other's load.
    spec = load_job("m3_gpu")
    model = load_model(spec.model)
    placed = place(model, spec, load_platform(spec.trainer_platform),
                   load_platform(spec.ps_platform))
    for server in range(spec.sparse_ps):
        held = [(t, p) for t, p in zip(model.tables, placed.tables, strict=True)
                if p.devices == (server,)]
        loads = [sum(table_load(t) for t, p in held if p.ps_socket == s) for s in (0, 1)]
        assert abs(loads[0] - loads[1]) <= max(table_load(t) for t, _ in held), (server, loads)


# The bytes per example of a trainer's three exchanges with a PS, for one table of dimension
# 64 with L lookups: indices and bag length out L x 8 + 4, pooled row back 64 x 4 = 256,
# gradient out 256.
def _exchanges(lookups: float) -> tuple[float, float, float]:
    return (lookups * 8 + 4, 256.0, 256.0)


# Four PS with one table each (the load balance puts 40, 30, 20 and 10 lookups on PS 0, 1, 2
# and 3): indices 324, 244, 164, 84 bytes per example. Big Basin's socket 0 (where the client
# runs) has NICs 0 and 1. The cost of a choice is, summed over the three exchanges, the most
# bytes one NIC carries in it. PS 0 -> NIC 0 (both cost 324 + 256 + 256; fewer bytes so far:
# a tie, the first). PS 1: NIC 0 costs 568 + 512 + 512, NIC 1 324 + 256 + 256 -> 1.
# PS 2: NIC 0 costs 488 + 512 + 512 = 1512, NIC 1 408 + 512 + 512 = 1432 -> 1. PS 3: NIC 0
# costs 408 + 512 + 512 = 1432, NIC 1 492 + 768 + 768 -> 0. So {0, 3} and {1, 2}: indices
# 408 and 408. PS p on NIC p % 2 gave indices 488 and 328.
FOUR_PS = _model([("t0", 10**5, 40.0), ("t1", 10**5, 30.0), ("t2", 10**5, 20.0),
                  ("t3", 10**5, 10.0)])


def test_a_gpu_trainer_balances_its_sparse_ps_bytes_over_its_nics() -> None:
    job = build(_remote("big_basin", 4), FOUR_PS, BB, CPU, profile=None, trace=None, seed=0,
                iterations=3, warmup=1)
    assert [p.devices for p in job.placement.tables] == [(0,), (1,), (2,), (3,)]
    assert sparse_ps.exchange_bytes(job) == {p: pytest.approx(_exchanges(lookups))
                                             for p, lookups in enumerate((40, 30, 20, 10))}
    client = job.trainers[0]
    assert client.nic_pool(("host", 0)) == (0, 1)
    assert sparse_ps.client_nics(job, client, ("host", 0)) == {0: 0, 1: 1, 2: 1, 3: 0}
    # The messages take those NICs, out and back (each PS's one table sits on its socket 0).
    shares = ((0, 0), (1, 0), (2, 0), (3, 0))
    for to_ps, wire in ((True, "tx"), (False, "rx")):
        fan = sparse_ps._fan(job, client, ("host", 0), shares, to_ps)
        members = {c.name: fan.groups[g] for c, g in fan.channels}
        assert members[f"{client.name}.nic0.{wire}"] == (0, 3)
        assert members[f"{client.name}.nic1.{wire}"] == (1, 2)


def test_the_nics_balance_each_exchange_not_only_the_sum() -> None:
    # One PS holds a table of 150 lookups (indices 1204 B per example), three hold a table of
    # 1 lookup each (12 B): 1716 and 524 B per example in all. Balancing the sums would put
    # PS 0 on NIC 0 and the rest on NIC 1 (1716 against 1572), and NIC 1 would carry three
    # of the four rows back and gradients out (768 B against 256). Per exchange: PS 0 -> 0;
    # PS 1: NIC 0 costs 1216 + 512 + 512, NIC 1 1204 + 256 + 256 -> 1; PS 2: NIC 0 costs
    # 1216 + 512 + 512 = 2240, NIC 1 1204 + 512 + 512 = 2228 -> 1; PS 3: NIC 0 costs
    # 1216 + 512 + 512 = 2240, NIC 1 1204 + 768 + 768 = 2740 -> 0. Rows: 512 and 512.
    model = _model([("hot", 10**5, 150.0), ("c1", 10**5, 1.0), ("c2", 10**5, 1.0),
                    ("c3", 10**5, 1.0)])
    job = build(_remote("big_basin", 4), model, BB, CPU, profile=None, trace=None, seed=0,
                iterations=3, warmup=1)
    assert [p.devices for p in job.placement.tables] == [(0,), (1,), (2,), (3,)]
    assert sparse_ps.client_nics(job, job.trainers[0], ("host", 0)) == {0: 0, 1: 1, 2: 1, 3: 0}


def test_a_cpu_trainer_with_one_nic_sends_everything_through_it() -> None:
    job = build(_remote("dual_socket_cpu", 4), FOUR_PS, CPU, CPU, profile=None, trace=None,
                seed=0, iterations=3, warmup=1)
    assert sparse_ps.client_nics(job, job.trainers[0], ("host", 0)) == {0: 0, 1: 0, 2: 0, 3: 0}


# One hot table (8 lookups per example) and six cold ones (1 each), dimension 64, 10^7 rows
# (2.56 GB: never in the 27.5 MB cache), batch 1600, on one socket of dual_socket_cpu served
# on its 20 cores (analytic defaults: gather 128 GB/s x 0.35 = 44.8 GB/s, stream x 0.75 = 96
# GB/s, 1.28 TFLOP/s, 10 us per operator; 2 forward + 4 backward + 3 row-wise Adagrad
# operators per table, and the spec's distinct rows: as many as the lookups). A cold table:
# forward 409.6 kB / 44.8 GB/s + 20 us + 409.6 kB / 96 GB/s = 33.4 us; update 409.6 kB /
# 96 GB/s + 70 us + 1600 x 640 B / 44.8 GB/s = 97.1 us; 130.5 us in all. The hot one: 97.4 +
# 287.0 = 384.5 us. By lookups x dimension (512 against 6 x 64 = 384) the hot table sat alone
# on socket 0 and the six cold ones on socket 1: 783 us against 384.5. By seconds: hot -> s0;
# c1, c2 -> s1 (261 < 384.5); c3 -> s1 (391.5); c4 -> s0 (384.5 < 391.5; 515); c5 -> s1
# (522); c6 -> s0 (515 < 522; 645.5): at most 645.5 us.
OVERHEAD = _model([("hot", 10**7, 8.0), *((f"c{i}", 10**7, 1.0) for i in range(1, 7))])


def test_cold_tables_whose_per_call_overhead_dominates_are_not_all_put_on_one_socket() -> None:
    placed = place(OVERHEAD, _remote("big_basin", 1), BB, CPU)
    assert [p.ps_socket for p in placed.tables] == [0, 1, 1, 1, 0, 1, 0]


def test_balancing_by_seconds_shortens_the_slowest_socket_of_the_run() -> None:
    # The run's own charge (its demand, its cost model) of each socket's tables: the slower
    # socket takes less than the six cold tables together did on one socket.
    job = build(_remote("big_basin", 1), OVERHEAD, BB, CPU, profile=None, trace=None, seed=0,
                iterations=3, warmup=1)
    plan = batch_plan(job, Layout(tuple(job.trainers), 8), 0)
    slowest = max(plan.remote_fwd[k].seconds + plan.remote_upd[k].seconds
                  for k in plan.remote_fwd)
    works = [shard_work(job.model, job.demand, 0, t) for t in range(1, 7)]
    forward, update = group_costs(job.ps_costs, sparse_ps.ps_socket_proc(job, 0, 1), works,
                                  job.model.optimizer)
    assert sorted(plan.remote_fwd) == [(0, 0), (0, 1)]
    assert slowest < 0.9 * (forward.seconds + update.seconds)

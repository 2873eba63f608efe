"""Audit of placement, the remote-lookup client and the analytic embedding update: no device
is given more bytes than it holds, a placement that fits is found, each sparse PS's reply is
copied on a core of its own, and Adagrad's state is counted in fp32.

Expected values come from the capacities and table sizes by hand: a table of `rows` rows of
dimension 64 in fp32 with row-wise Adagrad holds rows x (64 x 4 + 4) bytes (weights plus one
fp32 accumulator per row); a Big Basin V100 holds 32 GB x 0.9 usable (EfficiencySpec
hbm_usable_fraction), a socket 128 GB x 0.85 (dram_usable_fraction)."""

from __future__ import annotations

import pytest

from sim.errors import PlacementError
from sim.placement import place
from sim.presets import load_platform
from sim.processes.gpu_plan import Layout, batch_plan
from sim.run import build
from sim.specs import JobSpec, ModelSpec, PlacementSpec, PoolingSpec, TableSpec

BB = load_platform("big_basin")
CPU = load_platform("dual_socket_cpu")
ROW_BYTES = 64 * 4 + 4  # dim 64, fp32 weights, one fp32 row-wise Adagrad accumulator per row


def _model(tables: list[tuple[str, int, float]]) -> ModelSpec:
    """Tables (name, rows, mean lookups) of dimension 64, row-wise Adagrad."""
    return ModelSpec("m", 13, tuple(TableSpec(n, rows, 64, PoolingSpec(lookups))
                                    for n, rows, lookups in tables), (64,), (32,))


def _job(kind: str, **over: object) -> JobSpec:
    placement = {k: over.pop(k) for k in ("sharding", "packing") if k in over}
    return JobSpec("j", "m", "big_basin", 1600, placement=PlacementSpec(kind, **placement),
                   **over)  # type: ignore[arg-type]


def test_the_platform_capacities_these_tests_assume() -> None:
    assert BB.gpus[0].hbm_capacity_bytes * BB.efficiency.hbm_usable_fraction == pytest.approx(
        32 * 2**30 * 0.9)
    assert [s.mem_capacity_bytes * BB.efficiency.dram_usable_fraction for s in BB.sockets] == \
        pytest.approx([128e9 * 0.85] * 2)


def test_system_placement_shards_a_hot_table_only_where_the_sockets_hold_the_shards() -> None:
    # Socket capacity 108.8 GB. A hot table of 0.9 socket and a cold one of 0.95 socket land
    # on sockets 0 and 1. Sharding the hot one over both would put 0.45 + 0.95 = 1.4 sockets'
    # bytes on socket 1, so it must stay whole.
    socket = int(128e9 * 0.85)
    hot_rows, cold_rows = int(socket * 0.9) // ROW_BYTES, int(socket * 0.95) // ROW_BYTES
    model = _model([("hot", hot_rows, 50.0), ("cold", cold_rows, 1.0)])
    placed = place(model, _job("system"), BB, CPU)
    for s, used in placed.bytes_by_device("host").items():
        assert used <= socket, f"socket {s} holds {used} of {socket} bytes"
    assert [p.devices for p in placed.tables] == [(0,), (1,)]


def test_system_placement_still_shards_a_hot_table_that_fits_in_shards() -> None:
    # Two small tables (1e6 rows: 0.26 GB, out of the 27.5 MB cache); the hot one's halves fit
    # and it is sharded over both sockets, as is then the cold one: sharding stops only where
    # the slowest socket's seconds would not drop (placement_groups.split_hot). Batch 1600 on a
    # socket of 20 cores (gather 44.8 GB/s, stream 96 GB/s, 10 us per operator; 2 forward and
    # 4 + 3 update operators; distinct rows = lookups, 640 B each read and written): the hot
    # table (80,000 lookups) costs 481.4 + 1426.2 = 1907.6 us whole, 1000.9 us a half; the
    # cold (1600 lookups) 130.5 us whole, 112.4 us a half. Hot sharded: 1000.9 and
    # 130.5 + 1000.9 = 1131.4 us (< 1907.6); cold sharded too: 1113.3 us on both (< 1131.4).
    model = _model([("hot", 10**6, 50.0), ("cold", 10**6, 1.0)])
    placed = place(model, _job("system"), BB, CPU)
    assert [p.devices for p in placed.tables] == [(0, 1), (0, 1)]


# Four tables as fractions of one GPU's usable HBM: hot 0.5 and 0.5, cold 0.7 and 0.29. They
# pack onto two GPUs ({0.7, 0.29} and {0.5, 0.5}); balancing the load alone puts the two hot
# tables on two GPUs, where 0.7 then fits on neither.
GPU = int(32 * 2**30 * 0.9)
PACKABLE = _model([("h1", int(GPU * 0.5) // ROW_BYTES, 40.0),
                   ("h2", int(GPU * 0.5) // ROW_BYTES, 40.0),
                   ("c1", int(GPU * 0.7) // ROW_BYTES, 1.0),
                   ("c2", int(GPU * 0.29) // ROW_BYTES, 1.0)])


@pytest.mark.parametrize("packing", ["spread", "packed"])
def test_tables_that_pack_onto_the_gpus_are_placed(packing: str) -> None:
    placed = place(PACKABLE, _job("gpu", gpus_per_trainer=2, packing=packing), BB, CPU)
    used = placed.bytes_by_device("gpu")
    assert sorted(used) == [0, 1]
    assert all(b <= GPU for b in used.values())


def test_packed_placement_uses_the_fewest_gpus_it_can_fill() -> None:
    # Two GPUs hold them (above); packed on a server of eight uses exactly two.
    placed = place(PACKABLE, _job("gpu", packing="packed"), BB, CPU)
    assert placed.devices_used("gpu") == (0, 1)
    assert all(b <= GPU for b in placed.bytes_by_device("gpu").values())


def test_a_table_larger_than_any_gpu_says_by_how_many_bytes() -> None:
    rows = int(GPU * 1.25) // ROW_BYTES
    model = _model([("big", rows, 1.0), ("small", 1000, 1.0)])
    with pytest.raises(PlacementError) as err:
        place(model, _job("gpu"), BB, CPU)
    assert f"short by {rows * ROW_BYTES - GPU} bytes" in str(err.value)


def test_the_remote_lookup_client_copies_each_reply_on_a_core_of_its_own() -> None:
    # Two sparse PS reply with 2 tables x 1600 examples x 64 x 4 B = 819,200 B each. One core
    # moves 12 GB/s of memory traffic (EfficiencySpec.core_mem_bw_bytes_per_s, single-thread
    # STREAM, which counts bytes read and written; the socket's 128 GB/s x 0.75 streams far
    # more), and a copy reads and writes each byte, so two cores copy both replies in
    # 2 x 819,200 / 12e9 s = 136.5 us; one core copying both one after the other would take
    # twice as long.
    from sim.processes import remote_lookup

    model = _model([(f"t{i}", 10**5, 10.0) for i in range(4)])
    job = build(_job("remote", sparse_ps=2), model, BB, CPU, profile=None, trace=None, seed=0,
                iterations=3, warmup=1)
    plan = batch_plan(job, Layout(tuple(job.trainers), 8), 0)
    reply = 2 * 1600 * 64 * 4
    assert plan.remote_replies == {0: reply, 1: reply}
    job.env.process(remote_lookup._copies(job, job.trainers[0], plan))
    job.env.run()
    assert job.env.now == pytest.approx(2 * reply / 12e9, rel=1e-9)


def test_adagrad_state_is_fp32_rows_even_with_fp16_weights() -> None:
    # ModelSpec keeps Adagrad's state as fp32 (rows x dim x 4 B). An fp16 table of dim 64
    # moves, per unique row, its 128 B row and its 256 B fp32 state, each read and written:
    # 2 x 128 + 2 x 256 = 768 B; plus the gradient, lookups x 64 x 2 B. 10^7 rows stay out of
    # any cache.
    from sim.costs import AnalyticCosts, EmbeddingWork, Processor

    gpu = Processor("gpu", BB.gpus[0])
    work = EmbeddingWork(batch=1000, rows=10**7, dim=64, pooling=10.0, unique_rows=5000,
                         zipf_s=1.05, bytes_per_element=2)
    cost = AnalyticCosts().embedding_update(gpu, work, "adagrad")
    assert cost.mem_bytes == 1000 * 10 * 64 * 2 + 5000 * 768
    table = TableSpec("t", 10**7, 64, PoolingSpec(10.0))
    fp16 = ModelSpec("m", 13, (table,), (64,), (32,), bytes_per_element=2, optimizer="adagrad")
    assert fp16.optimizer_state_bytes_per_table(table) == 10**7 * 64 * 4

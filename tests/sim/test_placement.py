"""Placement puts every table somewhere that holds it, or says by how many bytes it cannot."""

from __future__ import annotations

import dataclasses

import pytest

from sim.errors import PlacementError
from sim.placement import gpu_capacity_bytes, place, table_bytes
from sim.presets import load_job, load_model, load_platform
from sim.specs import JobSpec, ModelSpec, PlacementSpec, PoolingSpec, TableSpec

BB = load_platform("big_basin")
CPU = load_platform("dual_socket_cpu")


def job(kind: str, **over: object) -> JobSpec:
    placement = PlacementSpec(kind, **over)  # type: ignore[arg-type]
    return JobSpec("j", "m", "big_basin", batch_size=100, sparse_ps=2, placement=placement)


def model(sizes: list[int], dim: int = 64) -> ModelSpec:
    tables = tuple(TableSpec(f"t{i}", rows, dim, PoolingSpec(1.0 + i)) for i, rows in enumerate(sizes))
    return ModelSpec("m", 13, tables, (64,), (32,), optimizer="sgd")


@pytest.mark.parametrize("kind", ["gpu", "system", "remote", "hybrid"])
def test_every_table_is_placed_within_capacity(kind: str) -> None:
    m2 = load_model("m2_prod")
    placed = place(m2, job(kind), BB, CPU)
    assert [p.table for p in placed.tables] == [t.name for t in m2.tables]
    cap = gpu_capacity_bytes(BB)
    for gpu, used in placed.bytes_by_device("gpu").items():
        assert used <= cap[gpu]
    assert sum(p.bytes for p in placed.tables) == sum(table_bytes(m2, t) for t in m2.tables)


def test_packed_uses_fewest_gpus_and_spread_uses_all() -> None:
    capacity = gpu_capacity_bytes(BB)[0]
    rows_per_gpu = capacity // (64 * 4)
    # three tables of 0.6 GPU each: cannot share, so 3 GPUs packed; spread puts them on 3 too,
    # but many small tables spread over all 8.
    big = model([int(rows_per_gpu * 0.6)] * 3)
    assert len(place(big, job("gpu", packing="packed"), BB, CPU).devices_used("gpu")) == 3
    small = model([1000] * 16)
    assert len(place(small, job("gpu", packing="packed"), BB, CPU).devices_used("gpu")) == 1
    assert len(place(small, job("gpu", packing="spread"), BB, CPU).devices_used("gpu")) == 8


def test_row_wise_shards_every_table_over_the_gpus() -> None:
    placed = place(model([1000, 2000]), job("gpu", sharding="row_wise"), BB, CPU)
    assert all(p.devices == tuple(range(8)) for p in placed.tables)
    packed = place(model([1000, 2000]), job("gpu", sharding="row_wise", packing="packed"), BB, CPU)
    assert all(p.devices == (0,) for p in packed.tables)


def test_m3_does_not_fit_big_basin_gpu_memory_and_says_by_how_much() -> None:
    m3 = load_model("m3_prod")
    with pytest.raises(PlacementError) as err:
        place(m3, job("gpu"), BB, CPU)
    need = sum(table_bytes(m3, t) for t in m3.tables)
    short = need - sum(gpu_capacity_bytes(BB))
    assert f"short by {short} bytes" in str(err.value)


def test_remote_spreads_over_the_sparse_parameter_servers() -> None:
    m1 = load_model("m1_prod")
    placed = place(m1, load_job("m1_cpu"), CPU, CPU)
    used = placed.devices_used("remote")
    assert used == tuple(range(load_job("m1_cpu").sparse_ps))


def test_hybrid_puts_the_hottest_tables_on_gpus() -> None:
    capacity = gpu_capacity_bytes(BB)[0]
    rows = int(capacity * 0.7) // (64 * 4)
    # nine tables of 0.7 GPU: eight go to the GPUs, the coldest to host memory
    m = model([rows] * 9)
    placed = place(m, job("hybrid"), BB, CPU)
    on_host = [p.table for p in placed.tables if p.location == "host"]
    assert on_host == ["t0"]  # t0 has the fewest lookups (pooling 1.0)


def test_a_table_larger_than_any_device_is_named() -> None:
    capacity = gpu_capacity_bytes(BB)[0]
    m = model([capacity // (64 * 4) + 10, 10])
    with pytest.raises(PlacementError, match="table t0"):
        place(m, job("gpu"), BB, CPU)


def test_gpu_placement_needs_gpus() -> None:
    with pytest.raises(PlacementError, match="has none"):
        place(model([10]), job("gpu"), CPU, CPU)
    too_many = dataclasses.replace(job("gpu"), gpus_per_trainer=9)
    with pytest.raises(PlacementError, match="at most 8"):
        place(model([10]), too_many, BB, CPU)


# Zion's sockets under the analytic defaults (20 cores: gather 128 GB/s x 0.35 = 44.8 GB/s,
# stream x 0.75 = 96 GB/s, 20 x 128 GFLOP/s x 0.5 = 1.28 TFLOP/s, 10 us per operator, 27.5 MB
# of cache), batch 100, dimension 64, fp32, SGD: 2 forward operators, 4 backward + 1 SGD.
# A table of 1000 rows (256 kB) stays in its cache share: only its dispatch, its pooled output
# (100 x 256 B / 96 GB/s = 0.27 us) and its gradient (L x 256 B / 96 GB/s) cost it. With L
# lookups a batch: 20.3 us + 50 us + L x 2.67 ns, e.g. 71.1 us for L = 300, 97.4 us for 10^4.
# A table of 10^7 rows with 20,000 lookups: gather 5.12 MB / 44.8 GB/s = 114.3 us + 20.3 us;
# gradient 5.12 MB / 96 GB/s = 53.3 us + 50 us, and its 20,000 distinct rows read and written,
# 10.24 MB / 44.8 GB/s = 228.6 us: 466.5 us. One of its 8 shards (1.25 M rows, 2,500 lookups):
# 14.3 + 20.3 + 6.7 + 50 + 28.6 = 119.8 us: a shard pays the whole per-call overhead.
ZION_SYSTEM = dataclasses.replace(job("system"), trainer_platform="zion")


def _tables(specs: list[tuple[int, float]]) -> ModelSpec:
    """Tables (rows, mean lookups per example) of dimension 64 with SGD."""
    return ModelSpec("m", 13, tuple(TableSpec(f"t{i}", rows, 64, PoolingSpec(lookups))
                                    for i, (rows, lookups) in enumerate(specs)),
                     (64,), (32,), optimizer="sgd")


def test_system_memory_keeps_whole_a_hot_table_whose_seconds_are_per_call_overhead() -> None:
    # Lookups 1, 2, 3, 30: the last gathers 30/36 of the bytes, above a socket's 1/8 share, and
    # each table has a socket of its own. Whole, the hot table costs 78.4 us (20.3 + 58.0:
    # 3000 lookups' gradient 768 kB / 96 GB/s = 8 us); sharded, t2's socket would add a shard
    # of 375 lookups (71.3 us) to its own 71.1 us: 142 us, slower than 78.4.
    placed = place(_tables([(1000, 1.0), (1000, 2.0), (1000, 3.0), (1000, 30.0)]),
                   ZION_SYSTEM, load_platform("zion"), CPU)
    assert all(len(t.devices) == 1 for t in placed.tables)


def test_system_memory_shards_a_hot_table_whose_seconds_are_bytes() -> None:
    # The 10^7-row table of 200 lookups (466.5 us) alone on a socket; sharded, each other
    # socket holds at most a cold table (at most 71.1 us) and a shard (119.8 us): 190.9 us.
    placed = place(_tables([(1000, 1.0), (1000, 2.0), (1000, 3.0), (10**7, 200.0)]),
                   ZION_SYSTEM, load_platform("zion"), CPU)
    assert placed.tables[3].devices == tuple(range(8))
    assert all(len(t.devices) == 1 for t in placed.tables[:3])


def test_system_memory_shards_a_table_below_a_sockets_share_of_bytes_that_is_slowest() -> None:
    # The 10^7-row table gathers 200 of 1740 lookups, under a socket's 1/8 share of the bytes,
    # but its 466.5 us dwarf the 14 cached tables of 110 lookups (20.8 + 50 + 29.3 = 100.1 us
    # each). Hottest first onto the least-loaded socket: it alone on socket 0, two cold tables
    # on each other socket (200.3 us). Sharded, those hold 200.3 + 119.8 = 320.1 us: the
    # slowest socket drops from 466.5 us to 320.1 us. Then seven sockets tie at the slowest,
    # and sharding a cold table would add to the other six: they stay whole.
    placed = place(_tables([(10**7, 200.0), *[(1000, 110.0)] * 14]),
                   ZION_SYSTEM, load_platform("zion"), CPU)
    assert placed.tables[0].devices == tuple(range(8))
    assert all(len(t.devices) == 1 for t in placed.tables[1:])

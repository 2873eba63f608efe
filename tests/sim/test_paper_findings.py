"""The findings of Acun et al. (HPCA 2021) that the presets and the analytic cost model must
reproduce, one test per claim, named by the paper's section. Claims the model does not yet
reproduce are strict xfails with the reason: they must flip when the model is fixed."""

from __future__ import annotations

import dataclasses
import itertools
from functools import cache

import pytest

from sim.presets import load_model
from sim.run import simulate
from sim.specs import ModelSpec, PlacementSpec

ITER = 8
MISSES_EFFICIENCY = pytest.mark.xfail(strict=True, reason=(
    "Big Basin comes out 23x (4 sparse features) to 38x (128) faster than the 3-server CPU "
    "setup, 9.6x to 16x more examples per joule; per watt it loses only below 7.3 x 350 W / "
    "1050 W = 2.43x throughput. No defensible change closes an order of magnitude. See "
    "docs/paper_findings.md"))


def suite(**changes: object) -> ModelSpec:
    """The Section V test suite with some of its axes changed."""
    base = load_model("test_suite")
    tables = int(changes.pop("tables", base.num_tables))  # type: ignore[call-overload]
    rows = changes.pop("rows", None)
    first = base.tables[0] if rows is None else dataclasses.replace(base.tables[0], rows=rows)
    each = tuple(dataclasses.replace(first, name=f"t{i}") for i in range(tables))
    return dataclasses.replace(base, tables=each, **changes)  # type: ignore[arg-type]


@cache
def cpu(**changes: object) -> tuple[float, float]:
    r = simulate("test_suite_cpu", model=suite(**changes), iterations=ITER)
    return r.throughput_examples_per_s, r.examples_per_joule


@cache
def gpu(**changes: object) -> tuple[float, float]:
    r = simulate("test_suite_gpu", model=suite(**changes), iterations=ITER)
    return r.throughput_examples_per_s, r.examples_per_joule


DENSE = (64, 512, 4096)
SPARSE = (4, 32, 128)


def _falls(values: list[float]) -> bool:
    return all(b < a for a, b in itertools.pairwise(values))


def test_V_A_throughput_falls_with_dense_and_sparse_features() -> None:
    for run in (cpu, gpu):
        assert _falls([run(dense_features=d)[0] for d in DENSE])
        assert _falls([run(tables=n)[0] for n in SPARSE])


def test_V_A_big_basin_is_faster_than_cpu_in_every_configuration() -> None:
    configs = [{"dense_features": d} for d in DENSE] + [{"tables": n} for n in SPARSE]
    for c in configs:
        assert gpu(**c)[0] > cpu(**c)[0]


@MISSES_EFFICIENCY
def test_V_A_big_basin_is_not_always_more_efficient_per_watt() -> None:
    configs = [{"dense_features": d} for d in DENSE] + [{"tables": n} for n in SPARSE]
    assert any(gpu(**c)[1] < cpu(**c)[1] for c in configs)


def test_V_A_big_basin_efficiency_is_highest_with_more_dense_features() -> None:
    ratios = [gpu(dense_features=d)[1] / cpu(dense_features=d)[1] for d in DENSE]
    assert max(range(len(DENSE)), key=lambda i: ratios[i]) == len(DENSE) - 1


BATCHES = (64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)


def _batch_sweep(job: str) -> list[float]:
    return [simulate(job, batch_size=b, iterations=ITER).throughput_examples_per_s
            for b in BATCHES]


def _knee(values: list[float]) -> int:
    """The smallest batch within 10% of the best throughput: the throughput-optimal batch of
    a curve that saturates rather than peaks."""
    best = max(values)
    return next(b for b, v in zip(BATCHES, values, strict=True) if v >= 0.9 * best)


def test_V_B_big_basin_rises_linearly_with_batch_then_saturates() -> None:
    values = _batch_sweep("test_suite_gpu")
    assert values[1] / values[0] > 1.8  # doubling a small batch nearly doubles throughput
    assert values[-1] / values[-2] < 1.2  # doubling a large one hardly helps


def test_V_B_cpu_optimal_batch_is_smaller_than_big_basins() -> None:
    assert _knee(_batch_sweep("test_suite_cpu")) < _knee(_batch_sweep("test_suite_gpu"))


HASH = (100_000, 1_000_000, 10_000_000)
# The largest hash size whose 32 tables (with row-wise Adagrad state) fit the usable HBM of one
# Big Basin, as the paper's sweep gives the GPUs 256 GB: 30M rows need 249.6 GB of 247.4 GB.
GPU_MAX_ROWS = 20_000_000


def test_V_C_cpu_throughput_is_nearly_flat_with_hash_size() -> None:
    values = [cpu(rows=r)[0] for r in HASH]
    assert min(values) > 0.9 * max(values)


@pytest.mark.xfail(strict=True, reason=(
    "packed on the fewest GPUs, small tables crowd one GPU: 322k ex/s at 100k rows, 316k at "
    "1M, 662k at 10M, 995k at 20M on 8 GPUs (rises, the claim needs a 30% fall); spread, "
    "flat (1.13M to 1.11M). Replicating small tables costs each GPU every table's operators "
    "and a sparse-gradient all-reduce. See docs/paper_findings.md"))
def test_V_C_big_basin_falls_as_the_tables_need_more_gpus() -> None:
    values = [simulate("test_suite_gpu", model=suite(rows=r), iterations=ITER,
                       placement=PlacementSpec(kind="gpu", packing="packed")
                       ).throughput_examples_per_s
              for r in (100_000, GPU_MAX_ROWS)]
    assert values[1] < 0.7 * values[0]


MLP = (64, 256, 4096)


def _mlp(run, width: int) -> float:  # type: ignore[no-untyped-def]
    return float(run(bottom_mlp=(width,) * 3, top_mlp=(width,) * 3)[0])


def test_V_D_big_basin_hardly_changes_up_to_mlp_256() -> None:
    assert _mlp(gpu, 256) > 0.85 * _mlp(gpu, 64)


def test_V_D_cpu_hardly_changes_up_to_mlp_256() -> None:
    assert _mlp(cpu, 256) > 0.85 * _mlp(cpu, 64)


def test_V_D_beyond_256_cpu_falls_more_than_gpu() -> None:
    cpu_fall = _mlp(cpu, 256) / _mlp(cpu, 4096)
    gpu_fall = _mlp(gpu, 256) / _mlp(gpu, 4096)
    assert cpu_fall > gpu_fall


@cache
def m2(platform: str, placement: str) -> float:
    extra = {"sparse_ps": 8} if placement == "remote" else {}
    return simulate("m2_gpu", platform=platform, placement=placement, iterations=ITER,
                    **extra).throughput_examples_per_s  # type: ignore[arg-type]


PLACES = ("gpu", "system", "remote", "hybrid")


def test_VI_big_basin_is_best_with_gpu_memory() -> None:
    assert max(PLACES, key=lambda p: m2("big_basin", p)) in ("gpu", "hybrid")
    assert m2("big_basin", "gpu") >= max(m2("big_basin", p) for p in PLACES) * 0.999


def test_VI_zion_is_best_with_system_memory() -> None:
    # Zion's GPUs talk through host memory. Its GPU placement's all-to-all sends both ways at
    # once, and staged traffic shares one bridge channel both ways (NCCL's measurement, see
    # EfficiencySpec.host_staged_efficiency); the system placement's copies go one way each.
    # Without that sharing the model tied the two (1.521M against 1.513M ex/s).
    assert max(PLACES, key=lambda p: m2("zion", p)) == "system"


def test_VI_big_basin_with_system_memory_is_several_times_slower() -> None:
    assert m2("big_basin", "gpu") > 2.0 * m2("big_basin", "system")


def test_VI_remote_is_below_the_best_placement_on_both() -> None:
    for platform in ("big_basin", "zion"):
        assert m2(platform, "remote") < max(m2(platform, p) for p in PLACES)


def test_VI_zion_gpu_memory_is_slower_than_big_basin_gpu_memory() -> None:
    assert m2("zion", "gpu") < m2("big_basin", "gpu")


def test_VI_m3_does_not_fit_in_big_basin_gpu_memory() -> None:
    from sim.errors import PlacementError

    with pytest.raises(PlacementError, match="short by"):
        simulate("m3_gpu", placement="gpu", iterations=4)

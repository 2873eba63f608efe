"""check_fit: the memory check a run makes before it draws its demand refuses exactly what
`place` refuses for lack of memory in total, with the same words, and nothing `place` accepts."""

from __future__ import annotations

import dataclasses

import pytest

from sim.errors import PlacementError, SpecError
from sim.placement import check_fit, gpu_capacity_bytes, place, table_bytes
from sim.presets import list_presets, load_job, load_model, load_platform
from sim.run import simulate
from sim.specs import JobSpec, ModelSpec, PlacementSpec, PoolingSpec, TableSpec

PLACEMENTS = (PlacementSpec("gpu"), PlacementSpec("gpu", "row_wise"),
              PlacementSpec("gpu", packing="packed"),
              PlacementSpec("gpu", "row_wise", "packed"), PlacementSpec("hybrid"),
              PlacementSpec("hybrid", "row_wise"), PlacementSpec("system"),
              PlacementSpec("remote"))
JOBS, PLATFORMS = list_presets()["jobs"], list_presets()["platforms"]


def _outcome(call: object) -> str | None:
    """The PlacementError's message, or None when the call returned."""
    try:
        call()  # type: ignore[operator]
    except PlacementError as err:
        return str(err)
    return None


@pytest.mark.parametrize("job_name", JOBS)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_check_fit_refuses_only_what_place_refuses_and_in_its_words(job_name: str,
                                                                    platform: str) -> None:
    base, trainer = load_job(job_name), load_platform(platform)
    model = load_model(base.model)
    for placement in PLACEMENTS:
        try:
            job = dataclasses.replace(base, placement=placement, trainer_platform=platform)
        except SpecError:
            continue  # e.g. remote without sparse parameter servers: the spec refuses it
        ps_platforms = PLATFORMS if placement.kind == "remote" else [base.ps_platform]
        for ps in map(load_platform, ps_platforms):
            early = _outcome(lambda: check_fit(model, job, trainer, ps))  # noqa: B023
            late = _outcome(lambda: place(model, job, trainer, ps))  # noqa: B023
            case = f"{job_name} {placement} on {platform}, PS {ps.name}"
            if early is not None:
                assert late == early, case
            elif late is not None:
                # What check_fit leaves to place: arrangements, and a sparse PS's sockets.
                total_short = (late.startswith("the tables need")
                               and "sockets of sparse parameter server" not in late)
                assert not total_short, f"{case}: place refused a total check_fit passed: {late}"


def test_m3_is_refused_early_under_every_kind_in_place_s_words() -> None:
    # Not vacuous: M3 (483 GB with optimizer state) exceeds Big Basin's GPU memory (247 GB),
    # its system memory (218 GB), both together (465 GB), and one dual-socket PS (218 GB); the
    # preset matrix above has no remote refusal, so this one checks the remote words too.
    m3, bb, cpu = load_model("m3_prod"), load_platform("big_basin"), load_platform("dual_socket_cpu")
    base = load_job("m3_gpu")
    for kind, sparse_ps in (("gpu", 8), ("hybrid", 8), ("system", 8), ("remote", 1)):
        job = dataclasses.replace(base, placement=PlacementSpec(kind), sparse_ps=sparse_ps)
        early = _outcome(lambda: check_fit(m3, job, bb, cpu))  # noqa: B023
        assert early is not None and "short by" in early, kind
        assert _outcome(lambda: place(m3, job, bb, cpu)) == early, kind  # noqa: B023


def test_m3_on_big_basin_gpu_memory_is_short_by_the_bytes_the_sizes_say() -> None:
    m3, bb = load_model("m3_prod"), load_platform("big_basin")
    job = dataclasses.replace(load_job("m3_gpu"), placement=PlacementSpec("gpu"))
    need = sum(table_bytes(m3, t) for t in m3.tables)
    short = need - sum(gpu_capacity_bytes(bb))
    with pytest.raises(PlacementError, match=f"short by {short} bytes"):
        check_fit(m3, job, bb, load_platform("dual_socket_cpu"))


def test_hybrid_counts_only_the_tables_the_gpus_leave() -> None:
    # Big Basin (presets/platforms/big_basin.yaml, efficiency defaults): 8 GPUs of 32 GiB x
    # 0.9 usable = 30,923,764,531 B each; 2 sockets of 128 GB x 0.85 usable = 217.6 GB.
    # Eight hot tables of 20 GB (fp32, dim 64: 256 B a row; SGD keeps no state) take a GPU
    # each, the hottest first; the 10.9 GB left on each holds none of the cold 12 GB tables,
    # so all of them go to system memory: 18 fit (216 GB), 19 (228 GB) are short by 10.4 GB.
    bb = load_platform("big_basin")
    assert gpu_capacity_bytes(bb) == [30_923_764_531] * 8
    hot_rows, cold_rows = 20_000_000_000 // 256, 12_000_000_000 // 256

    def model(cold: int) -> ModelSpec:
        hot = [TableSpec(f"hot{i}", hot_rows, 64, PoolingSpec(10.0)) for i in range(8)]
        rest = [TableSpec(f"cold{i}", cold_rows, 64, PoolingSpec(1.0)) for i in range(cold)]
        return ModelSpec("m", 13, (*hot, *rest), (64,), (32,), optimizer="sgd")

    job = JobSpec("j", "m", "big_basin", batch_size=100, placement=PlacementSpec("hybrid"))
    check_fit(model(18), job, bb, bb)
    with pytest.raises(PlacementError, match=r"short by 10400000000 bytes") as err:
        check_fit(model(19), job, bb, bb)
    assert "system memory of big_basin (for the tables the GPUs cannot hold)" in str(err.value)
    assert _outcome(lambda: place(model(19), job, bb, bb)) == str(err.value)


def test_a_run_refuses_before_drawing_its_demand(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_demand(*args: object, **kwargs: object) -> None:
        raise AssertionError("the demand was drawn for a placement that cannot fit")

    monkeypatch.setattr("sim.run.demand_for", no_demand)
    with pytest.raises(PlacementError, match="short by"):
        simulate("m3_gpu", placement="gpu")

"""Audit of `dlrmsim reproduce` (session 9): claims that could pass or go uncompared for the
wrong reason, and an output folder that could swallow a user's files. Each test failed before
its fix."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dlrmsim.cli import main
from dlrmsim.reproduce import ReproduceError, outdir
from dlrmsim.reproduce.catalog_fleet import all_claims
from dlrmsim.reproduce.claims import evaluate
from dlrmsim.reproduce.runner import run_task
from dlrmsim.reproduce.types import Row, Rows, Verdict, task
from sim.errors import PlacementError, SpecError

# -- Figure 1: which models fit Big Basin's GPU memory ------------------------------------------


def verdict(cid: str, rows: Rows) -> Verdict:
    claim = next(c for c in all_claims() if c.id == cid)
    return evaluate([claim], rows)[0].verdict


def fleet(**runs: tuple[float, str, str]) -> list[Row]:
    """Figure 1 rows on Big Basin with the GPU placement: model -> (throughput, error, kind)."""
    return [{"model": m, "platform": "big_basin", "placement": "gpu", "throughput": t,
             "error": e, "error_kind": k} for m, (t, e, k) in runs.items()]


FITS = (1e6, "", "")
SHORT = (float("nan"), "the tables need 483.1 GB ... short by 235.7 GB", "PlacementError")
BROKEN = (float("nan"), "job m3_gpu: field batch_size = -1: must be > 0", "SpecError")


def test_m1_m2_refused_for_lack_of_memory_fails_f1_2() -> None:
    # The claim is that they fit; the simulator refusing them for memory contradicts it. It read
    # "not compared" (a failed run was treated as missing data).
    result = verdict("F1.2", {"fig1": fleet(M1=FITS, M2=SHORT)})
    assert result.status == "fail" and "M2" in result.detail
    assert verdict("F1.2", {"fig1": fleet(M1=FITS, M2=FITS)}).status == "pass"


def test_a_run_that_failed_for_another_reason_decides_neither_figure_1_claim() -> None:
    # A spec error says nothing about memory: F1.1 passed on any error at all.
    assert verdict("F1.1", {"fig1": fleet(M3=BROKEN)}).status == "not compared"
    assert verdict("F1.1", {"fig1": fleet(M3=SHORT)}).status == "pass"
    assert verdict("F1.1", {"fig1": fleet(M3=FITS)}).status == "fail"
    assert verdict("F1.2", {"fig1": fleet(M1=FITS, M2=BROKEN)}).status == "not compared"


def test_the_runner_records_what_kind_of_refusal_a_run_met() -> None:
    def refuses(error: Exception):  # type: ignore[no-untyped-def]
        def simulator(*args: object, **kwargs: object) -> object:
            raise error
        return simulator

    short = run_task(task("m3_gpu"), refuses(PlacementError("short by 1 GB")))
    assert short.error == "short by 1 GB" and short.error_kind == "PlacementError"
    bad = run_task(task("m3_gpu"), refuses(SpecError("job", "batch_size", -1, "> 0")))
    assert bad.error_kind == "SpecError"


def test_figure_1_rows_carry_the_kind_of_refusal() -> None:
    from dlrmsim.reproduce.exp_fleet import model_rows, plan_figure_1
    from dlrmsim.reproduce.types import Outcome, Settings

    settings = Settings(quick=True, iterations=4, fig5_runs=2, fig9_jobs=2)
    outcomes = {t: Outcome(error="short", error_kind="PlacementError")
                if t.kwargs().get("placement") == "gpu" else Outcome(throughput=1.0)
                for t in plan_figure_1(settings, ("M3",))}
    rows = model_rows("M3", outcomes, settings)
    gpu = [r for r in rows if r["placement"] == "gpu"]
    assert gpu and all(r["error_kind"] == "PlacementError" for r in gpu)
    assert all(r["error_kind"] == "" for r in rows if r["placement"] != "gpu")


# -- Figure 14: "fastest" needs something to be faster than ------------------------------------


def placements(platform: str, values: dict[str, float | None]) -> list[Row]:
    return [{"platform": platform, "placement": p, "throughput": float("nan") if v is None else v,
             "error": "refused" if v is None else ""} for p, v in values.items()]


def test_fastest_placement_is_not_decided_when_only_that_placement_ran() -> None:
    # Every other placement of M2 on Zion failed: "system is the fastest" compared nothing, and
    # passed.
    alone = placements("zion", {"gpu": None, "system": 8.0, "remote": None, "hybrid": None})
    alone += placements("big_basin", {"gpu": 10.0, "system": 3.0, "remote": 1.0, "hybrid": 9.0})
    result = verdict("VI.2", {"fig14": alone})
    assert result.status == "not compared"
    two = placements("zion", {"gpu": 6.0, "system": 8.0, "remote": None, "hybrid": None})
    assert verdict("VI.2", {"fig14": two}).status == "pass"
    assert verdict("VI.1", {"fig14": alone}).status == "pass"


# -- the output folder --------------------------------------------------------------------------


def test_out_never_replaces_a_folder_of_other_files(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # `--out ~/thesis` moved the folder aside and deleted it once the report was written.
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "thesis.tex").write_text("two years of work")
    code = main(["reproduce", "--quick", "--only", "fig9", "--out", str(mine)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert str(mine) in err and "thesis.tex" in err
    assert (mine / "thesis.tex").read_text() == "two years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis"], "no temporary left behind"


def test_out_still_replaces_an_earlier_report_and_fills_an_empty_folder(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["reproduce", "--quick", "--only", "fig9", "--out", str(empty)]) == 0
    (empty / "figures" / "stale.png").write_bytes(b"old")
    assert main(["reproduce", "--quick", "--only", "fig9", "--out", str(empty)]) == 0
    assert (empty / "report.md").is_file() and not (empty / "figures" / "stale.png").exists()


def test_out_refuses_the_folder_it_is_run_from(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # Replacing the working folder (or one holding it) leaves the shell in a deleted folder.
    report = tmp_path / "report"
    report.mkdir()
    monkeypatch.chdir(report)
    with pytest.raises(ReproduceError, match="current folder"), outdir.building("."):
        pass
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ReproduceError, match="current folder"), outdir.building(tmp_path.parent):
        pass


def test_the_report_folder_gets_normal_permissions(tmp_path: Path) -> None:
    # mkdtemp makes its folder 0700, and that mode stayed on the report folder.
    umask = os.umask(0o022)
    try:
        with outdir.building(tmp_path / "out") as work:
            (work / "report.md").write_text("x")
            (work / "claims.json").write_text("[]")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755


def test_files_put_into_the_folder_while_it_ran_are_not_deleted(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with pytest.raises(ReproduceError, match=r"notes\.txt"), outdir.building(target) as work:
        target.mkdir()
        (target / "notes.txt").write_text("mine")
        (work / "report.md").write_text("x")
    assert (target / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# -- an interrupted run with --jobs N -----------------------------------------------------------


def _slow_simulation(job: str, *, marker: str) -> object:
    """Stands in for sim.run.simulate in a worker process: leaves a file saying it started."""
    import time
    from types import SimpleNamespace

    (Path(marker) / job).touch()
    time.sleep(0.2)
    return SimpleNamespace(throughput_examples_per_s=1.0, examples_per_joule=1.0, power_w=1.0,
                           throughput_rse=0.0,
                           bottleneck="", utilization={}, resource_utilization={},
                           phase_time_s={}, notes=())


def test_an_interrupt_with_several_jobs_does_not_run_the_rest_of_the_queue(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Ctrl-C or SIGTERM reaching the parent left the process pool's `with` block, whose
    # shutdown(wait=True) went on to run every queued simulation (15 s for --only fig1,fig10).
    from dlrmsim.reproduce import runner

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "_tick", interrupted)
    tasks = [task(f"job{i:02d}", marker=str(tmp_path)) for i in range(24)]
    with pytest.raises(KeyboardInterrupt):
        runner.run_all(tasks, jobs=2, progress=False, simulator=_slow_simulation)
    started = len(list(tmp_path.iterdir()))
    assert started <= 8, f"{started} of 24 simulations started after the interrupt"


# -- presets against DESIGN.md's Presets section (coverage; these held before the audit) --------


def test_big_basin_is_table_i_with_the_dgx1_hybrid_cube_mesh() -> None:
    from sim.presets import load_platform

    bb = load_platform("big_basin")
    assert len(bb.sockets) == 2 and all(s.cores == 20 for s in bb.sockets)
    assert sum(s.mem_capacity_bytes for s in bb.sockets) == 256e9
    assert sum(n.link.bw_bytes_per_s for n in bb.nics) == 100e9 / 8  # 100 Gbps, in bytes/s
    # NVLink lanes between V100s of the DGX-1 (V100) hybrid cube mesh, as `nvidia-smi topo -m`
    # prints it (NV1 / NV2); GPUs 0-3 and 4-7 form the two quads.
    dgx1 = [[0, 1, 1, 2, 2, 0, 0, 0], [1, 0, 2, 1, 0, 2, 0, 0], [1, 2, 0, 2, 0, 0, 1, 0],
            [2, 1, 2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 1, 1, 2], [0, 2, 0, 0, 1, 0, 2, 1],
            [0, 0, 1, 0, 1, 2, 0, 2], [0, 0, 0, 1, 2, 1, 2, 0]]
    assert [list(row) for row in bb.nvlink_links] == dgx1


def test_the_test_suite_presets_are_section_v() -> None:
    from sim.presets import load_job, load_model

    model = load_model("test_suite")
    assert {t.rows for t in model.tables} == {100_000}
    assert {t.pooling.max_lookups for t in model.tables} == {32}
    assert model.bottom_mlp == model.top_mlp == (512, 512, 512)
    cpu, gpu = load_job("test_suite_cpu"), load_job("test_suite_gpu")
    assert (cpu.trainers, cpu.sparse_ps, cpu.dense_ps, cpu.batch_size) == (1, 1, 1, 200)
    assert cpu.trainer_platform == cpu.ps_platform == "dual_socket_cpu"
    assert cpu.placement.kind == "remote"
    assert (gpu.trainer_platform, gpu.trainers, gpu.batch_size) == ("big_basin", 1, 1600)
    assert gpu.placement.kind == "gpu" and gpu.sparse_ps == gpu.dense_ps == 0


def test_the_sweeps_span_section_v_and_hold_the_rest_at_the_centre() -> None:
    from dlrmsim.reproduce.sweeps import DENSE, HASH, MLP, SPARSE, suite_model

    assert (DENSE.full[0], DENSE.full[-1], DENSE.quick[0], DENSE.quick[-1]) == (64, 4096) * 2
    assert (SPARSE.full[0], SPARSE.full[-1], SPARSE.quick[0], SPARSE.quick[-1]) == (4, 128) * 2
    assert HASH.full[0] == HASH.quick[0] == 100_000
    assert 256 in MLP.quick and 256 in MLP.full
    dense = suite_model("dense_features", 4096)
    assert dense.dense_features == 4096 and dense.num_tables == 32
    assert dense.bottom_mlp == (512, 512, 512) and {t.rows for t in dense.tables} == {100_000}
    sparse = suite_model("sparse_features", 128)
    assert sparse.num_tables == 128 and sparse.dense_features == 512
    rows = suite_model("hash_size", 25_000_000)
    assert {t.rows for t in rows.tables} == {25_000_000} and rows.num_tables == 32
    mlp = suite_model("mlp_width", 64)
    assert mlp.bottom_mlp == mlp.top_mlp == (64, 64, 64) and mlp.dense_features == 512


# -- Figure 9's sampler draws from a stream of its own ------------------------------------------


def test_figure_9_and_figure_5_never_share_a_random_stream(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # jobmix seeded default_rng([seed, 9]), the very stream of Figure 5's run 9
    # (noise.draw_run seeds default_rng([seed, index])), though its comment said "a stream of
    # its own": the month's model picks were the draws that chose run 9's configuration.
    import numpy as np

    from dlrmsim.reproduce import jobmix, noise

    seeds: dict[str, list[tuple[int, ...]]] = {"fig5": [], "fig9": []}
    real = np.random.default_rng

    def recording(which: str):  # type: ignore[no-untyped-def]
        def rng(seed: object) -> np.random.Generator:
            state = np.random.SeedSequence(seed).generate_state(4)  # type: ignore[arg-type]
            seeds[which].append(tuple(int(x) for x in state))
            return real(seed)  # type: ignore[arg-type]
        return rng

    for seed in (0, 1, 7):
        monkeypatch.setattr(noise.np.random, "default_rng", recording("fig5"))
        noise.draw_runs(80, seed)
        monkeypatch.setattr(jobmix.np.random, "default_rng", recording("fig9"))
        jobmix.sample_month(10, seed)
    assert len(seeds["fig5"]) == 240 and len(seeds["fig9"]) == 3
    assert not set(seeds["fig5"]) & set(seeds["fig9"])

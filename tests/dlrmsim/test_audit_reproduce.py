"""Audit of `dlrmsim reproduce` (session 9): claims that could pass or go uncompared for the
wrong reason, and an output folder that could swallow a user's files. Each test failed before
its fix."""

from __future__ import annotations

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
    # "not compared" (pick() treats any failed run as missing data).
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

"""Claim checks of `dlrmsim reproduce` on synthetic result rows: each claim passes on rows that
show the paper's behaviour, fails on rows that do not, and is "not compared" when data or the
paper's value is missing."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from dlrmsim.reproduce import claims, paper
from dlrmsim.reproduce.catalog_fleet import all_claims
from dlrmsim.reproduce.claims import evaluate, falls, knee
from dlrmsim.reproduce.registry import Registry
from dlrmsim.reproduce.types import Row, Rows, Verdict


def by_id(cid: str):  # type: ignore[no-untyped-def]
    return next(c for c in all_claims() if c.id == cid)


def verdict(cid: str, rows: Rows) -> Verdict:
    return evaluate([by_id(cid)], rows)[0].verdict


def sweep(name: str, values: Sequence[int], setups: dict[str, Sequence[float]],
          joules: dict[str, Sequence[float]] | None = None) -> list[Row]:
    rows = []
    for setup, throughputs in setups.items():
        eff = (joules or {}).get(setup, throughputs)
        rows += [{"sweep": name, "value": v, "setup": setup, "throughput": t,
                  "examples_per_joule": e, "error": ""}
                 for v, t, e in zip(values, throughputs, eff, strict=True)]
    return rows


def test_falls_allows_small_noise_but_needs_a_real_fall() -> None:
    assert falls([100, 101, 80])
    assert not falls([100, 110, 80])  # a 10% rise is not noise
    assert not falls([100, 99, 95])  # less than 10% overall


def test_knee_is_the_smallest_value_near_the_best() -> None:
    assert knee([(64, 10), (128, 95), (256, 100)]) == 128


def test_features_fall_passes_and_fails() -> None:
    falling = {"cpu": [30, 20, 10], "gpu": [300, 200, 100]}
    rows = sweep("dense_features", [64, 512, 4096], falling)
    rows += sweep("sparse_features", [4, 32, 128], falling)
    assert verdict("V-A.1", {"fig10": rows}).status == "pass"
    rising = sweep("dense_features", [64, 512, 4096], {"cpu": [10, 20, 30], "gpu": [3, 2, 1]})
    rising += sweep("sparse_features", [4, 32, 128], falling)
    assert verdict("V-A.1", {"fig10": rising}).status == "fail"


def test_gpu_not_always_efficient_is_decided_by_examples_per_joule() -> None:
    values = [64, 512, 4096]
    speeds = {"cpu": [1, 1, 1], "gpu": [5, 5, 5]}
    worse = sweep("dense_features", values, speeds, {"cpu": [1, 1, 1], "gpu": [2, 0.5, 2]})
    worse += sweep("sparse_features", [4, 32, 128], speeds)
    assert verdict("V-A.3", {"fig10": worse}).status == "pass"
    assert verdict("V-A.2", {"fig10": worse}).status == "pass"
    better = sweep("dense_features", values, speeds, {"cpu": [1, 1, 1], "gpu": [2, 2, 2]})
    better += sweep("sparse_features", [4, 32, 128], speeds)
    assert verdict("V-A.3", {"fig10": better}).status == "fail"


def test_batch_claims() -> None:
    batches = [64, 128, 1024, 8192, 16384]
    rows = sweep("batch_size", batches, {"gpu": [1, 2, 10, 40, 42], "cpu": [5, 9, 10, 10, 10]})
    assert verdict("V-B.1", {"fig11": rows}).status == "pass"
    assert verdict("V-B.2", {"fig11": rows}).status == "pass"
    flat = sweep("batch_size", batches, {"gpu": [1, 1.2, 10, 40, 80], "cpu": [1, 2, 4, 8, 16]})
    assert verdict("V-B.1", {"fig11": flat}).status == "fail"
    assert verdict("V-B.2", {"fig11": flat}).status == "fail"


def test_mlp_claim_needs_width_256() -> None:
    rows = sweep("mlp_width", [64, 512], {"cpu": [1, 1], "gpu": [1, 1]})
    result = verdict("V-D.1", {"fig13": rows})
    assert result.status == "not compared" and "256" in result.detail


def placement_rows(bb: dict[str, float], zion: dict[str, float]) -> list[Row]:
    return [{"platform": platform, "placement": p, "throughput": v, "error": ""}
            for platform, values in (("big_basin", bb), ("zion", zion)) for p, v in values.items()]


def test_placement_claims_pass_and_fail() -> None:
    good = placement_rows({"gpu": 10, "system": 3, "remote": 1, "hybrid": 9},
                          {"gpu": 6, "system": 8, "remote": 1, "hybrid": 7})
    for cid in ("VI.1", "VI.2", "VI.3", "VI.4", "VI.5"):
        assert verdict(cid, {"fig14": good}).status == "pass", cid
    bad = placement_rows({"gpu": 10, "system": 6, "remote": 11, "hybrid": 9},
                         {"gpu": 12, "system": 8, "remote": 1, "hybrid": 7})
    for cid in ("VI.1", "VI.2", "VI.3", "VI.4", "VI.5"):
        assert verdict(cid, {"fig14": bad}).status == "fail", cid


def test_a_failed_run_is_not_compared_never_passed() -> None:
    rows = placement_rows({"gpu": 10, "system": 3}, {"gpu": 6, "system": 8})
    rows = [{**r, "error": "does not fit"} if r["platform"] == "zion" else r for r in rows]
    assert verdict("VI.2", {"fig14": rows}).status == "not compared"
    assert verdict("VI.1", {}).status == "not compared"


def test_table_iii_compares_only_quoted_values(monkeypatch: pytest.MonkeyPatch) -> None:
    row = {"model": "M1", "relative_throughput": 3.0, "relative_efficiency_all_servers": 5.0,
           "power_ratio": 7.3}
    assert verdict("T3.1", {"table3": [row]}).status == "not compared"
    result = claims.compare_to_paper(3.0, 2.5, paper.TABLE_III_TOLERANCE, "x")
    assert result.status == "pass" and "+20%" in result.detail
    assert claims.compare_to_paper(3.0, 2.0, paper.TABLE_III_TOLERANCE, "x").status == "fail"
    assert verdict("T3.0", {"table3": [row]}).status == "pass"
    assert verdict("T3.0", {"table3": [{**row, "power_ratio": 6.0}]}).status == "fail"


def test_model_claims_fail_on_wrong_tables() -> None:
    tables = [{"model": m, "rows": 1000, "mean_lookups": 5.0} for m in ("M1", "M2", "M3")]
    assert verdict("IV.1", {"fig6_7": tables}).status == "fail"
    assert verdict("IV.2", {"fig6_7": tables}).status == "fail"


def test_every_claim_names_an_experiment_of_the_registry_and_ids_are_unique() -> None:
    from dlrmsim.reproduce.registry import default_registry

    ids = set(default_registry().ids())
    every = all_claims()
    assert {c.experiment for c in every} <= ids
    assert len({c.id for c in every}) == len(every)


def test_registry_refuses_a_duplicate_id() -> None:
    from dlrmsim.reproduce.exp_fleet import FIGURE_1

    with pytest.raises(ValueError, match="twice"):
        Registry([FIGURE_1, FIGURE_1])


def test_the_report_points_failed_claims_to_their_write_up() -> None:
    from dlrmsim.reproduce.report import _why_failures
    from dlrmsim.reproduce.types import ClaimResult

    claim = all_claims()[0]
    failed = ClaimResult(claim, Verdict("fail", "x"))
    passed = ClaimResult(claim, Verdict("pass", "x"))
    assert "docs/paper_findings.md" in _why_failures([passed, failed])
    assert claim.id in _why_failures([failed])
    assert _why_failures([passed]) == ""


def test_setups_swept_at_different_points_are_not_compared() -> None:
    # The CPU and Big Basin series are compared point by point. Series of unequal length raised
    # ValueError from zip(strict=True), and a GPU series without the widest MLP a KeyError:
    # either ended the report instead of reading "not compared".
    dense = sweep("dense_features", [64, 512], {"cpu": [1, 1]})
    dense += sweep("dense_features", [64, 512, 4096], {"gpu": [5, 5, 5]})
    rows = dense + sweep("sparse_features", [4, 32], {"cpu": [1, 1], "gpu": [5, 5]})
    for cid in ("V-A.2", "V-A.3", "V-A.4"):
        result = verdict(cid, {"fig10": rows})
        assert result.status == "not compared" and "4096" in result.detail, cid
    mlp = sweep("mlp_width", [64, 256, 4096], {"cpu": [3, 3, 1]})
    mlp += sweep("mlp_width", [64, 256], {"gpu": [3, 3]})
    result = verdict("V-D.3", {"fig13": mlp})
    assert result.status == "not compared" and "4096" in result.detail


def test_batch_saturation_needs_three_batch_sizes() -> None:
    # With two points the first doubling is the last one too; with one it raised IndexError.
    for batches, gpu in (([1024], [10]), ([1024, 2048], [10, 19])):
        rows = sweep("batch_size", batches, {"gpu": gpu, "cpu": gpu})
        assert verdict("V-B.1", {"fig11": rows}).status == "not compared"

"""working_set_ratios: a pair whose cold or usual timing was noisy is no point of the curve."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from calibrate.sweep import SweepResult
from calibrate.types import Measurement
from calibrate.working_set import working_set_ratios

FLUSH_BYTES = 4 * 2**20
DIM = 64
FP32 = 4


def _pair(rows: int, cold_s: float, usual_s: float, *, cold_noisy: bool = False,
          usual_noisy: bool = False) -> Measurement:
    return Measurement(op="embedding_forward_cold", backend="torch",
                       params={"rows": float(rows), "dim": float(DIM)}, samples_s=(cold_s,),
                       median_s=cold_s, spread=0.0, flagged=cold_noisy, held_out=False,
                       extra={"paired_median_s": usual_s, "paired_flagged": usual_noisy})


def _ratios(measurements: list[Measurement]) -> dict[str, object]:
    spec = SimpleNamespace(name="embedding_forward_cold", ratio_of="embedding_forward")
    results = {spec.name: SweepResult(measurements=measurements)}
    return working_set_ratios([spec], results, FLUSH_BYTES)  # type: ignore[arg-type]


def test_a_pair_with_a_noisy_side_is_excluded_with_its_reason() -> None:
    curve = _ratios([_pair(1_000, 2e-3, 1e-3),
                     _pair(10_000, 6e-3, 1e-3, cold_noisy=True),
                     _pair(100_000, 3e-3, 1e-3, usual_noisy=True),
                     _pair(1_000_000, 9e-3, 1e-3, cold_noisy=True, usual_noisy=True),
                     _pair(300_000, 1.5e-3, 1e-3)])["embedding_forward"]
    assert [p["table_bytes"] for p in curve["points"]] == [1_000 * DIM * FP32,
                                                           300_000 * DIM * FP32]
    assert [p["ratio"] for p in curve["points"]] == pytest.approx([2.0, 1.5])
    excluded = {p["table_bytes"] // (DIM * FP32): p for p in curve["excluded"]}
    assert sorted(excluded) == [10_000, 100_000, 1_000_000]
    assert excluded[10_000]["reason"].startswith("cold ")
    assert excluded[100_000]["reason"].startswith("usual ")
    assert "cold and usual" in excluded[1_000_000]["reason"]
    assert excluded[10_000]["ratio"] == pytest.approx(6.0)


def test_an_op_whose_every_pair_was_noisy_keeps_its_exclusions_and_no_points() -> None:
    curve = _ratios([_pair(1_000, 6e-3, 1e-3, cold_noisy=True)])["embedding_forward"]
    assert curve["points"] == [] and len(curve["excluded"]) == 1


def test_pairs_without_a_usual_timing_are_not_ratios() -> None:
    missing = _pair(1_000, 2e-3, 1e-3)
    missing = Measurement(**{**missing.__dict__, "extra": {}})
    assert _ratios([missing]) == {}

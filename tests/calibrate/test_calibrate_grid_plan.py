"""Experimental design and budget planning: deterministic, covering, within limits."""

from __future__ import annotations

import pytest

from calibrate.grid import Axis, Design, build_grid
from calibrate.opspec import OpSpec, Registry
from calibrate.plan import MIN_HELD_OUT, Limits, plan_op
from calibrate.types import GridPoint

AXES = (Axis("rows", 1e3, 1e7), Axis("dim", 16, 256, choices=(16.0, 64.0, 256.0)),
        Axis("batch", 64, 65536))
CENTRE = {"rows": 1e5, "dim": 64.0, "batch": 1024.0}


def design(lhs: int = 20, sweep: int = 5, centres=(CENTRE,)) -> Design:
    return Design(AXES, tuple(centres), sweep, lhs, held_out_fraction=0.25)


def test_same_seed_same_grid_other_seed_other_grid():
    assert build_grid(design(), 7) == build_grid(design(), 7)
    assert build_grid(design(), 7) != build_grid(design(), 8)


def test_grid_has_centre_sweeps_and_lhs_without_duplicates():
    points = build_grid(design(), 1)
    roles = [p.role for p in points]
    assert roles[0] == "centre" and dict(points[0].params) == CENTRE
    sweep_rows = sorted(p.params["rows"] for p in points
                        if p.role == "sweep" and p.params["dim"] == 64 and p.params["batch"] == 1024)
    assert sweep_rows[0] == 1e3 and sweep_rows[-1] == 1e7
    assert roles.count("lhs") == 20
    keys = [tuple(sorted(p.params.items())) for p in points]
    assert len(keys) == len(set(keys))


def test_latin_hypercube_covers_every_stratum_of_each_axis():
    points = [p for p in build_grid(design(lhs=10, sweep=1), 3) if p.role == "lhs"]
    import math
    strata = sorted(int(10 * math.log(p.params["batch"] / 64) / math.log(65536 / 64) - 1e-9)
                    for p in points)
    assert strata == list(range(10))
    assert all(1e3 <= p.params["rows"] <= 1e7 for p in points)
    assert {p.params["dim"] for p in points} <= {16.0, 64.0, 256.0}


def test_held_out_points_are_lhs_only_and_a_fraction():
    points = build_grid(design(lhs=20), 5)
    held = [p for p in points if p.held_out]
    assert len(held) == 5
    assert all(p.role == "lhs" for p in held)


def test_design_rejects_centre_missing_an_axis():
    with pytest.raises(ValueError, match="centre"):
        Design(AXES, ({"rows": 1.0},), 3, 3)


def _spec(estimate=lambda p: 1e-3, memory=lambda p: 0.0, **kw) -> OpSpec:
    return OpSpec(name="op", backend="torch", params=("rows", "dim", "batch"), design=design(),
                  terms=({}, {"batch": 1}), estimate_s=estimate, memory_bytes=memory,
                  shrink_for_memory=("rows",), shrink_for_time=("batch",),
                  make=lambda p, s: None, **kw)


def limits(**kw) -> Limits:
    base = dict(memory_cap_bytes=1e9, max_call_s=1.0, budget_s=1e6, samples_per_point=10,
                min_sample_s=0.0, max_inner=1)
    return Limits(**{**base, **kw})


def test_memory_cap_shrinks_rows_and_records_it():
    spec = _spec(memory=lambda p: p["rows"] * p["dim"] * 4)
    grid = [GridPoint({"rows": 1e7, "dim": 256.0, "batch": 64.0}, "sweep")]
    plan = plan_op(spec, grid, limits(memory_cap_bytes=1e8))
    (point,) = plan.points
    assert point.point.params["rows"] * 256 * 4 <= 1e8
    assert "memory cap" in point.notes[0]


def test_time_cap_shrinks_batch_or_skips():
    spec = _spec(estimate=lambda p: p["batch"] * 1e-5)
    grid = [GridPoint({"rows": 1e3, "dim": 16.0, "batch": 65536.0}, "lhs")]
    plan = plan_op(spec, grid, limits(max_call_s=0.1))
    assert plan.points[0].point.params["batch"] * 1e-5 <= 0.1
    plan = plan_op(spec, grid, limits(max_call_s=1e-4))  # even batch 64 is too slow
    assert not plan.points and plan.skipped[0]["reason"] == "time per call"


def test_budget_drops_expensive_points_but_keeps_centres_and_held_out():
    spec = _spec(estimate=lambda p: p["batch"] * 1e-7)
    grid = build_grid(design(lhs=12), 2)
    full = plan_op(spec, grid, limits())
    tight = plan_op(spec, grid, limits(budget_s=full.est_total_s / 10))
    kept_roles = [p.point.role for p in tight.points]
    assert "centre" in kept_roles
    assert sum(p.point.held_out for p in tight.points) >= MIN_HELD_OUT
    assert len(tight.points) + len(tight.skipped) == len(full.points)
    assert {s["reason"] for s in tight.skipped} == {"op time budget"}
    assert plan_op(spec, grid, limits(budget_s=full.est_total_s / 10)) == tight


def test_opspec_rejects_unknown_term_parameter_and_registry_duplicates():
    with pytest.raises(ValueError, match="unknown parameters"):
        _spec(split_params=("zipf_s",))
    registry = Registry()
    registry.add(_spec())
    with pytest.raises(ValueError, match="already registered"):
        registry.add(_spec())

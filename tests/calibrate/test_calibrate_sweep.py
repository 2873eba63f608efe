"""Sweep logic with fake kernels and a virtual clock: order, deadline, out-of-memory."""

from __future__ import annotations

import pytest

from calibrate.clock import VirtualClock
from calibrate.grid import Axis, Design
from calibrate.opspec import OpSpec
from calibrate.plan import Plan, PlannedPoint
from calibrate.sweep import run_sweep
from calibrate.types import GridPoint, TimingPolicy

POLICY = TimingPolicy(warmup_samples=1, repeats=3, retries=0, min_sample_s=0.0)


class LinearKernel:
    """Takes 1 us + 1 ns per byte on the virtual clock."""

    def __init__(self, params, clock: VirtualClock, fail: Exception | None = None) -> None:
        if fail:
            raise fail
        self.nbytes, self.clock = params["bytes"], clock

    def prepare(self, slots: int) -> None:
        pass

    def run(self, slot: int) -> None:
        self.clock.advance(1e-6 + 1e-9 * self.nbytes)

    def close(self) -> None:
        pass


def spec_and_plan(clock: VirtualClock, sizes, fail=None):
    design = Design((Axis("bytes", 1, 1e9),), ({"bytes": 1.0},), 1, 0)
    spec = OpSpec(name="host_copy", backend="torch", params=("bytes",), design=design,
                  terms=({}, {"bytes": 1}), estimate_s=lambda p: 0.0, memory_bytes=lambda p: 0.0,
                  make=lambda p, seed: LinearKernel(p, clock, fail))
    points = tuple(PlannedPoint(GridPoint({"bytes": float(b)}, "sweep", held_out=i == 1), 0.0)
                   for i, b in enumerate(sizes))
    return spec, Plan("host_copy", points, ())


def test_sweep_measures_every_point_with_exact_fake_times():
    clock = VirtualClock()
    spec, plan = spec_and_plan(clock, [1000, 10**6, 10**8])
    progress: list[str] = []
    result = run_sweep(spec, plan, clock, POLICY, seed=0, deadline_s=1e9,
                       progress=progress.append, now=lambda: clock.now_s)
    assert [m.median_s for m in result.measurements] == pytest.approx([2e-6, 1.001e-3, 0.100001])
    assert [m.held_out for m in result.measurements] == [False, True, False]
    assert all(m.spread < 1e-9 and not m.flagged for m in result.measurements)
    assert progress == ["host_copy"] * 3
    assert result.measurements[0].to_json()["samples_s"] == pytest.approx([2e-6] * 3)


def test_points_past_the_deadline_are_skipped_and_recorded():
    clock = VirtualClock()
    spec, plan = spec_and_plan(clock, [10**8, 10**8, 10**8])
    result = run_sweep(spec, plan, clock, POLICY, seed=0, deadline_s=0.3,
                       now=lambda: clock.now_s)
    # The first point alone uses 0.5 virtual seconds; the held-out second one is still measured
    # (the op needs one to report its error), the third is skipped.
    assert [m.held_out for m in result.measurements] == [False, True]
    assert [s["reason"] for s in result.skipped] == ["deadline"]


def test_an_op_past_its_deadline_from_the_start_still_gets_one_point_of_each_kind():
    clock = VirtualClock()
    spec, plan = spec_and_plan(clock, [10, 20, 30, 40])
    result = run_sweep(spec, plan, clock, POLICY, seed=0, deadline_s=-1.0,
                       now=lambda: clock.now_s)
    assert [m.params["bytes"] for m in result.measurements] == [10, 20]
    assert [m.held_out for m in result.measurements] == [False, True]
    assert len(result.skipped) == 2


def test_out_of_memory_skips_the_point_other_errors_propagate():
    clock = VirtualClock()
    spec, plan = spec_and_plan(clock, [10], fail=RuntimeError("CUDA out of memory. Tried"))
    result = run_sweep(spec, plan, clock, POLICY, seed=0, deadline_s=1e9, now=lambda: 0.0)
    assert result.skipped == [{"params": {"bytes": 10.0}, "reason": "out of memory"}]
    spec, plan = spec_and_plan(clock, [10], fail=RuntimeError("a real bug"))
    with pytest.raises(RuntimeError, match="real bug"):
        run_sweep(spec, plan, clock, POLICY, seed=0, deadline_s=1e9, now=lambda: 0.0)


class ObservingKernel(LinearKernel):
    """A fake kernel that also reports what its inputs turned out to have."""

    def observed_params(self) -> dict[str, float]:
        return {"unique_rows": 7.0}


def test_observed_params_are_recorded_beside_the_planned_ones():
    clock = VirtualClock()
    spec, plan = spec_and_plan(clock, [1000])
    observing = OpSpec(name=spec.name, backend=spec.backend, params=("bytes", "unique_rows"),
                       design=spec.design, terms=spec.terms, estimate_s=spec.estimate_s,
                       memory_bytes=spec.memory_bytes,
                       make=lambda p, seed: ObservingKernel(p, clock))
    result = run_sweep(observing, plan, clock, POLICY, seed=0, deadline_s=1e9,
                       now=lambda: clock.now_s)
    assert result.measurements[0].params == {"bytes": 1000.0, "unique_rows": 7.0}


def test_an_op_deadline_is_its_estimate_times_the_factor_stretched_by_a_larger_budget():
    from calibrate.runner import DEADLINE_FACTOR, op_deadline

    # 40 s estimated from t = 100 s: 2.5 x 40 = 100 s later at scale 1, 200 s later at scale 2.
    assert op_deadline(100.0, 40.0, 1.0, 1e9) == pytest.approx(100.0 + DEADLINE_FACTOR * 40.0)
    assert op_deadline(100.0, 40.0, 2.0, 1e9) == pytest.approx(100.0 + 2 * DEADLINE_FACTOR * 40.0)
    # A smaller budget already trimmed the plan; the deadline is not shortened again.
    assert op_deadline(100.0, 40.0, 0.5, 1e9) == op_deadline(100.0, 40.0, 1.0, 1e9)
    # An estimate under a second counts as one; the run's total deadline caps them all.
    assert op_deadline(0.0, 0.01, 1.0, 1e9) == pytest.approx(DEADLINE_FACTOR)
    assert op_deadline(100.0, 40.0, 2.0, 150.0) == 150.0

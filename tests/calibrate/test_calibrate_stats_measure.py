"""Statistics and the timing loop, checked with scripted (fake) clocks."""

from __future__ import annotations

import pytest

from calibrate.clock import ScriptedClock, VirtualClock
from calibrate.measure import choose_inner, time_kernel
from calibrate.stats import Summary
from calibrate.types import TimingPolicy


class CountingKernel:
    """A fake kernel that records what the timing loop asked of it."""

    def __init__(self, clock: VirtualClock | None = None, call_s: float = 0.0) -> None:
        self.prepared: list[int] = []
        self.runs: list[int] = []
        self.clock, self.call_s = clock, call_s

    def prepare(self, slots: int) -> None:
        self.prepared.append(slots)

    def run(self, slot: int) -> None:
        self.runs.append(slot)
        if self.clock:
            self.clock.advance(self.call_s)

    def close(self) -> None:
        pass


def test_summary_median_and_relative_iqr():
    summary = Summary.of([1.0, 2.0, 3.0, 4.0, 5.0])
    assert summary.median_s == 3.0
    assert summary.spread == pytest.approx((4.0 - 2.0) / 3.0)


def test_summary_ignores_one_outlier_in_spread():
    summary = Summary.of([1.0] * 8 + [100.0])
    assert summary.median_s == 1.0
    assert summary.spread == 0.0


@pytest.mark.parametrize("bad", [[], [1.0, -1.0], [float("nan")]])
def test_summary_rejects_bad_samples(bad):
    with pytest.raises(ValueError):
        Summary.of(bad)


def test_policy_rejects_bad_values():
    with pytest.raises(ValueError, match="repeats"):
        TimingPolicy(repeats=0)
    with pytest.raises(ValueError):
        TimingPolicy(max_spread=0)


def test_choose_inner_reaches_min_sample_time():
    policy = TimingPolicy(min_sample_s=0.01, max_inner=64)
    assert choose_inner(0.001, policy) == 10
    assert choose_inner(1.0, policy) == 1
    assert choose_inner(1e-9, policy) == 64
    assert choose_inner(0.0, policy) == 64


def test_warmup_discarded_and_fresh_inputs_for_every_sample():
    policy = TimingPolicy(warmup_samples=2, repeats=3, min_sample_s=0.0, retries=0)
    clock = ScriptedClock([9.0, 8.0, 7.0, 1.0, 1.01, 0.99])  # first call, 2 warm-up, 3 kept
    kernel = CountingKernel()
    samples, summary, flagged, attempts, inner = time_kernel(kernel, clock, policy)
    assert samples == [1.0, 1.01, 0.99]
    assert summary.median_s == 1.0
    assert (flagged, attempts, inner) == (False, 1, 1)
    assert kernel.prepared == [1] * 6  # one fresh input set per timed region


def test_samples_are_per_call_when_several_calls_per_sample():
    policy = TimingPolicy(warmup_samples=0, repeats=2, min_sample_s=0.004, retries=0)
    vclock = VirtualClock()
    kernel = CountingKernel(vclock, call_s=0.001)
    samples, _, _, _, inner = time_kernel(kernel, vclock, policy)
    assert inner == 4
    assert samples == pytest.approx([0.001, 0.001])
    assert kernel.prepared == [1, 4, 4]
    assert kernel.runs == [0, 0, 1, 2, 3, 0, 1, 2, 3]


def test_noisy_point_is_remeasured_and_best_attempt_kept():
    policy = TimingPolicy(warmup_samples=0, repeats=4, max_spread=0.1, retries=2,
                          min_sample_s=0.0)
    noisy, quiet = [1.0, 2.0, 3.0, 4.0], [1.0, 1.01, 0.99, 1.0]
    clock = ScriptedClock([1.0, *noisy, *quiet])
    samples, summary, flagged, attempts, _ = time_kernel(CountingKernel(), clock, policy)
    assert samples == quiet
    assert not flagged and attempts == 2
    assert summary.spread < 0.1


def test_point_that_stays_noisy_is_flagged_after_retries():
    policy = TimingPolicy(warmup_samples=0, repeats=4, max_spread=0.1, retries=2,
                          min_sample_s=0.0)
    attempts_data = [[1.0, 2.0, 3.0, 4.0], [1.0, 1.5, 2.0, 2.5], [1.0, 3.0, 5.0, 7.0]]
    clock = ScriptedClock([1.0] + [s for a in attempts_data for s in a])
    samples, _, flagged, attempts, _ = time_kernel(CountingKernel(), clock, policy)
    assert flagged and attempts == 3
    assert samples == attempts_data[1]  # the narrowest of the three
    with pytest.raises(IndexError):  # and not one timing more than promised
        clock.time(lambda: None)


def test_virtual_clock_rejects_negative_advance():
    with pytest.raises(ValueError):
        VirtualClock().advance(-1.0)

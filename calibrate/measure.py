"""Time one kernel at one point: first call, warm-up, repeats, and re-measurement when noisy."""

from __future__ import annotations

import math

from calibrate.clock import Clock
from calibrate.stats import Summary
from calibrate.types import Kernel, TimingPolicy


def choose_inner(first_call_s: float, policy: TimingPolicy) -> int:
    """Calls per sample so that one sample lasts at least `policy.min_sample_s`."""
    if first_call_s <= 0:
        return policy.max_inner
    return max(1, min(policy.max_inner, math.ceil(policy.min_sample_s / first_call_s)))


def _sample(kernel: Kernel, clock: Clock, inner: int) -> float:
    """One sample: `inner` calls, each on its own fresh input; seconds per call."""
    kernel.prepare(inner)

    def calls() -> None:
        for slot in range(inner):
            kernel.run(slot)

    return clock.time(calls) / inner


def _attempt(kernel: Kernel, clock: Clock, policy: TimingPolicy, inner: int) -> list[float]:
    for _ in range(policy.warmup_samples):
        _sample(kernel, clock, inner)
    return [_sample(kernel, clock, inner) for _ in range(policy.repeats)]


def time_kernel(
    kernel: Kernel, clock: Clock, policy: TimingPolicy
) -> tuple[list[float], Summary, bool, int, int]:
    """Measure `kernel`: returns (samples_s, summary, flagged, attempts, calls_per_sample).

    A point whose spread exceeds `policy.max_spread` is measured again, up to `policy.retries`
    times; the attempt with the smallest spread is kept, and flagged if even that one is wide.
    """
    kernel.prepare(1)
    first_s = clock.time(lambda: kernel.run(0))
    inner = choose_inner(first_s, policy)
    best_samples = _attempt(kernel, clock, policy, inner)
    best = Summary.of(best_samples)
    attempts = 1
    while best.spread > policy.max_spread and attempts <= policy.retries:
        samples = _attempt(kernel, clock, policy, inner)
        attempts += 1
        summary = Summary.of(samples)
        if summary.spread < best.spread:
            best_samples, best = samples, summary
    return best_samples, best, best.spread > policy.max_spread, attempts, inner

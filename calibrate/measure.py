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


def _attempt(
    kernel: Kernel, clock: Clock, policy: TimingPolicy, inner: int
) -> tuple[list[float], int]:
    """Warm-up samples, then `policy.repeats` kept samples; returns them and their calls per
    sample. Each warm-up sample also sizes the kept ones: a first call pays one-time costs
    (lazy initialisation, first touch of memory, library handles); on the development VM it
    took 5 to 24 times as long as the calls after it (small MLP layers, loss, optimizer step,
    embedding forward, one thread), so calls per sample chosen from it alone left samples far
    shorter than `policy.min_sample_s` (the committed H100 profiles: 280 of 579 points under
    half of it). The fastest call seen decides, since a disturbance only slows a call down."""
    for _ in range(policy.warmup_samples):
        inner = max(inner, choose_inner(_sample(kernel, clock, inner), policy))
    return [_sample(kernel, clock, inner) for _ in range(policy.repeats)], inner


def time_kernel(
    kernel: Kernel, clock: Clock, policy: TimingPolicy
) -> tuple[list[float], Summary, bool, int, int]:
    """Measure `kernel`: returns (samples_s, summary, flagged, attempts, calls_per_sample).

    Calls per sample come from the first call and then from the warm-up samples (see
    `_attempt`). A point whose spread exceeds `policy.max_spread` is measured again, up to
    `policy.retries` times; the attempt with the smallest spread is kept, and flagged if even
    that one is wide.
    """
    kernel.prepare(1)
    first_s = clock.time(lambda: kernel.run(0))
    inner = choose_inner(first_s, policy)
    best_samples, inner = _attempt(kernel, clock, policy, inner)
    best, best_inner = Summary.of(best_samples), inner
    attempts = 1
    while best.spread > policy.max_spread and attempts <= policy.retries:
        samples, inner = _attempt(kernel, clock, policy, inner)
        attempts += 1
        summary = Summary.of(samples)
        if summary.spread < best.spread:
            best_samples, best, best_inner = samples, summary, inner
    return best_samples, best, best.spread > policy.max_spread, attempts, best_inner

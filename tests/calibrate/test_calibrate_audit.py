"""Regression tests for bugs found in an audit of calibrate/ (each failed before its fix)."""

from __future__ import annotations

import pytest

from calibrate.clock import VirtualClock
from calibrate.measure import time_kernel
from calibrate.types import TimingPolicy


class ColdFirstCallKernel:
    """A fake kernel whose first call pays a one-time cost (lazy initialisation, first touch of
    its memory, a library handle), as real torch kernels do, and whose later calls are fast."""

    def __init__(self, clock: VirtualClock, first_s: float, steady_s: float) -> None:
        self.clock, self.first_s, self.steady_s = clock, first_s, steady_s
        self.calls = 0

    def prepare(self, slots: int) -> None:
        pass

    def run(self, slot: int) -> None:
        self.clock.advance(self.first_s if self.calls == 0 else self.steady_s)
        self.calls += 1

    def close(self) -> None:
        pass


def test_calls_per_sample_sized_from_warm_calls_not_the_cold_first_call():
    # TimingPolicy's contract: a sample repeats a fast call until it lasts min_sample_s. A
    # 7.8 ms first call (2**-7 s) followed by 122 us calls (2**-13 s; powers of two keep the
    # sums exact) needs 2**-9 / 2**-13 = 16 calls for a 1.95 ms sample; sizing from the first
    # call alone gave 1, so every kept sample lasted 1/16 of the minimum.
    policy = TimingPolicy(warmup_samples=2, repeats=3, retries=0, min_sample_s=2**-9,
                          max_inner=64)
    clock = VirtualClock()
    kernel = ColdFirstCallKernel(clock, first_s=2**-7, steady_s=2**-13)
    samples, summary, flagged, attempts, inner = time_kernel(kernel, clock, policy)
    assert inner == 16
    assert summary.median_s == pytest.approx(2**-13)
    assert all(s * inner >= policy.min_sample_s for s in samples)
    # the first call, a warm-up sample of 1 call (sized from the first call), a warm-up sample
    # of 16 and the 3 kept samples of 16
    assert kernel.calls == 1 + 1 + 16 + 3 * 16
    assert (flagged, attempts) == (False, 1)


def test_calls_per_sample_without_warm_up_still_come_from_the_first_call():
    policy = TimingPolicy(warmup_samples=0, repeats=2, retries=0, min_sample_s=2e-3)
    clock = VirtualClock()
    kernel = ColdFirstCallKernel(clock, first_s=1e-3, steady_s=1e-3)
    _, _, _, _, inner = time_kernel(kernel, clock, policy)
    assert inner == 2


def test_cuda_run_rotates_through_twice_the_gpu_l2_when_it_exceeds_the_cpu_cache(monkeypatch):
    # The device kernels' buffers and table copies live in GPU memory, behind the GPU's L2
    # (50 MB on an H100, NVIDIA's H100 whitepaper). A flush size taken from the CPU's cache
    # alone (16 MiB here, so 32 MiB) would let a rotation sit in that L2 and flatter the
    # kernels; it must be twice the larger cache: 2 x 50 MiB.
    import types

    import torch

    from calibrate import host, runner

    mib = 2**20
    monkeypatch.setattr(host, "last_level_cache_bytes", lambda: 16 * mib)
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda device=None: types.SimpleNamespace(L2_cache_size=50 * mib))
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (8 * 2**30, 16 * 2**30))
    ctx = runner.make_context(runner.RunOptions(device="cuda", fbgemm=False),
                              torch.device("cuda", 0))
    assert ctx.flush_bytes == 2 * 50 * mib
    cpu = runner.make_context(runner.RunOptions(device="cpu", fbgemm=False), torch.device("cpu"))
    assert cpu.flush_bytes == 2 * 16 * mib  # a CPU run is unchanged

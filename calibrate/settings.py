"""Per-device planning priors and per-mode settings (how many points, how long).

The priors are rough a-priori rates used only to plan which points fit the budget; measured
values never depend on them. Sources: CPU figures are orders of magnitude for one or two cores
of a 2020s x86 server (PyTorch per-op dispatch overhead of about 10 to 20 microseconds, a few
GB/s of random-row gather bandwidth, tens of GFLOP/s fp32), checked against a first run on the
2-core development VM; GPU figures are fractions of an A100/H100 datasheet (HBM about 2e12 B/s,
fp32 about 2e13 FLOP/s, PCIe 4 x16 about 2.5e10 B/s).
"""

from __future__ import annotations

from dataclasses import dataclass

from calibrate.types import TimingPolicy


@dataclass(frozen=True)
class PriorRates:
    """A-priori rates for planning (units in the names)."""

    call_overhead_s: float
    gather_bytes_per_s: float
    stream_bytes_per_s: float
    flops_per_s: float
    index_s_per_lookup: float
    init_bytes_per_s: float
    fill_bytes_per_s: float
    pcie_bytes_per_s: float
    network_bytes_per_s: float
    process_group_setup_s: float


CPU_PRIORS = PriorRates(
    call_overhead_s=20e-6,
    gather_bytes_per_s=3e9,
    stream_bytes_per_s=6e9,
    flops_per_s=6e10,
    index_s_per_lookup=60e-9,  # measured: searchsorted over a 1e7-row CDF, ~80 ns per draw
    init_bytes_per_s=1e9,  # measured: torch uniform_ on the development VM
    fill_bytes_per_s=4e9,  # measured: torch fill_ on the development VM
    pcie_bytes_per_s=1e10,
    network_bytes_per_s=2e9,  # loopback TCP on the development VM, order of magnitude
    process_group_setup_s=2.0,  # measured: spawn + import torch + gloo rendezvous, per group
)

CUDA_PRIORS = PriorRates(
    call_overhead_s=15e-6,
    gather_bytes_per_s=8e11,
    stream_bytes_per_s=1.5e12,
    flops_per_s=2e13,
    index_s_per_lookup=1e-10,
    init_bytes_per_s=5e11,
    fill_bytes_per_s=1e12,
    pcie_bytes_per_s=2e10,
    network_bytes_per_s=2e9,
    process_group_setup_s=8.0,
)


@dataclass(frozen=True)
class ModeSettings:
    """How a mode samples and times. total_budget_s: estimated seconds of all ops together;
    max_call_s: longest estimated single call allowed (longer points are shrunk)."""

    name: str
    policy: TimingPolicy
    sweep_points: int
    lhs_points: int
    second_centre: bool
    total_budget_s: float
    max_call_s: float

    @property
    def samples_per_point(self) -> int:
        return 1 + self.policy.warmup_samples + self.policy.repeats


# Budgets leave room under the limits (quick < 3 min, full CPU < 20 min, full GPU
# < 5 min) for importing torch, building tables and the a-priori estimates being off.
_SETTINGS = {
    ("cpu", "quick"): ModeSettings(
        "quick", TimingPolicy(warmup_samples=1, repeats=5, max_spread=0.15, retries=1,
                              min_sample_s=0.001), 3, 12, False, 100.0, 0.04),
    ("cpu", "full"): ModeSettings(
        "full", TimingPolicy(warmup_samples=2, repeats=7, max_spread=0.10, retries=2,
                             min_sample_s=0.002), 5, 28, True, 760.0, 0.3),
    ("cuda", "quick"): ModeSettings(
        "quick", TimingPolicy(warmup_samples=2, repeats=7, max_spread=0.10, retries=1,
                              min_sample_s=0.0005), 3, 8, False, 45.0, 0.02),
    ("cuda", "full"): ModeSettings(
        "full", TimingPolicy(warmup_samples=3, repeats=9, max_spread=0.08, retries=2,
                             min_sample_s=0.001), 5, 24, True, 150.0, 0.05),
}


def mode_settings(device_type: str, quick: bool) -> ModeSettings:
    """Settings for `device_type` ("cpu" or "cuda") in quick or full mode."""
    return _SETTINGS[(device_type, "quick" if quick else "full")]


def priors_for(device_type: str) -> PriorRates:
    return CUDA_PRIORS if device_type == "cuda" else CPU_PRIORS

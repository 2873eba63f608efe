"""The power accounting of Table III: relative power efficiency of GPU over CPU from a relative
throughput, the power ratio of one Big Basin to one CPU server, and the server counts.

    efficiency ratio = (T_gpu / P_gpu) / (T_cpu / P_cpu) = throughput ratio x P_cpu / P_gpu

with P counted in CPU-server units. Three accountings differ in which servers they count:
- `all_servers`: every server of both setups, the GPU setup's remote parameter servers included
  (M3 on Big Basin keeps its tables in remote CPU memory); this is what the simulator's power_w
  adds up, so the report uses it;
- `gpu_server_only`: the whole CPU setup against the Big Basin alone (remote servers left out);
- `trainers_only`: CPU trainers against the Big Basin alone (parameter servers left out).
Where the paper's relative values are known, `implied_accounting` says which one they follow.
"""

from __future__ import annotations

from dataclasses import dataclass

ACCOUNTINGS = ("all_servers", "gpu_server_only", "trainers_only")
# How close a paper ratio must come to an accounting's to be said to follow it (fraction).
MATCH_TOLERANCE = 0.05


@dataclass(frozen=True)
class Setup:
    """The server counts of one model's Table III comparison. Raises ValueError on a count
    below its minimum (one CPU trainer, one GPU server, no negative count)."""

    cpu_trainers: int
    cpu_parameter_servers: int
    gpu_servers: int = 1
    gpu_remote_servers: int = 0

    def __post_init__(self) -> None:
        if self.cpu_trainers < 1 or self.gpu_servers < 1:
            raise ValueError(f"{self}: at least one CPU trainer and one GPU server")
        if self.cpu_parameter_servers < 0 or self.gpu_remote_servers < 0:
            raise ValueError(f"{self}: server counts must be >= 0")


def power_units(setup: Setup, power_ratio: float, accounting: str) -> tuple[float, float]:
    """(CPU setup power, GPU setup power) in units of one CPU server."""
    gpu = setup.gpu_servers * power_ratio
    if accounting == "all_servers":
        return setup.cpu_trainers + setup.cpu_parameter_servers, gpu + setup.gpu_remote_servers
    if accounting == "gpu_server_only":
        return setup.cpu_trainers + setup.cpu_parameter_servers, gpu
    if accounting == "trainers_only":
        return setup.cpu_trainers, gpu
    raise ValueError(f"accounting = {accounting!r}: one of {', '.join(ACCOUNTINGS)}")


def efficiency_factor(setup: Setup, power_ratio: float, accounting: str) -> float:
    """P_cpu / P_gpu: what the throughput ratio is multiplied by to give the efficiency ratio."""
    cpu, gpu = power_units(setup, power_ratio, accounting)
    return cpu / gpu


def relative_efficiency(relative_throughput: float, setup: Setup, power_ratio: float,
                        accounting: str = "all_servers") -> float:
    return relative_throughput * efficiency_factor(setup, power_ratio, accounting)


def arithmetic(setup: Setup, power_ratio: float, accounting: str) -> str:
    """The accounting written out, e.g. `(6 + 8) / (1 x 7.3) = 1.918`."""
    gpu_text = f"{setup.gpu_servers} x {power_ratio:g}"
    if accounting == "all_servers" and setup.gpu_remote_servers:
        gpu_text += f" + {setup.gpu_remote_servers}"
    cpu_text = (f"{setup.cpu_trainers}" if accounting == "trainers_only"
                else f"{setup.cpu_trainers} + {setup.cpu_parameter_servers}")
    return f"({cpu_text}) / ({gpu_text}) = {efficiency_factor(setup, power_ratio, accounting):.3f}"


def implied_accounting(paper_throughput: float, paper_efficiency: float, setup: Setup,
                       power_ratio: float) -> str | None:
    """The accounting whose factor reproduces the paper's efficiency from its throughput within
    MATCH_TOLERANCE, or None when none does (the paper's numbers then follow from none of them)."""
    for accounting in ACCOUNTINGS:
        expected = relative_efficiency(paper_throughput, setup, power_ratio, accounting)
        if abs(expected - paper_efficiency) <= MATCH_TOLERANCE * abs(paper_efficiency):
            return accounting
    return None


def within(ours: float, reference: float | None, tolerance: float) -> bool | None:
    """Whether `ours` is within `tolerance` (a fraction) of `reference`; None when there is no
    reference to compare with."""
    if reference is None:
        return None
    return abs(ours - reference) <= tolerance * abs(reference)

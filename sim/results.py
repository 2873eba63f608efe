"""The result of one simulation: a flat typed record that notebooks and the CLI read as is."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from sim.engine import Channel
from sim.meter import Window, combined_rse, throughput_rse

# Resource classes every role reports, even when it has none of them (then 0); a class that only
# some servers have (hbm, inter_socket, host_staged) is reported by every role as soon as one
# server has it, so that roles can be tabulated side by side. "pcie" averages the PCIe links
# only; "host_staged" is the per-switch channel of GPU-to-GPU traffic staged through host
# memory (sim/topology.py), which those bytes cross besides the links.
KINDS = ("cpu", "memory_bw", "network", "pcie", "nvlink", "gpu")
BYTE_KINDS = ("memory_bw", "hbm", "network", "pcie", "nvlink", "inter_socket", "host_staged")


@dataclass(frozen=True)
class SimResult:
    """Throughput, iteration times, utilization (busy fraction in [0, 1] per resource and per
    role and resource class, the classes of KINDS and any other a server has), bytes per link,
    the bottleneck (the busiest resource of any class), power and efficiency of one run."""

    job: str
    model: str
    trainer_platform: str
    ps_platform: str
    placement: str
    batch_size: int
    servers: dict[str, int]
    throughput_examples_per_s: float
    # Relative standard error of the throughput: the run's batch means and the replayed demand
    # sample's error (`demand_rse`, from `demand_batches` batches) in quadrature.
    throughput_rse: float
    iteration_time_s: dict[str, float]
    # Mean seconds per iteration in each phase of a worker's iteration, in the step's order;
    # they add up to iteration_time_s["mean"] (GPU: inputs, forward, all_to_all, top_mlp,
    # backward; CPU: inputs, lookups, mlp_forward, mlp_backward, updates, easgd)
    phase_time_s: dict[str, float]
    utilization: dict[str, dict[str, float]]
    resource_utilization: dict[str, float]
    bytes_per_link: dict[str, float]
    bottleneck: str
    bottleneck_kind: str
    bottleneck_utilization: float
    power_w: float
    examples_per_joule: float
    measured_iterations: int
    simulated_s: float
    flows: int
    demand_rse: float = 0.0
    demand_batches: int = 0
    # Where the costs came from: analytic, or which processors a calibration profile timed.
    costs: str = "analytic"
    # What to read before trusting the figures (sim/notes.py): idle servers, a missed target.
    notes: tuple[str, ...] = ()
    # The resolved job and the run's options (seed, iterations, warmup, target_rse, trace,
    # profile), from sim.run.run_settings.
    settings: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def utilization(channels: list[Channel], window: Window) -> dict[str, float]:
    """Busy fraction of every channel over the window: delivered units / (capacity x time)."""
    span = window.seconds
    return {c.name: (min(1.0, window.units.get(c.name, 0.0) / (c.capacity * span))
                     if span > 0 else 0.0) for c in channels}


def by_role(channels: list[Channel], window: Window, roles: dict[str, str]
            ) -> dict[str, dict[str, float]]:
    """Capacity-weighted busy fraction per role (trainer, sparse_ps, ...) and resource class."""
    span = window.seconds
    used: dict[tuple[str, str], float] = {}
    capacity: dict[tuple[str, str], float] = {}
    for c in channels:
        key = (roles[c.owner], c.kind)
        used[key] = used.get(key, 0.0) + window.units.get(c.name, 0.0)
        capacity[key] = capacity.get(key, 0.0) + c.capacity * span
    extra = sorted({c.kind for c in channels} - set(KINDS))
    out: dict[str, dict[str, float]] = {}
    for role in dict.fromkeys(roles.values()):
        kinds = dict.fromkeys((*KINDS, *extra), 0.0)
        for (r, kind), total in capacity.items():
            if r == role and total > 0:
                kinds[kind] = min(1.0, used[(r, kind)] / total)
        out[role] = kinds
    return out


def iteration_stats(window: Window) -> dict[str, float]:
    times = np.asarray(window.durations_s, dtype=float)
    if times.size == 0:
        return {"mean": float("nan"), "p50": float("nan"), "p99": float("nan")}
    return {"mean": float(times.mean()), "p50": float(np.percentile(times, 50)),
            "p99": float(np.percentile(times, 99))}


def summary_fields(channels: list[Channel], window: Window, roles: dict[str, str],
                   demand_rse: float = 0.0) -> dict[str, Any]:
    """The result fields computed from the measurement window (and the demand's error)."""
    per = utilization(channels, window)
    top = max(channels, key=lambda c: (per[c.name], c.name)) if channels else None
    throughput = window.examples / window.seconds if window.seconds > 0 else 0.0
    return {
        "throughput_examples_per_s": throughput,
        "throughput_rse": combined_rse(throughput_rse(window), demand_rse),
        "iteration_time_s": iteration_stats(window),
        "phase_time_s": dict(window.phases_s),
        "utilization": by_role(channels, window, roles),
        "resource_utilization": per,
        "bytes_per_link": {c.name: window.units.get(c.name, 0.0) for c in channels
                           if c.kind in BYTE_KINDS},
        "bottleneck": top.name if top else "",
        "bottleneck_kind": top.kind if top else "",
        "bottleneck_utilization": per[top.name] if top else 0.0,
        "measured_iterations": len(window.durations_s),
        "simulated_s": window.end_s,
    }

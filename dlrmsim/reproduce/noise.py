"""The system-noise model of Figure 5: many runs of one model at a fixed scale, whose spread
comes from (1) configurations varied around the preset job and (2) seeded noise on the rates of
the platform, as shared datacenter servers see from co-located work, congestion and throttling.

Model, per run r with a generator seeded by (seed, r):
- configuration: batch size, Hogwild threads and the split of the parameter servers into sparse
  and dense drawn uniformly from the *_CHOICES below; the lookups are drawn with the run's own seed;
- noise: every rate in RATE_SIGMA is multiplied by exp(N(0, sigma^2)), one draw per run shared by
  all servers of the run (the simulator takes one platform spec for all servers of a role);
  fractions are clipped to at most 1. The trainer and the parameter-server platforms draw
  independently.
The sigmas are assumptions, not measurements: the paper gives no figure for them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.presets import load_job, load_platform
from sim.specs import JobSpec, ServerSpec

# The fixed scale of Figure 5 (the paper's figure is of one production model at a fixed scale):
# M1 on its Table III CPU setup, 6 trainers and 8 parameter servers.
FIG5_JOB = "m1_cpu"

# Configurations varied around the job (assumption: the knobs production runs differ in):
# examples per batch per thread, Hogwild threads per trainer, and the (sparse, dense) split of
# the 8 parameter servers.
BATCH_CHOICES = (100, 200, 400)
THREAD_CHOICES = (1, 2, 4)
PS_SPLIT_CHOICES = ((6, 2), (5, 3), (7, 1))

# Log-normal sigma of run-to-run noise on each rate (dimensionless, assumption): compute and
# memory rates vary by ~10-20% on shared servers (co-location, frequency scaling); per-op
# overheads by ~30% (scheduling jitter); network bandwidth by ~25% (congestion).
RATE_SIGMA: dict[str, float] = {
    "cpu_compute_efficiency": 0.15,
    "cpu_stream_efficiency": 0.10,
    "cpu_gather_efficiency": 0.20,
    "core_mem_bw_bytes_per_s": 0.10,
    "cpu_op_overhead_s": 0.30,
}
NIC_SIGMA = 0.25
# Efficiency fields are fractions of datasheet rates; noise must not push them above 1.
_FRACTIONS = {"cpu_compute_efficiency", "cpu_stream_efficiency", "cpu_gather_efficiency"}



def method_parameters() -> tuple[tuple[str, str, str], ...]:
    """(name, value, what it is) of every setting the module docstring names, for the report,
    which gives the docstring and would otherwise name constants it never shows."""
    return (("FIG5_JOB", FIG5_JOB, "the job at a fixed scale whose runs are drawn"),
            ("BATCH_CHOICES", _listed(BATCH_CHOICES), "examples per batch per thread"),
            ("THREAD_CHOICES", _listed(THREAD_CHOICES), "Hogwild threads per trainer"),
            ("PS_SPLIT_CHOICES", _listed(f"{a} sparse + {b} dense" for a, b in PS_SPLIT_CHOICES),
             "the split of the 8 parameter servers"),
            *((f"RATE_SIGMA[{name}]", f"{sigma:g}", "log-normal sigma of the rate's noise")
              for name, sigma in RATE_SIGMA.items()),
            ("NIC_SIGMA", f"{NIC_SIGMA:g}", "log-normal sigma of the NIC bandwidth's noise"))


def _listed(values: Iterable[object]) -> str:
    return ", ".join(str(v) for v in values)


@dataclass(frozen=True)
class NoisyRun:
    """One run of Figure 5: the job with its drawn configuration, the noisy platforms, and the
    seed of its lookups."""

    index: int
    job: JobSpec
    trainer_platform: ServerSpec
    ps_platform: ServerSpec
    lookup_seed: int


def perturb(platform: ServerSpec, rng: np.random.Generator) -> ServerSpec:
    """The platform with every rate of RATE_SIGMA and every NIC's bandwidth scaled by a draw."""
    changes: dict[str, Any] = {}
    for name, sigma in sorted(RATE_SIGMA.items()):
        value = getattr(platform.efficiency, name) * math.exp(rng.normal(0.0, sigma))
        changes[name] = min(value, 1.0) if name in _FRACTIONS else value
    efficiency = dataclasses.replace(platform.efficiency, **changes)
    factor = math.exp(rng.normal(0.0, NIC_SIGMA))
    nics = tuple(dataclasses.replace(n, link=dataclasses.replace(
        n.link, bw_bytes_per_s=n.link.bw_bytes_per_s * factor)) for n in platform.nics)
    return dataclasses.replace(platform, efficiency=efficiency, nics=nics)


def draw_run(index: int, seed: int, base: JobSpec) -> NoisyRun:
    """Run `index` of the sample: deterministic for (seed, index)."""
    rng = np.random.default_rng([seed, index])
    batch = BATCH_CHOICES[rng.integers(len(BATCH_CHOICES))]
    threads = THREAD_CHOICES[rng.integers(len(THREAD_CHOICES))]
    sparse, dense = PS_SPLIT_CHOICES[rng.integers(len(PS_SPLIT_CHOICES))]
    job = dataclasses.replace(base, name=f"{base.name}_run{index}", batch_size=batch,
                              hogwild_threads=threads, sparse_ps=sparse, dense_ps=dense)
    trainer = perturb(load_platform(base.trainer_platform), rng)
    ps = perturb(load_platform(base.ps_platform), rng)
    return NoisyRun(index, job, trainer, ps, int(rng.integers(2**31)))


def draw_runs(count: int, seed: int, job: str = FIG5_JOB) -> list[NoisyRun]:
    base = load_job(job)
    return [draw_run(i, seed, base) for i in range(count)]


def server_utilization(resources: dict[str, float]) -> list[tuple[str, str, float]]:
    """(server, resource, busy fraction) per server, from per-channel utilization named
    `<server>.<channel>`: cpu* channels give cpu, mem* memory_bw, nic* network; a server's value
    is the mean over its channels of that kind (sockets and NIC directions alike)."""
    kinds = (("cpu", "cpu"), ("mem", "memory_bw"), ("nic", "network"))
    sums: dict[tuple[str, str], list[float]] = {}
    for name, busy in sorted(resources.items()):
        server, _, channel = name.partition(".")
        kind = next((k for prefix, k in kinds if channel.startswith(prefix)), None)
        if kind is not None:
            sums.setdefault((server, kind), []).append(busy)
    return [(s, k, float(np.mean(v))) for (s, k), v in sorted(sums.items())]


def role_of(server: str) -> str:
    """The role of a server named like `trainer3` or `sparse_ps0`: the name without its digits."""
    return server.rstrip("0123456789")

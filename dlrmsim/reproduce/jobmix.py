"""The job-month sampler of Figure 9: how many trainers and parameter servers the training jobs
of one month use. The paper's histogram values are not quoted here, so the sampler is a stated
assumption, not a fit:

- each job trains M1, M2 or M3 with the shares MODEL_SHARE;
- its trainer count is the model's Table III CPU setup scaled by 2^Z, Z ~ N(0, SCALE_SIGMA^2),
  rounded and clipped to [1, MAX_SERVERS]: most jobs run near the production setup, some at a
  fraction or a multiple of it (smaller exploratory runs, larger release runs);
- its parameter-server count is the model's setup scaled by 2^(rho Z + sqrt(1 - rho^2) W),
  W ~ N(0, SCALE_SIGMA^2) independent: bigger jobs tend to take more parameter servers
  (correlation RHO), but not in a fixed ratio.
Deterministic for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlrmsim.reproduce import paper

# Share of each model among the month's jobs (assumption: equal).
MODEL_SHARE = {"M1": 1 / 3, "M2": 1 / 3, "M3": 1 / 3}
# Log2 spread of a job's scale around the production setup (assumption: one sigma is a factor 2).
SCALE_SIGMA = 1.0
# Correlation of the trainer and parameter-server scales (assumption).
RHO = 0.6
# Largest count of either role in one job (servers; assumption, a few racks).
MAX_SERVERS = 128
# The sampler's random stream is [seed, 9, FIGURE_9_STREAM]: three words, the last not zero, so
# that it is none of Figure 5's runs' streams [seed, index] (SeedSequence maps [seed, 9] and
# [seed, 9, 0] to the same state; [seed, 9] alone was Figure 5's run 9).
FIGURE_9_STREAM = 0xF19



def method_parameters() -> tuple[tuple[str, str, str], ...]:
    """(name, value, what it is) of every setting the module docstring names, for the report,
    which gives the docstring and would otherwise name constants it never shows."""
    return (("MODEL_SHARE", ", ".join(f"{m} {share:.3g}" for m, share in MODEL_SHARE.items()),
             "share of each model among the month's jobs"),
            ("SCALE_SIGMA", f"{SCALE_SIGMA:g}", "log2 spread of a job's scale (1 = a factor 2)"),
            ("RHO", f"{RHO:g}", "correlation of the trainer and parameter-server scales"),
            ("MAX_SERVERS", str(MAX_SERVERS), "most servers of either role in one job"))


@dataclass(frozen=True)
class SampledJob:
    """One job of the sampled month."""

    index: int
    model: str
    trainers: int
    parameter_servers: int


def _scaled(base: int, log2_factor: float) -> int:
    return int(np.clip(round(base * 2.0 ** log2_factor), 1, MAX_SERVERS))


def sample_month(jobs: int, seed: int) -> list[SampledJob]:
    """`jobs` jobs drawn as the module docstring says; same seed, same jobs."""
    rng = np.random.default_rng([seed, 9, FIGURE_9_STREAM])
    models = list(MODEL_SHARE)
    picks = rng.choice(len(models), size=jobs, p=[MODEL_SHARE[m] for m in models])
    z = rng.normal(0.0, SCALE_SIGMA, size=jobs)
    w = rng.normal(0.0, SCALE_SIGMA, size=jobs)
    out = []
    for i in range(jobs):
        model = models[int(picks[i])]
        ps_log2 = RHO * z[i] + (1 - RHO**2) ** 0.5 * w[i]
        out.append(SampledJob(i, model, _scaled(paper.CPU_TRAINERS[model], float(z[i])),
                              _scaled(paper.CPU_PARAMETER_SERVERS[model], float(ps_log2))))
    return out

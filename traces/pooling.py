"""Bag lengths (lookups per example and table) drawn from a PoolingSpec.

Every law is drawn as a real number X with E[X] = mean_lookups and rounded stochastically
(floor(X + U), U uniform on [0, 1)), which keeps the mean exact for non-integer means; the result
is then truncated at `max_lookups`. Empty bags (length 0) can occur, as in Meta's released traces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.specs import PoolingSpec
from sim.specs.model import pareto_capped_mean

# Where a power law with alpha <= 2 has no finite mean and the spec gives no truncation, bags are
# capped at this multiple of mean_lookups to define one. Unit: multiple of the mean. Source: an
# assumption of this module (the paper truncates at 32 where it truncates at all).
POWER_LAW_DEFAULT_CAP = 100.0


@dataclass(frozen=True)
class PoolingSampler:
    """Draws bag lengths (int64) for one table. Raises nothing: the spec was validated."""

    spec: PoolingSpec

    def sample(self, rng: np.random.Generator, bags: int) -> np.ndarray:
        spec = self.spec
        mean = float(spec.mean_lookups)
        if spec.distribution == "fixed":
            x = np.full(bags, mean)
        elif spec.distribution == "uniform":
            x = rng.random(bags) * (2.0 * mean)
        elif spec.distribution == "lognormal":
            x = rng.lognormal(math.log(mean) - spec.sigma ** 2 / 2.0, spec.sigma, bags)
        else:
            x = _power_law(rng, bags, mean, float(spec.alpha), spec.max_lookups)
        if mean != math.floor(mean) or spec.distribution != "fixed":
            x += rng.random(bags)
        lengths = np.floor(x).astype(np.int64)
        if spec.max_lookups is not None:
            np.minimum(lengths, spec.max_lookups, out=lengths)
        return lengths


def _power_law(
    rng: np.random.Generator, bags: int, mean: float, alpha: float, cap: int | None
) -> np.ndarray:
    """Pareto draws with density ~ x^-alpha on [x_min, inf), x_min set so the mean is `mean`.

    For alpha <= 2 the mean is infinite, so x_min is set so that the mean of min(X, cap) is
    `mean`, with cap = max_lookups or POWER_LAW_DEFAULT_CAP * mean.
    """
    tail = alpha - 1.0  # the Pareto tail index
    draws = np.power(1.0 - rng.random(bags), -1.0 / tail)
    if alpha > 2.0:
        return draws * (mean * (tail - 1.0) / tail)
    limit = float(cap or POWER_LAW_DEFAULT_CAP * mean)
    draws *= _x_min_for_capped_mean(mean, tail, limit)
    return np.minimum(draws, limit, out=draws)


def _x_min_for_capped_mean(mean: float, tail: float, cap: float) -> float:
    """Bisection for x_min such that E[min(X, cap)] = mean, X ~ Pareto(x_min, tail)."""
    if cap <= mean:
        return cap  # every draw is capped: lengths equal the cap

    lo, hi = 1e-12, mean
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if pareto_capped_mean(mid, tail, cap) < mean else (lo, mid)
    return 0.5 * (lo + hi)

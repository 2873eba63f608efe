"""PoolingSpec.effective_mean_lookups is the mean bag length the generator draws after
truncation, for every law: placement, the sparse PS's request sizes and `dlrmsim presets` read
it. It was min(mean, max_lookups), an upper bound: the test suite's lognormal 28 cut at 32
listed 896 lookups per example while its traces held 587."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.presets import load_model
from sim.specs import PoolingSpec
from traces.pooling import PoolingSampler

DRAWS = 2_000_000

CASES = [
    PoolingSpec(28, "lognormal", sigma=1.0, max_lookups=32),  # the test suite's tables
    PoolingSpec(2.5, "lognormal", sigma=2.0, max_lookups=1),
    PoolingSpec(5.5, "uniform", max_lookups=7),
    PoolingSpec(5.5, "uniform", max_lookups=11),  # at 2 x mean: nothing truncated
    PoolingSpec(10, "power_law", alpha=3.5, max_lookups=12),
    PoolingSpec(10, "power_law", alpha=1.5, max_lookups=40),
    PoolingSpec(3.3, "fixed", max_lookups=3),
    PoolingSpec(3.3, "fixed", max_lookups=4),
    PoolingSpec(7.0, "lognormal", sigma=0.5),
]


@pytest.mark.parametrize("spec", CASES, ids=lambda s: f"{s.distribution}-{s.max_lookups}")
def test_the_mean_is_that_of_the_drawn_bags(spec: PoolingSpec) -> None:
    lengths = PoolingSampler(spec).sample(np.random.default_rng(7), DRAWS).astype(np.float64)
    error = lengths.std() / math.sqrt(DRAWS)
    assert abs(spec.effective_mean_lookups - lengths.mean()) <= 5 * error + 1e-12


def test_the_test_suites_presets_listing_matches_its_traces() -> None:
    model = load_model("test_suite")
    per_example = model.mean_lookups_per_example
    # 32 tables of a lognormal of mean 28 cut at 32: far below 32 x 28 = 896.
    assert 32 * 18.0 < per_example < 32 * 19.0

"""The Zipf sampler draws the exact law: head probabilities against the exact pmf."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from traces.zipf import ZipfSampler, harmonic, head_pmf


@pytest.mark.parametrize(("n", "s"), [(10_000_000, 1.05), (100_000, 0.8), (1000, 1.0), (50, 2.5)])
def test_top_100_ranks_match_exact_pmf(n: int, s: float) -> None:
    draws = 2_000_000
    ranks = ZipfSampler(n, s).sample(np.random.default_rng(7), draws)
    assert ranks.min() >= 0 and ranks.max() < n
    top = min(100, n)
    observed = np.bincount(ranks, minlength=n)[:top].astype(float)
    expected = head_pmf(n, s, top) * draws
    rest_obs, rest_exp = draws - observed.sum(), draws - expected.sum()
    if rest_exp > 5:
        observed, expected = np.append(observed, rest_obs), np.append(expected, rest_exp)
    _, p_value = stats.chisquare(observed, expected * observed.sum() / expected.sum())
    assert p_value > 1e-4


def test_harmonic_matches_direct_sum_beyond_the_euler_maclaurin_switch() -> None:
    n = 3_000_000
    direct = float(np.sum(np.arange(n, 0, -1, dtype=np.float64) ** -1.05))
    assert harmonic(n, 1.05) == pytest.approx(direct, rel=1e-12)
    assert harmonic(n, 1.0) == pytest.approx(float(np.sum(1.0 / np.arange(n, 0, -1))), rel=1e-12)


def test_single_row_and_uniform_exponent() -> None:
    rng = np.random.default_rng(1)
    assert (ZipfSampler(1, 1.2).sample(rng, 1000) == 0).all()
    ranks = ZipfSampler(10, 0.0).sample(rng, 100_000)
    assert np.bincount(ranks, minlength=10).min() > 9000


def test_bad_parameters_raise() -> None:
    with pytest.raises(ValueError):
        ZipfSampler(0, 1.0)


@pytest.mark.parametrize(("n", "s"), [(1_000_000, 1.05), (1_000_000, 0.5), (100_000, 2.0)])
def test_the_tail_matches_the_exact_pmf_in_log_bins(n: int, s: float) -> None:
    # The head test above sees only the first 100 ranks; here every rank counts, in bins of
    # geometrically growing width (exact bin probabilities: the pmf summed directly).
    draws = 1_000_000
    ranks = ZipfSampler(n, s).sample(np.random.default_rng(11), draws)
    pmf = np.power(np.arange(1, n + 1, dtype=np.float64), -s)
    pmf /= pmf.sum()
    starts = np.unique(np.geomspace(1, n, 50).astype(np.int64)) - 1  # 0-based first rank of a bin
    observed = np.add.reduceat(np.bincount(ranks, minlength=n), starts).astype(float)
    expected = np.add.reduceat(pmf, starts) * draws
    sparse = expected < 5  # chi-square needs about 5 expected per bin: pool the rare bins
    observed = np.append(observed[~sparse], observed[sparse].sum())
    expected = np.append(expected[~sparse], expected[sparse].sum())
    if expected[-1] == 0:
        observed, expected = observed[:-1], expected[:-1]
    _, p_value = stats.chisquare(observed, expected * observed.sum() / expected.sum())
    assert p_value > 1e-4

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


# The guide (traces/zipf.py) must give, draw for draw, the ranks of the exact path alone: the
# same seed gives the same lookups with it or without. Exponents near 1 (where 1/(1-s) is large),
# at 0 and far above 1, and tables smaller, equal to and larger than the guided head.
GUIDE_CASES = [(n, s) for s in (0.0, 0.5, 0.999, 1.0, 1.001, 1.05, 1.5, 2.5, 4.0)
               for n in (1, 2, 3, 129, 900, 901, 20_086, 4_286_752, 2**31 - 1)]


@pytest.mark.parametrize(("n", "s"), GUIDE_CASES)
def test_the_guide_draws_what_the_exact_path_draws(n: int, s: float) -> None:
    sampler = ZipfSampler(n, s)
    for size in (1, 7, 16_384, 16_385, 60_000):  # one chunk, a chunk and one, several
        fast = sampler.sample(np.random.default_rng((n, int(s * 1000), size)), size)
        exact = sampler.sample(np.random.default_rng((n, int(s * 1000), size)), size, fast=False)
        assert np.array_equal(fast, exact)


@pytest.mark.parametrize("s", [0.0, 0.5, 0.999, 1.0, 1.05, 2.5, 4.0])
@pytest.mark.parametrize("n", [300, 4_286_752])
def test_every_guided_cell_holds_the_exact_rank_at_its_edges(n: int, s: float) -> None:
    # The draws the random test above could miss: u at the very edges of every cell, where a
    # rank or the squeeze test changes if the guide's margin were too small.
    sampler = ZipfSampler(n, s)
    guide = sampler._guide
    assert guide is not None
    width = 1.0 / guide.inv_width
    edges = guide.lo + np.arange(guide.cells + 1) * width
    u = np.concatenate([edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf)])
    u = u[(u > sampler._lo) & (u <= sampler._hi)]
    guided = guide.ranks[guide.cell(u.copy())]
    exact = np.empty(u.size, dtype=np.int64)
    rejected = sampler._settle(u.copy(), exact)
    at = np.flatnonzero(guided >= 0)
    assert at.size > guide.cells  # most cells are guided: the test checks something
    assert not np.isin(at, rejected).any()
    assert np.array_equal(guided[at], exact[at])


def test_the_guide_takes_most_draws_of_a_hot_table() -> None:
    # What makes the sampler faster: at the presets' s = 1.05, over half the draws of a 4M-row
    # table (the exact law: H(900.5)/H(4M) of the mass) are settled by the guide.
    sampler = ZipfSampler(4_286_752, 1.05)
    guide = sampler._guide
    assert guide is not None
    u = np.random.default_rng(3).uniform(sampler._lo, sampler._hi, 200_000)
    assert np.mean(guide.ranks[guide.cell(u)] >= 0) > 0.5

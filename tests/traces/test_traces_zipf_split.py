"""The Zipf split (counts of the hottest ranks, draws of the rest) has the law of plain draws:
per-rank counts against the exact pmf, distinct ranks against the occupancy closed form."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.specs import PoolingSpec, PopularitySpec, TableSpec
from traces.distinct import DistinctCounter
from traces.generator import TableStream
from traces.zipf import ZipfSampler, head_pmf
from traces.zipf_split import (
    MAX_HEAD_RANKS,
    MIN_EXPECTED_DRAWS,
    MIN_HEAD_DRAWS,
    SplitDraw,
    SplitZipf,
    head_ranks,
)

S = 1.05  # the presets' exponent


def exact_pmf(n: int, s: float) -> np.ndarray:
    pmf = np.power(np.arange(1, n + 1, dtype=np.float64), -s)
    return pmf / pmf.sum()


def rank_counts(batch: SplitDraw) -> np.ndarray:
    """Draws of each rank in a split batch, int64 [rows]."""
    counts = np.bincount(batch.tail, minlength=batch.rows).astype(np.int64)
    counts[:batch.head_counts.size] += batch.head_counts
    return counts


def chi_square_p(observed: np.ndarray, expected: np.ndarray) -> float:
    """p-value of observed per-rank counts against expected ones: ranks one by one up to 2048,
    then in geometric bins; bins expecting under 5 pooled."""
    n = observed.size
    binned = np.geomspace(2048, n, 40).astype(np.int64) if n > 2048 else np.zeros(0, np.int64)
    starts = np.unique(np.concatenate((np.arange(min(n, 2048)), binned)))
    starts = starts[starts < n]
    got = np.add.reduceat(observed.astype(float), starts)
    want = np.add.reduceat(expected, starts)
    sparse = want < 5
    if sparse.any():
        got = np.append(got[~sparse], got[sparse].sum())
        want = np.append(want[~sparse], want[sparse].sum())
    return float(stats.chisquare(got, want * got.sum() / want.sum()).pvalue)


@pytest.mark.parametrize(("n", "draws"), [(5000, 20_000), (300, 20_000), (2_000_000, 200_000)])
def test_split_counts_follow_the_exact_pmf(n: int, draws: int) -> None:
    split = SplitZipf(ZipfSampler(n, S), draws)
    assert 0 < split.head <= n
    rng = np.random.default_rng(3)
    total = np.zeros(n, dtype=np.int64)
    for _ in range(50):
        batch = split.draw(rng, draws)
        assert batch.head_counts.sum() + batch.tail.size == draws
        assert batch.head_counts.size == split.head
        assert batch.tail.size == 0 or batch.tail.min() >= split.head
        total += rank_counts(batch)
    assert chi_square_p(total, exact_pmf(n, S) * total.sum()) > 1e-4


@pytest.mark.parametrize(("n", "draws"),
                         [(5000, 20_000), (300, 20_000), (2_000_000, 200_000), (1_000_000, 500)])
def test_distinct_ranks_match_the_occupancy_closed_form(n: int, draws: int) -> None:
    # Rank k is among N independent draws with probability 1 - (1 - p_k)^N; the indicators are
    # negatively correlated, so the variance of their sum is at most the sum of their variances.
    p = exact_pmf(n, S)
    seen = -np.expm1(draws * np.log1p(-p))
    mean, variance_bound = seen.sum(), (seen * (1 - seen)).sum()
    split, counter, rng = SplitZipf(ZipfSampler(n, S), draws), DistinctCounter(), np.random.default_rng(5)
    batches = 200
    got = np.mean([split.draw(rng, draws).distinct(counter) for _ in range(batches)])
    assert abs(got - mean) < 5 * np.sqrt(variance_bound / batches), (got, mean)


def test_without_a_head_the_split_draws_the_plain_samplers_numbers() -> None:
    plain = ZipfSampler(1_000_000, S)
    split = SplitZipf(plain, 500)
    assert split.head == 0
    drawn = split.draw(np.random.default_rng(9), 500)
    assert drawn.head_counts.size == 0
    assert np.array_equal(drawn.tail, plain.sample(np.random.default_rng(9), 500))


def test_the_head_is_the_ranks_expecting_enough_draws() -> None:
    n, draws = 4_286_752, 100_000.0
    head = head_ranks(n, S, draws)
    expected = head_pmf(n, S, head + 1) * draws
    assert expected[head - 1] >= MIN_EXPECTED_DRAWS > expected[head]
    assert head_ranks(n, S, 1e12) == MAX_HEAD_RANKS
    assert head_ranks(n, S, 10.0) == 0  # not even rank 1 expects enough
    assert head_ranks(n, S, 200.0) == 0  # ranks 1-8 do, 46 draws together: too few
    for d in np.geomspace(10, draws, 200):  # a head too light to be worth a multinomial call
        head = head_ranks(n, S, d)
        assert head == 0 or head_pmf(n, S, head).sum() * d >= MIN_HEAD_DRAWS
    assert head_ranks(30, S, 40_800) == 30  # M2's 30-row table, 204 lookups x 200: all counted
    assert head_ranks(1000, 0.0, 2000.0) == 1000 and head_ranks(1000, 0.0, 1999.0) == 0
    assert head_ranks(1000, 0.001, 1e6) == 1000  # 500^1000 would overflow a float


@pytest.mark.parametrize(("n", "skip"), [(1000, 10), (2_000_000, 5000)])
def test_a_tail_sampler_draws_the_law_past_its_skipped_ranks(n: int, skip: int) -> None:
    ranks = ZipfSampler(n, S, skip=skip).sample(np.random.default_rng(13), 400_000)
    assert ranks.min() >= skip and ranks.max() < n
    law = exact_pmf(n, S)[skip:]
    observed = np.bincount(ranks - skip, minlength=n - skip)
    assert chi_square_p(observed, law / law.sum() * ranks.size) > 1e-4


@pytest.mark.parametrize("skip", [-1, 1000])
def test_a_skip_outside_the_ranks_is_refused(skip: int) -> None:
    with pytest.raises(ValueError, match="skip"):
        ZipfSampler(1000, S, skip=skip)
    with pytest.raises(ValueError, match="whole Zipf law"):
        SplitZipf(ZipfSampler(1000, S, skip=10), 1e6)


@pytest.mark.parametrize("popularity", [{"heavy_hitters": (0.2,)}, {"reuse_fraction": 0.3}])
def test_tables_whose_rows_matter_are_counted_from_their_built_batches(
        popularity: dict[str, object]) -> None:
    # Heavy hitters replace and a reuse copies particular lookups: counts alone cannot say
    # which, so these tables' summaries count next_batch's rows, draw for draw.
    table = TableSpec("t", 100_000, 8, PoolingSpec(50.0, "fixed"),
                      PopularitySpec("zipf", S, **popularity))  # type: ignore[arg-type]
    counted, built = TableStream(table, 7, 0), TableStream(table, 7, 0)
    counter = DistinctCounter()
    for _ in range(3):
        _, ranks = built.next_batch(1000)
        assert counted.next_counts(1000, counter) == (ranks.size, np.unique(ranks).size)


def test_a_plain_zipf_tables_summary_is_drawn_split() -> None:
    table = TableSpec("t", 100_000, 8, PoolingSpec(50.0, "fixed"), PopularitySpec("zipf", S))
    stream = TableStream(table, 7, 0)
    assert stream.next_counts(1000, DistinctCounter())[0] == 50_000
    assert stream._split(1000).head == head_ranks(100_000, S, 50_000) > 0

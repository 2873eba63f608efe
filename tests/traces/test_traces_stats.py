"""Locality statistics, Meta bins, LRU stack distances, the locality file, and the fit."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.specs import ModelSpec, PoolingSpec, PopularitySpec, TableSpec
from traces import TraceError, generate_trace
from traces.fit import expected_locality, fit_locality_entry, fit_trace_stats, s_for_ratio
from traces.generator import ModelGenerator
from traces.locality import BIN_LABELS, access_counts, locality_of_counts
from traces.locality_file import read_locality_file
from traces.lru import hit_ratio_curve, stack_distances
from traces.lru_estimate import _non_decreasing, window_bounds
from traces.sources import ReadOptions, open_source
from traces.stats import format_stats, trace_stats
from traces.zipf import ZipfSampler


def _naive_distances(keys: list[int]) -> list[int]:
    stack: list[int] = []
    out = []
    for key in keys:
        if key in stack:
            out.append(len(stack) - 1 - stack.index(key))
            stack.remove(key)
        else:
            out.append(-1)
        stack.append(key)
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 12), max_size=80))
def test_stack_distances_match_a_plain_lru_stack(keys: list[int]) -> None:
    assert stack_distances(np.array(keys, dtype=np.int64)).tolist() == _naive_distances(keys)


def test_hit_ratio_curve_ends_at_all_reuses() -> None:
    curve = hit_ratio_curve(np.array([1, 2, 1, 2, 3, 1]))
    assert curve.hit_ratio[0] == 0.0 and curve.hit_ratio[-1] == pytest.approx(3 / 6)
    assert list(curve.hit_ratio) == sorted(curve.hit_ratio)


def test_meta_bins_and_head_share() -> None:
    loc = locality_of_counts(access_counts(np.array([5, 5, 5, 7, 9, 9] + [1] * 100)))
    assert loc.lookups == 106 and loc.unique_rows == 4 and loc.once_fraction == 0.25
    assert loc.rows_histogram[BIN_LABELS.index("(64, 128]")] == 0.25
    assert loc.top1pct_share == pytest.approx(100 / 106)


def test_stats_of_a_generated_trace(model: ModelSpec, tmp_path: Path) -> None:
    generate_trace(model, tmp_path / "t", batches=3, batch_size=50, seed=4)
    report = trace_stats(open_source(tmp_path / "t"), show_progress=False)
    for key in ("lookups", "unique_rows", "unique_ratio", "once_fraction", "top1pct_share",
                "tables", "rows_histogram", "access_share", "lru"):
        assert key in report
    assert report["lookups"] == sum(t["lookups"] for t in report["tables"])
    assert report["tables"][2]["unique_rows"] <= 30
    assert "accesses per unique row" in format_stats(report)
    spec = fit_trace_stats(report)
    assert spec.tables[3].rows == 10_000_000 and spec.tables[0].popularity.zipf_s > 0


def test_locality_file(data_dir: Path) -> None:
    entries = read_locality_file(data_dir / "meta_dlrm_datasets_2021_locality_stats.txt")
    first = entries[0]
    assert (first.lookups, first.unique_rows, first.tables) == (887017990, 128435723, 856)
    assert first.once_fraction == 0.473 and len(first.access_share) == len(BIN_LABELS)


def test_locality_file_errors(tmp_path: Path) -> None:
    (tmp_path / "s.txt").write_text("f.pt\nLocality stats after processing 1 batches of size 4\n")
    with pytest.raises(TraceError, match="entry 0"):
        read_locality_file(tmp_path / "s.txt")


def test_fit_reproduces_the_first_meta_entry(data_dir: Path) -> None:
    """Batch 65536 -> 1024: lookups per bag and table kept (15.8), rows and s fitted at 1024."""
    entry = read_locality_file(data_dir / "meta_dlrm_datasets_2021_locality_stats.txt")[0]
    model = fit_locality_entry(entry, batch_size=1024, tables=8)
    batch = next(ModelGenerator(model, seed=1).batches(1, 1024))
    counts = np.concatenate([access_counts(batch.table_indices(t)) for t in range(8)])
    loc = locality_of_counts(counts)
    assert loc.unique_ratio == pytest.approx(entry.unique_ratio, rel=0.10)
    assert abs(loc.once_fraction - entry.once_fraction) <= 0.05


def test_max_batches_reads_a_criteo_log_no_further(tmp_path: Path) -> None:
    # A log still being written ends in a cut line; the first batch is all that is asked for,
    # and before, the whole file was read (and held) first, so the cut line ended the run.
    good = "\t".join(["1"] + ["5"] * 13 + ["0000000a"] * 26)
    (tmp_path / "day_0").write_text((good + "\n") * 10 + "1\t5\n")
    source = open_source(tmp_path / "day_0", "criteo", ReadOptions(rows=7, batch_size=4))
    report = trace_stats(source, max_batches=1, lru=False, show_progress=False)
    assert report["batches"] == 1 and report["lookups"] == 4 * 26


@pytest.mark.parametrize(("batches", "size"), [(0, 65536), (1, 0)])
def test_an_entry_of_no_batches_or_empty_batches_is_refused(
        tmp_path: Path, data_dir: Path, batches: int, size: int) -> None:
    # Before, it was read, and `trace fit` divided by zero (a traceback).
    text = (data_dir / "meta_dlrm_datasets_2021_locality_stats.txt").read_text()
    first = text.split("\n\n")[0].replace("processing 1 batches of size 65536",
                                          f"processing {batches} batches of size {size}")
    (tmp_path / "s.txt").write_text(first + "\n")
    with pytest.raises(TraceError, match=r"s\.txt, entry 0 \(fbgemm_t856_bs65536\.pt\): "
                       f"{batches} batches of size {size}"):
        read_locality_file(tmp_path / "s.txt")


def test_expected_locality_of_a_uniform_law_is_the_occupancy_closed_form() -> None:
    # s = 0: each of n rows is missed by all N draws with probability (1 - 1/n)^N. n is past
    # the ranks summed term by term, so the quadrature of the tail is checked too.
    n, lookups = 1_000_000, 500_000.0
    unique, once = expected_locality(n, 0.0, lookups)
    assert unique == pytest.approx(n * (1 - (1 - 1 / n) ** lookups), rel=1e-9)
    assert once == pytest.approx(lookups * (1 - 1 / n) ** (lookups - 1), rel=1e-9)


@pytest.mark.parametrize("s", [0.6, 1.1])
def test_the_fitted_exponent_recovers_that_of_a_zipf_sample(s: float) -> None:
    rows, lookups = 100_000, 200_000
    ranks = ZipfSampler(rows, s).sample(np.random.default_rng(5), lookups)
    ratio = locality_of_counts(access_counts(ranks)).unique_ratio
    assert s_for_ratio(rows, float(lookups), ratio) == pytest.approx(s, abs=0.02)


@pytest.mark.parametrize(("lookups", "budget"), [(287_314, 40_000), (26_880_000, 2_000_000),
                                                 (3_000, 40_000)])
def test_windows_fill_their_strata_without_overlap(lookups: int, budget: int) -> None:
    bounds = window_bounds(lookups, budget)
    assert bounds == window_bounds(lookups, budget)  # the same trace, the same windows
    stride = lookups // len(bounds)
    for k, (lead, start, stop) in enumerate(bounds):
        assert k * stride <= lead <= start < stop <= (k + 1) * stride


def test_windows_given_the_batches_start_at_evenly_spread_phases_of_them() -> None:
    # Batches of uneven size (as a trace's are: pooling is drawn), so phases cannot come from a
    # fixed period. Each of the 16 windows starts in its own sixteenth of a batch, in its stratum.
    sizes = np.random.default_rng(1).integers(6_000, 8_000, size=40)
    starts = np.concatenate(([0], np.cumsum(sizes)))
    lookups = int(starts[-1])
    bounds = window_bounds(lookups, 40_000, starts)
    assert bounds == window_bounds(lookups, 40_000, starts)
    stride = lookups // len(bounds)
    slices = []
    for k, (lead, start, stop) in enumerate(bounds):
        assert k * stride <= lead <= start < stop <= (k + 1) * stride
        batch = int(np.searchsorted(starts, start, side="right")) - 1
        slices.append(int((start - starts[batch]) / sizes[batch] * len(bounds)))
    assert sorted(slices) == list(range(len(bounds)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1.0, 2.0), max_size=30))
def test_a_curve_is_made_non_decreasing_by_pooling_its_violators(hits: list[float]) -> None:
    fitted = _non_decreasing(hits)
    assert len(fitted) == len(hits) and all(a <= b + 1e-12 for a, b in itertools.pairwise(fitted))
    assert sum(fitted) == pytest.approx(sum(hits), abs=1e-9)  # pooling keeps each block's mean
    if hits == sorted(hits):
        assert fitted == hits


def test_pooled_violators_take_their_mean() -> None:
    assert _non_decreasing([0.1, 0.5, 0.3, 0.6]) == pytest.approx([0.1, 0.4, 0.4, 0.6])
    assert _non_decreasing([0.9, 0.6, 0.3]) == pytest.approx([0.6, 0.6, 0.6])


def test_windows_do_not_fall_on_the_same_phases_of_a_periodic_trace() -> None:
    # The test trace below: 40 batches of about 7,180 accesses, 16 windows 2.5 batches apart.
    # Each window ended its stratum, so all of them ended at two phases of a batch (0 and 1/2),
    # in two of its four tables, and the shared curve was off by up to 0.17 over seeds 0-11.
    period = 287_314 / 40
    phases = {int((stop % period) / period * 8) for _, _, stop in window_bounds(287_314, 40_000)}
    assert len(phases) >= 5  # of 8 eighths of a batch


@pytest.mark.parametrize("seed", [2, 0, 3, 4])
def test_a_sampled_lru_curve_follows_the_exact_one(model: ModelSpec, tmp_path: Path,
                                                   seed: int) -> None:
    # Before, row sampling alone gave one value for every cache below 1/rate rows (4 to 8 times
    # the exact hit ratio of a 1-row cache on the README's m1 trace) and a last point above
    # 1 - unique ratio, which no cache reaches. Seeds 0, 3 and 4 put the shared curve 0.034 to
    # 0.053 off while its windows took random phases of the batches (so random shares of the
    # four tables); only seed 2 was tested then.
    generate_trace(model, tmp_path / "t", batches=40, batch_size=500, seed=seed)
    source = open_source(tmp_path / "t")
    exact = trace_stats(source, lru_max_accesses=10**9, show_progress=False)
    sampled = trace_stats(source, lru_max_accesses=40_000, show_progress=False)
    for got, want in [(sampled, exact), *zip(sampled["tables"], exact["tables"], strict=True)]:
        truth = dict(zip(want["lru"]["cache_rows"], want["lru"]["hit_ratio"], strict=True))
        assert want["lru"]["sample_rate"] == 1.0 and got["lru"]["cache_rows"][0] == 1
        for size, hit in zip(got["lru"]["cache_rows"], got["lru"]["hit_ratio"], strict=True):
            assert hit == pytest.approx(truth.get(size, truth[max(truth)]), abs=0.03), size
            assert hit <= 1.0 - want["unique_ratio"] + 1e-12
        assert list(got["lru"]["hit_ratio"]) == sorted(got["lru"]["hit_ratio"])  # an LRU's never falls
    assert sampled["lru"]["sample_rate"] < 0.2
    assert f"rows sampled at rate {sampled['lru']['sample_rate']:.4g}" in format_stats(sampled)


def _fitted_twice(source: object, tmp_path: Path) -> tuple[ModelSpec, dict[str, Any]]:
    """The model fitted to `source`, and the stats of a trace generated from it."""
    report = trace_stats(source, lru=False, show_progress=False)  # type: ignore[arg-type]
    fitted = fit_trace_stats(report)
    batches, size = report["batches"], max(report["batch_sizes"])
    generate_trace(fitted, tmp_path / "again.trace", batches=batches, batch_size=size, seed=9,
                   show_progress=False)
    return fitted, trace_stats(open_source(tmp_path / "again.trace"), lru=False,
                               show_progress=False)


def test_the_fit_of_tables_whose_every_row_is_touched(tmp_path: Path) -> None:
    # Before, the unique ratio (1 per row, whatever s) gave s = 0 for both tables.
    tables = (TableSpec("small", 30, 8, PoolingSpec(20.0, "fixed"), PopularitySpec("zipf", 1.05)),
              TableSpec("mid", 2000, 8, PoolingSpec(30.0, "lognormal", sigma=0.5),
                        PopularitySpec("zipf", 0.8)))
    truth = ModelSpec("dense", 4, tables, (16,), (16,))
    generate_trace(truth, tmp_path / "t", batches=10, batch_size=500, seed=3, show_progress=False)
    fitted, _ = _fitted_twice(open_source(tmp_path / "t"), tmp_path)
    assert [t.popularity.zipf_s for t in fitted.tables] == [pytest.approx(1.05, abs=0.05),
                                                            pytest.approx(0.8, abs=0.05)]
    assert "small, mid, whose unique ratio does not tell s" in fitted.description


def test_a_fit_to_a_dlrm_distribution_keeps_its_head(data_dir: Path, tmp_path: Path) -> None:
    # Ids 1..6 of 7 rows at 100,000 lookups: before, the fit ran to its bound, s = 4, and the
    # trace generated from it put 0.924 of the lookups on one row, against 0.168.
    source = open_source(data_dir / "dlrm_dist_emb.log")
    share = trace_stats(source, lru=False, show_progress=False)["top1pct_share"]
    fitted, again = _fitted_twice(source, tmp_path)
    assert fitted.tables[0].popularity.zipf_s < 1.0
    assert again["top1pct_share"] == pytest.approx(share, abs=0.02)


def test_the_fit_keeps_bags_of_one_length_fixed_and_others_spread(data_dir: Path, model: ModelSpec,
                                                                  tmp_path: Path) -> None:
    # Criteo has one lookup per bag; before, every table was fitted lognormal with sigma 1,
    # which left 2,002 of 5,200 bags empty.
    criteo = open_source(data_dir / "criteo_sample.csv", options=ReadOptions(rows=1000))
    fitted, again = _fitted_twice(criteo, tmp_path)
    assert {t.pooling.distribution for t in fitted.tables} == {"fixed"}
    assert {(t["min_pooling"], t["max_pooling"]) for t in again["tables"]} == {(1, 1)}
    spread = ModelSpec("spread", 4, (TableSpec("t", 1000, 8, PoolingSpec(12.0, "lognormal",
                                                                         sigma=0.4)),), (16,), (16,))
    generate_trace(spread, tmp_path / "s.trace", batches=20, batch_size=500, seed=1,
                   show_progress=False)
    fitted = fit_trace_stats(trace_stats(open_source(tmp_path / "s.trace"), lru=False,
                                         show_progress=False))
    assert fitted.tables[0].pooling.sigma == pytest.approx(0.4, abs=0.03)


def test_the_stats_table_keeps_its_columns_apart_at_large_pooling(tmp_path: Path) -> None:
    # Before, ratio 0.0001 and pool 1000000.00 ran together as "0.00011000000.00".
    wide = ModelSpec("wide", 4, (TableSpec("t", 100, 8, PoolingSpec(1e6, "fixed")),), (16,), (16,))
    generate_trace(wide, tmp_path / "w.trace", batches=1, batch_size=1, seed=1, show_progress=False)
    text = format_stats(trace_stats(open_source(tmp_path / "w.trace"), lru=False,
                                    show_progress=False))
    row = next(line for line in text.splitlines() if line.startswith("t "))
    assert row.split()[1:6] == ["100", "1,000,000", "100", "0.0001", "1000000.00"]

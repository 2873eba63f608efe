"""Generator: determinism, pooling, truncation, popularity options, streaming to a file."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.specs import ModelSpec, PoolingSpec, PopularitySpec, TableSpec
from traces import TraceError, generate_trace, open_native, summarize_model, summarize_trace
from traces.generator import ModelGenerator
from traces.pooling import PoolingSampler
from traces.summary import ModelSummary
from traces.zipf_split import head_ranks


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_same_bytes(model: ModelSpec, tmp_path: Path) -> None:
    for name in ("a", "b"):
        generate_trace(model, tmp_path / name, batches=3, batch_size=64, seed=5)
    generate_trace(model, tmp_path / "c", batches=3, batch_size=64, seed=6)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_threads_do_not_change_numbers(model: ModelSpec) -> None:
    one = summarize_model(model, batches=3, batch_size=64, seed=2, workers=1)
    two = summarize_model(model, batches=3, batch_size=64, seed=2, workers=2)
    assert (one.lookups == two.lookups).all() and (one.unique_rows == two.unique_rows).all()


def test_a_summary_asked_in_rounds_equals_one_draw(model: ModelSpec) -> None:
    # The demand sample grows in rounds (pilot, then more): a round draws only the new batches,
    # and the batches must be those of a single draw of the final count.
    whole = summarize_model(model, batches=7, batch_size=64, seed=4)
    growing = ModelSummary(model, batch_size=64, seed=4)
    pilot = growing.first(2)
    assert growing.counted == 2
    rounds = growing.first(7)
    assert growing.counted == 7 and growing.first(3).num_batches == 3 and growing.counted == 7
    assert (rounds.lookups == whole.lookups).all() and (rounds.unique_rows == whole.unique_rows).all()
    assert (pilot.lookups == whole.lookups[:2]).all()
    with pytest.raises(TraceError, match="batches must be a whole number"):
        growing.first(0)


def test_written_trace_is_valid_and_in_range(model: ModelSpec, tmp_path: Path) -> None:
    lookups = generate_trace(model, tmp_path / "t", batches=4, batch_size=100, seed=1)
    trace = open_native(tmp_path / "t")
    assert trace.num_batches == 4 and trace.rows == (1000, 50_000, 30, 10_000_000)
    total = 0
    for batch in trace.iter_batches():  # validates offsets, ranges and checksums
        total += batch.indices.size
        assert set(batch.lengths()[1].tolist()) <= {2, 3}  # fixed 2.5: stochastic rounding
        assert batch.lengths().max() <= 32
    assert total == lookups


def test_pooling_means_and_truncation() -> None:
    rng = np.random.default_rng(0)
    for spec in (PoolingSpec(2.5), PoolingSpec(10, "uniform"), PoolingSpec(10, "lognormal"),
                 PoolingSpec(10, "power_law", alpha=3.0)):
        mean = PoolingSampler(spec).sample(rng, 400_000).mean()
        assert mean == pytest.approx(spec.mean_lookups, rel=0.03)
    capped = PoolingSampler(PoolingSpec(50, "lognormal", max_lookups=32)).sample(rng, 10_000)
    assert capped.max() == 32 and capped.min() >= 0


def test_heavy_hitters_take_their_share() -> None:
    table = TableSpec("h", 100_000, 4, PoolingSpec(10.0),
                      PopularitySpec("zipf", 0.5, heavy_hitters=(0.3, 0.1)))
    gen = ModelGenerator(ModelSpec("h", 1, (table,), (4,), (4,)), seed=3)
    _, ranks = gen.streams[0].next_batch(20_000)
    assert np.mean(ranks == 0) == pytest.approx(0.3, abs=0.01)
    assert np.mean(ranks == 1) == pytest.approx(0.1, abs=0.01)


def test_reuse_fraction_repeats_previous_batch_rows() -> None:
    def overlap(reuse: float) -> float:
        table = TableSpec("r", 5_000_000, 4, PoolingSpec(10.0), PopularitySpec("zipf", 0.6,
                                                                               reuse_fraction=reuse))
        gen = ModelGenerator(ModelSpec("r", 1, (table,), (4,), (4,)), seed=3)
        first = gen.streams[0].next_batch(2000)[1]
        second = gen.streams[0].next_batch(2000)[1]
        return float(np.isin(second, first).mean())

    assert overlap(0.5) > overlap(0.0) + 0.4


def test_summarize_model_equals_generate_then_summarize(tmp_path: Path, make_model: Any) -> None:
    # Number for number where every table is drawn lookup by lookup, as here: at 128 examples
    # no Zipf table's head expects enough draws to be counted (tests/traces/
    # test_traces_zipf_split.py checks the law of those that are).
    model = make_model(reuse_fraction=0.2)
    assert not any(head_ranks(t.rows, t.popularity.zipf_s, t.pooling.effective_mean_lookups * 128)
                   for t in model.tables)
    generate_trace(model, tmp_path / "t", batches=5, batch_size=128, seed=11)
    from_file = summarize_trace(tmp_path / "t")
    direct = summarize_model(model, batches=5, batch_size=128, seed=11)
    assert (from_file.lookups == direct.lookups).all()
    assert (from_file.unique_rows == direct.unique_rows).all()
    assert direct.bytes_read(4).shape == (5, 4)
    assert (direct.bytes_unique(2) == direct.unique_rows * 8 * 2).all()
    assert summarize_trace(tmp_path / "t", max_batches=2).num_batches == 2


def test_split_tables_draw_the_same_in_worker_processes(model: ModelSpec) -> None:
    # At 4096 examples the Zipf tables' hottest ranks are counted (traces/zipf_split.py): their
    # streams, with the split's state, go to the workers and come back on close unchanged.
    from traces.summary_processes import can_fork

    if not can_fork():
        pytest.skip("fork is not available or not safe here")
    assert head_ranks(1000, 1.05, model.tables[0].pooling.effective_mean_lookups * 4096) > 0
    alone = ModelSummary(model, batch_size=4096, seed=8)
    with ModelSummary(model, batch_size=4096, seed=8, processes=2, min_fork_lookups=0) as forked:
        a, b = alone.first(3), forked.first(3)
        assert (a.lookups == b.lookups).all() and (a.unique_rows == b.unique_rows).all()
    a, b = alone.first(5), forked.first(5)  # closed: it goes on alone from the returned streams
    assert (a.lookups == b.lookups).all() and (a.unique_rows == b.unique_rows).all()


def test_a_summary_drawn_in_worker_processes_equals_one_drawn_alone(model: ModelSpec) -> None:
    # Each table has its own stream, so splitting the tables over forked workers changes no
    # number, round after round; the workers start at the first round and stop on close.
    from traces.summary_processes import can_fork

    if not can_fork():
        pytest.skip("fork is not available or not safe here")
    alone = ModelSummary(model, batch_size=64, seed=4)
    with ModelSummary(model, batch_size=64, seed=4, processes=3, min_fork_lookups=0) as forked:
        for count in (2, 7):
            a, b = alone.first(count), forked.first(count)
            assert (a.lookups == b.lookups).all() and (a.unique_rows == b.unique_rows).all()
        workers = list(forked._workers)
        assert len(workers) == 2 and all(w._process.is_alive() for w in workers)
    assert not any(w._process.is_alive() for w in workers)
    later = forked.first(9)  # once closed, it counts alone, and goes on with the same streams
    assert forked._workers == [] and (later.lookups == alone.first(9).lookups).all()


def test_tables_are_grouped_by_expected_lookups() -> None:
    from traces.summary_processes import table_groups

    groups = table_groups([10.0, 1.0, 1.0, 8.0, 2.0], 2)
    assert sorted(t for g in groups for t in g) == [0, 1, 2, 3, 4]
    assert groups == [[0, 1], [2, 3, 4]]  # 11 and 11 lookups per batch
    assert table_groups([5.0], 4) == [[0]]  # no empty group


def test_a_trace_summary_asked_in_rounds_reads_each_batch_once(
        model: ModelSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # sim.demand grows a trace's sample in rounds too: a round reads on from where the last
    # stopped (before, each round read the file again from its first batch).
    from traces.native import NativeTrace
    from traces.summary import TraceSummary

    generate_trace(model, tmp_path / "t", batches=7, batch_size=64, seed=3)
    whole = summarize_trace(tmp_path / "t")
    reads: list[int] = []
    read_batch = NativeTrace.read_batch

    def counted(self: NativeTrace, number: int, **kw: Any) -> Any:
        reads.append(number)
        return read_batch(self, number, **kw)

    monkeypatch.setattr(NativeTrace, "read_batch", counted)
    growing = TraceSummary(tmp_path / "t")
    pilot, rounds = growing.first(2), growing.first(5)
    everything = growing.first(100)  # more than the trace holds: all it holds
    assert reads == list(range(7)) and growing.counted == everything.num_batches == 7
    assert (pilot.lookups == whole.lookups[:2]).all() and rounds.num_batches == 5
    assert (everything.lookups == whole.lookups).all()
    assert (everything.unique_rows == whole.unique_rows).all()
    assert everything.batch_size == whole.batch_size == 64


def test_a_trace_with_batches_of_different_sizes_is_refused(model: ModelSpec,
                                                            tmp_path: Path) -> None:
    from traces.native import TraceTable, write_native

    generator = ModelGenerator(model, seed=1)
    batches = [next(generator.batches(1, size)) for size in (64, 64, 10)]
    tables = [TraceTable(t.name, t.rows, t.dim) for t in model.tables]
    write_native(tmp_path / "t", tables, batches)
    assert summarize_trace(tmp_path / "t", max_batches=2).batch_size == 64
    with pytest.raises(TraceError, match=r"batches of different sizes \[10, 64\]; pass max_batches"):
        summarize_trace(tmp_path / "t")


def test_bad_counts_raise(model: ModelSpec, tmp_path: Path) -> None:
    with pytest.raises(TraceError):
        generate_trace(model, tmp_path / "t", batches=0, batch_size=4, seed=1)
    with pytest.raises(TraceError, match="seed must be a whole number >= 0, got -1"):
        generate_trace(model, tmp_path / "t", batches=1, batch_size=4, seed=-1)
    assert not list(tmp_path.iterdir())


def test_a_path_of_the_wrong_type_names_the_argument(model: ModelSpec) -> None:
    # A number for the path was a TypeError from deep in pathlib that named nothing.
    with pytest.raises(TraceError, match=r"path = 5 .*: give the path of the native trace"):
        generate_trace(model, 5, batches=1, batch_size=4, seed=1)  # type: ignore[arg-type]


def test_error_while_writing_leaves_nothing(model: ModelSpec, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: object, batches: int, batch_size: int) -> object:
        yield from []
        raise RuntimeError("disk full")

    monkeypatch.setattr(ModelGenerator, "batches", broken)
    with pytest.raises(RuntimeError):
        generate_trace(model, tmp_path / "t", batches=2, batch_size=4, seed=1)
    assert not list(tmp_path.iterdir())

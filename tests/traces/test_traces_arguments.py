"""The trace readers and statistics called from Python with arguments of the wrong type: a
TraceError that names the argument and what to give, not a TypeError or AttributeError."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.presets import load_model
from traces.errors import TraceError
from traces.generator import generate_trace
from traces.native import open_native
from traces.sources import ReadOptions, open_source
from traces.stats import trace_stats


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trace") / "small.trace"
    generate_trace(load_model("test_suite"), path, batches=2, batch_size=8, seed=0,
                   show_progress=False)
    return path


@pytest.mark.parametrize("opener", [open_native, open_source])
@pytest.mark.parametrize("value", [123, None, ""])
def test_the_openers_name_their_path(opener: object, value: object) -> None:
    with pytest.raises(TraceError, match=r"path = .*: give the path of a"):
        opener(value)  # type: ignore[operator]


def test_open_source_takes_only_read_options(trace: Path) -> None:
    with pytest.raises(TraceError, match=r"options = \{'rows': 5\}: give a ReadOptions"):
        open_source(trace, options={"rows": 5})  # type: ignore[arg-type]


@pytest.mark.parametrize("field, value, words", [
    ("dim", "4", "--dim '4': give a whole number >= 1"),
    ("batch_size", None, "--batch-size None"),
    ("rows", "4", "--rows '4': give 1 to"),
    ("rows", 1.5, "--rows 1.5: give 1 to"),
])
def test_read_options_name_a_count_of_another_type(field: str, value: object,
                                                    words: str) -> None:
    with pytest.raises(TraceError, match=words):
        ReadOptions(**{field: value})  # type: ignore[arg-type]


def test_trace_stats_takes_a_source_not_a_path(trace: Path) -> None:
    with pytest.raises(TraceError, match=r"source = .*: give a Source, e.g. "
                                         r"traces.sources.open_source\(path\)"):
        trace_stats(str(trace), show_progress=False)  # type: ignore[arg-type]


@pytest.mark.parametrize("keyword, value", [("max_batches", "1"), ("max_batches", 0),
                                            ("lru_max_accesses", "x")])
def test_trace_stats_names_a_bad_count(trace: Path, keyword: str, value: object) -> None:
    with pytest.raises(TraceError, match=rf"{keyword} = .*: give a whole number >= 1"):
        trace_stats(open_source(trace), show_progress=False, **{keyword: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("call", ["generate_trace", "summarize_model"])
def test_the_generators_take_a_loaded_model_not_its_name(tmp_path: Path, call: str) -> None:
    from traces.summary import summarize_model

    with pytest.raises(TraceError, match=r"model = 'test_suite' \(str\): give a ModelSpec, "
                                         r"e\.g\. sim\.presets\.load_model\('test_suite'\)"):
        if call == "generate_trace":
            generate_trace("test_suite", tmp_path / "t.trace", batches=1,  # type: ignore[arg-type]
                           batch_size=4, seed=0, show_progress=False)
        else:
            summarize_model("test_suite", batches=1, batch_size=4, seed=0)  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())  # nothing half-written


@pytest.mark.parametrize("workers", [0, 1.5, "2", True])
def test_the_generators_name_a_bad_thread_count(workers: object) -> None:
    from traces.summary import summarize_model

    with pytest.raises(TraceError, match=r"workers = .*: give a whole number >= 1"):
        summarize_model(load_model("test_suite"), batches=1, batch_size=4, seed=0,
                        workers=workers)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["1", 0, -2, 1.0])
def test_summarize_trace_names_a_bad_batch_count(trace: Path, value: object) -> None:
    from traces.summary import summarize_trace

    with pytest.raises(TraceError, match=r"max_batches = .*: give a whole number >= 1, or None"):
        summarize_trace(trace, max_batches=value)  # type: ignore[arg-type]
    assert summarize_trace(trace, max_batches=1).num_batches == 1

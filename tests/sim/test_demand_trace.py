"""A replayed trace is checked against the model before anything is counted (table count, then
rows; names differing alone are noted), and a converted trace's short last batch is left out of
the replay with a note instead of stopping it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from sim.demand import demand_for
from sim.errors import DlrmsimInputError
from sim.presets import load_model
from sim.specs import ModelSpec
from traces.generator import ModelGenerator
from traces.native import TraceTable, write_native

BATCH = 64


@pytest.fixture
def model() -> ModelSpec:
    return load_model("test_suite")


def write_trace(path: Path, model: ModelSpec, sizes: Sequence[int], *, rows_times: int = 1,
                renamed: bool = False) -> str:
    """A trace of `model`'s lookups, one batch per size; tables' rows scaled, names changed."""
    generator = ModelGenerator(model, seed=0)
    batches = [next(generator.batches(1, size)) for size in sizes]
    tables = [TraceTable(f"other{t.name}" if renamed else t.name, t.rows * rows_times, t.dim)
              for t in model.tables]
    write_native(path, tables, batches)
    return str(path)


def test_a_short_last_batch_is_left_out_with_a_note(tmp_path: Path, model: ModelSpec) -> None:
    with_short = write_trace(tmp_path / "short.trace", model, [BATCH] * 3 + [BATCH // 3])
    equal = write_trace(tmp_path / "equal.trace", model, [BATCH] * 3)
    demand = demand_for(model, BATCH, seed=0, trace=with_short)
    assert np.array_equal(demand.lookups, demand_for(model, BATCH, seed=0, trace=equal).lookups)
    (note,) = demand.notes
    assert f"last batch of trace {with_short} holds {BATCH // 3} examples" in note
    assert "left out" in note


def test_batches_of_other_mixed_sizes_are_refused(tmp_path: Path, model: ModelSpec) -> None:
    mixed = write_trace(tmp_path / "mixed.trace", model, [BATCH, BATCH // 2, BATCH])
    with pytest.raises(DlrmsimInputError, match=r"mixed\.trace has batches of 2 sizes.*one size"):
        demand_for(model, BATCH, seed=0, trace=mixed)


def test_the_table_count_is_checked_before_the_batch_sizes(tmp_path: Path,
                                                          model: ModelSpec) -> None:
    fewer = dataclasses.replace(model, tables=model.tables[:2])
    trace = write_trace(tmp_path / "two.trace", fewer, [BATCH, BATCH // 2, BATCH])
    with pytest.raises(DlrmsimInputError, match=f"has 2 tables but model test_suite has "
                                                f"{model.num_tables}"):
        demand_for(model, BATCH, seed=0, trace=trace)


def test_a_trace_whose_tables_have_other_rows_is_refused(tmp_path: Path,
                                                         model: ModelSpec) -> None:
    trace = write_trace(tmp_path / "rows.trace", model, [BATCH], rows_times=2)
    first = model.tables[0]
    with pytest.raises(DlrmsimInputError, match=(
            f"table #0 '{first.name}' has {2 * first.rows:,} rows but model test_suite's table "
            f"'{first.name}' has {first.rows:,}.*dlrmsim trace fit")):
        demand_for(model, BATCH, seed=0, trace=trace)


def test_tables_named_otherwise_are_noted_and_replayed(tmp_path: Path, model: ModelSpec) -> None:
    renamed = write_trace(tmp_path / "renamed.trace", model, [BATCH] * 2, renamed=True)
    same = write_trace(tmp_path / "same.trace", model, [BATCH] * 2)
    demand = demand_for(model, BATCH, seed=0, trace=renamed)
    assert np.array_equal(demand.lookups, demand_for(model, BATCH, seed=0, trace=same).lookups)
    (note,) = demand.notes
    assert f"{model.num_tables} of trace {renamed}'s {model.num_tables} tables are named" in note


def test_a_trace_of_another_batch_size_is_rescaled_with_a_note(tmp_path: Path,
                                                               model: ModelSpec) -> None:
    """The job's batch is twice the trace's: every batch's lookups double (a whole factor, so
    exactly), and a note says that distinct rows were scaled linearly, which overstates them."""
    trace = write_trace(tmp_path / "half.trace", model, [BATCH] * 2)
    same = demand_for(model, BATCH, seed=0, trace=trace)
    double = demand_for(model, 2 * BATCH, seed=0, trace=trace)
    assert not same.notes
    assert np.array_equal(double.lookups, 2 * same.lookups)
    (note,) = double.notes
    assert f"trace {trace} has batches of {BATCH} examples and the run {2 * BATCH}" in note
    assert "overstates" in note and f"--batch-size {2 * BATCH}" in note


def test_a_trace_of_another_table_count_says_every_way_out(tmp_path: Path,
                                                           model: ModelSpec) -> None:
    # The advice names the preset to generate for when the model is that preset, unchanged,
    # and offers a model fitted to the trace.
    trace = write_trace(tmp_path / "two.trace", dataclasses.replace(model, tables=model.tables[:2]),
                        [BATCH])
    with pytest.raises(DlrmsimInputError) as caught:
        demand_for(model, BATCH, seed=0, trace=trace)
    message = str(caught.value)
    assert "trace generate --model test_suite)" in message and "trace fit" in message
    # A preset edited under its own name: its name would give the preset, not this model.
    edited = dataclasses.replace(model, dense_features=model.dense_features + 1)
    with pytest.raises(DlrmsimInputError) as caught:
        demand_for(edited, BATCH, seed=0, trace=trace)
    assert "--model MODEL.yaml, the file that defines model test_suite" in str(caught.value)

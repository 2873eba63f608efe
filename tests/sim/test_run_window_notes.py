"""What a run's stated error cannot include is said, not hidden: a measured window too short for
the CPU trainers' EASGD syncs, a trace of a single batch, and settings the trainers do not use;
and a precision target tighter than the replayed sample's default is met by a larger sample."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from sim.demand import DEMAND_RSE_TARGET, MAX_BATCHES, demand_for
from sim.presets import load_job, load_model
from sim.run import simulate


def _notes_about(result_notes: tuple[str, ...], words: str) -> list[str]:
    return [n for n in result_notes if words in n]


def test_a_window_shorter_than_two_easgd_periods_is_noted_and_its_advice_works() -> None:
    # test_suite_cpu: one trainer, one thread, EASGD every 10 iterations. Ten iterations measure
    # 8, none of them a sync, so the run looked 9% fast with a 0.3% error and no word of it.
    short = simulate("test_suite_cpu", iterations=10)
    [note] = _notes_about(short.notes, "EASGD periods")
    assert short.phase_time_s.get("easgd", 0.0) == 0.0  # the window missed every sync
    advice = re.search(r"give at least (\d+) iterations", note)
    assert advice is not None, note
    enough = int(advice.group(1))
    long = simulate("test_suite_cpu", iterations=enough)
    assert not _notes_about(long.notes, "EASGD periods")
    assert long.measured_iterations >= 20 and long.phase_time_s["easgd"] > 0
    # and it is the fewest that do
    assert _notes_about(simulate("test_suite_cpu", iterations=enough - 1).notes, "EASGD periods")


def test_a_window_of_one_whole_easgd_period_needs_no_note() -> None:
    # 12 iterations, 2 of them warm-up: the one trainer syncs exactly once in the window, as
    # `dlrmsim reproduce --quick` runs the CPU setups.
    result = simulate("test_suite_cpu", iterations=12)
    assert result.measured_iterations == 10 and result.phase_time_s["easgd"] > 0
    assert not _notes_about(result.notes, "EASGD periods")


def test_a_precision_stop_waits_for_two_easgd_periods() -> None:
    # EASGD every 40 iterations of the one trainer: a stop after the usual 20 rounds could
    # close the window before the first sync and call the sync-free rate precise.
    job = dataclasses.replace(load_job("test_suite_cpu"), easgd_period=40)
    result = simulate(job, target_rse=0.05, iterations=400)
    assert result.measured_iterations >= 80
    assert result.phase_time_s["easgd"] > 0
    assert not _notes_about(result.notes, "EASGD periods")


def test_gpu_trainers_have_no_easgd_note() -> None:
    result = simulate("test_suite_gpu", iterations=4)
    assert not _notes_about(result.notes, "EASGD")


def test_a_one_batch_trace_is_noted(tmp_path: Path) -> None:
    from traces.generator import generate_trace

    model = load_model("test_suite")
    notes = {}
    for batches in (1, 2):
        path = tmp_path / f"b{batches}.trace"
        generate_trace(model, path, batches=batches, batch_size=1600, seed=0)
        result = simulate("test_suite_gpu", trace=str(path), iterations=4)
        notes[batches] = _notes_about(result.notes, "one usable batch")
    assert len(notes[1]) == 1 and "--batches" in notes[1][0]
    assert notes[2] == []


def test_a_tight_target_draws_a_more_precise_sample() -> None:
    model = load_model("test_suite")
    default = demand_for(model, 200, seed=0)
    tight = demand_for(model, 200, seed=0, target=DEMAND_RSE_TARGET / 4)
    assert tight.num_batches > default.num_batches
    assert tight.lookups_rse <= DEMAND_RSE_TARGET / 4 or tight.num_batches == MAX_BATCHES
    # The larger sample extends the default one: the same batches first.
    assert (tight.lookups[:default.num_batches] == default.lookups).all()


def test_a_run_with_a_tight_target_replays_the_tighter_sample() -> None:
    loose = simulate("test_suite_cpu", target_rse=0.02, iterations=6)
    tight = simulate("test_suite_cpu", target_rse=0.002, iterations=6)
    assert tight.demand_batches > loose.demand_batches
    assert tight.demand_rse <= 0.001 or tight.demand_batches == MAX_BATCHES


@pytest.mark.parametrize(("job", "override", "said"), [
    ("test_suite_cpu", {"gpus": 2}, "--gpus"),
    ("test_suite_gpu", {"hogwild": 4}, "--hogwild"),
    ("test_suite_gpu", {"ps_platform": "zion"}, "--ps-platform"),
])
def test_a_setting_the_trainers_do_not_use_is_noted(job: str, override: dict[str, Any],
                                                     said: str) -> None:
    result = simulate(job, iterations=4, **override)
    assert len(_notes_about(result.notes, said)) == 1
    assert not _notes_about(simulate(job, iterations=4).notes, said)

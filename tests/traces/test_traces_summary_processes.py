"""Worker processes of a ModelSummary when a round is interrupted (Ctrl-C, an error in the
parent): they stop, and the interruption is what the caller sees."""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence

import numpy as np
import pytest

from sim.specs import ModelSpec
from traces import TraceError
from traces.generator import ModelGenerator, TableStream
from traces.summary import ModelSummary, count_streams
from traces.summary_processes import GroupWorker, can_fork


@pytest.fixture(autouse=True)
def _fork_is_safe() -> None:
    if not can_fork():
        pytest.skip("fork is not available or not safe here")


def _worker(model: ModelSpec) -> GroupWorker:
    return GroupWorker(ModelGenerator(model, seed=1).streams[:2], count_streams)


def test_a_worker_asked_and_not_answered_is_stopped_on_close(model: ModelSpec) -> None:
    worker = _worker(model)
    worker.ask(2, 64)
    assert worker.close() is None  # its streams are past what was counted: not handed back
    assert not worker._process.is_alive()


def test_a_worker_ignores_ctrl_c_which_the_parent_handles(model: ModelSpec) -> None:
    worker = _worker(model)
    try:
        worker.ask(1, 8)
        worker.answer()  # it serves: a signal now reaches its loop, not the fork
        os.kill(worker._process.pid, signal.SIGINT)  # type: ignore[arg-type]
        worker.ask(1, 8)
        lookups, _ = worker.answer()
        assert lookups.shape == (1, 2)
    finally:
        worker.close()


def test_an_interrupted_round_keeps_the_interrupt_and_stops_the_workers(
        model: ModelSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    parent, workers = os.getpid(), []

    def interrupted_in_parent(streams: Sequence[TableStream], batches: int,
                              batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        if os.getpid() != parent:  # the workers count as usual
            return count_streams(streams, batches, batch_size)
        workers.extend(summary._workers)
        raise KeyboardInterrupt  # after the workers were asked for their part of the round

    monkeypatch.setattr("traces.summary.count_streams", interrupted_in_parent)
    summary = ModelSummary(model, batch_size=64, seed=4, processes=3, min_fork_lookups=0)
    with pytest.raises(KeyboardInterrupt), summary:
        summary.first(2)
    assert len(workers) == 2 and not any(w._process.is_alive() for w in workers)
    with pytest.raises(TraceError, match="interrupted"):
        summary.first(2)

"""Notes on settings that change a result without a word otherwise: CPU trainers whose dense
weights nothing synchronizes, and settings the run does not use or uses otherwise than asked."""

from __future__ import annotations

import pytest

from dlrmsim.cli import main
from sim.run import simulate

NEVER_SYNCED = "dense weights of the {} CPU trainers are never synchronized"


def test_cpu_trainers_without_dense_ps_are_noted_as_never_synchronized() -> None:
    result = simulate("m2_cpu", dense_ps=0, iterations=6)
    assert result.notes == (
        "the dense weights of the 20 CPU trainers are never synchronized (the job has no dense "
        "parameter server), so the throughput leaves out EASGD's syncs: an upper bound; give "
        "the job dense parameter servers (--dense-ps N)",)


@pytest.mark.parametrize("hogwild", [1, 4])
def test_one_cpu_trainer_has_one_copy_of_the_weights_and_no_note(hogwild: int) -> None:
    # Its Hogwild threads share the weights in memory: there is nothing to synchronize.
    result = simulate("test_suite_cpu", dense_ps=0, hogwild=hogwild, iterations=6)
    assert not any("never synchronized" in note for note in result.notes)


def test_gpu_trainers_all_reduce_and_get_no_such_note() -> None:
    result = simulate("m1_gpu", trainers=2, iterations=4)
    assert not any("never synchronized" in note for note in result.notes)


def test_a_sweep_notes_the_point_without_dense_ps(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sweep", "--job", "m2_cpu", "--dense-ps", "0,4", "--iterations", "24"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"note (1 of 2 points): the {NEVER_SYNCED.format(20)}" in out

"""Notes on settings that change a result without a word otherwise: CPU trainers whose dense
weights nothing synchronizes, and settings the run does not use or uses otherwise than asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlrmsim.cli import main
from sim.presets import load_model, load_platform
from sim.run import simulate
from traces.generator import ModelGenerator
from traces.native import TraceTable, write_native

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


UNUSED = "; the setting is not used"


def test_sharding_and_packing_without_tables_in_gpu_memory_are_noted() -> None:
    result = simulate("m2_cpu", sharding="row_wise", packing="packed", iterations=24)
    assert result.notes == (
        "sharding = row_wise (--sharding): placement remote keeps no tables in GPU memory, and "
        "only placements gpu and hybrid shard tables over GPUs" + UNUSED,
        "packing = packed (--packing): placement remote keeps no tables in GPU memory, and only "
        "placement gpu packs tables on the fewest GPUs" + UNUSED)
    system = simulate("m2_gpu", placement="system", packing="packed", iterations=4)
    assert system.notes == (
        "packing = packed (--packing): placement system keeps no tables in GPU memory, and only "
        "placement gpu packs tables on the fewest GPUs" + UNUSED,)


@pytest.mark.parametrize(("placement", "packing"), [("gpu", "packed"), ("hybrid", "spread")])
def test_a_gpu_layout_that_the_placement_uses_is_not_noted(placement: str, packing: str) -> None:
    result = simulate("m2_gpu", placement=placement, sharding="row_wise", packing=packing,
                      iterations=4)
    assert not any(UNUSED in note for note in result.notes)


def write_trace(path: Path) -> str:
    model = load_model("test_suite")
    generator = ModelGenerator(model, seed=0)
    batches = [next(generator.batches(1, 200)) for _ in range(4)]
    write_native(path, [TraceTable(t.name, t.rows, t.dim) for t in model.tables], batches)
    return str(path)


def test_a_seed_beside_a_trace_is_noted_as_unused(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "t.trace")
    default, seeded = (simulate("test_suite_cpu", trace=trace, seed=seed, iterations=24)
                       for seed in (0, 5))
    # Nothing else in a run is drawn: the seed changes nothing.
    assert seeded.throughput_examples_per_s == default.throughput_examples_per_s
    assert default.notes == ()
    assert seeded.notes == (f"seed = 5 (--seed): the lookups come from trace {trace}, and "
                            "nothing else in a run is drawn" + UNUSED,)
    assert simulate("test_suite_cpu", seed=5, iterations=24).notes == ()


EXCEED = "(--hogwild) exceed"


def test_hogwild_threads_beyond_the_cores_are_noted_as_sharing_them() -> None:
    cores = load_platform("dual_socket_cpu").cores
    within = simulate("test_suite_cpu", hogwild=cores, iterations=3)
    beyond = simulate("test_suite_cpu", hogwild=cores + 1, iterations=3)
    assert not any(EXCEED in note for note in within.notes)
    (note,) = [note for note in beyond.notes if EXCEED in note]
    assert note.startswith(f"Hogwild threads = {cores + 1} (--hogwild) exceed the {cores} cores "
                           "of a trainer (dual_socket_cpu): each thread runs its kernels on one "
                           "core, and the threads beyond the cores share them")
    # GPU trainers run no Hogwild threads: that note says so instead.
    gpu = simulate("m1_gpu", hogwild=100, iterations=4)
    assert not any(EXCEED in note for note in gpu.notes)
    assert any(note.startswith("Hogwild threads = 100 (--hogwild): GPU trainers")
               for note in gpu.notes)

"""The hybrid placement's host part and GPU sharding, and the `cat` interaction's costs.

Expected values are derived by hand below (closed forms), not from the code under test.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from sim.costs import AnalyticCosts, Processor
from sim.presets import load_platform
from sim.processes import cpu_trainer, gpu_plan
from sim.run import build, simulate
from sim.specs import JobSpec, ModelSpec, PlacementSpec, PoolingSpec, TableSpec

BB = load_platform("big_basin")
ZION = load_platform("zion")
CPU = load_platform("dual_socket_cpu")


# The cat interaction ---------------------------------------------------------------------
# Three tables of dimensions 8, 16 and 24 (cat allows mixed dimensions), 16 dense features,
# bottom MLP 16 -> 32, top MLP with one hidden layer of 64 and the logit.
DIMS = (8, 16, 24)
DENSE, BOTTOM, HIDDEN = 16, 32, 64
CAT_WIDTH = BOTTOM + sum(DIMS)  # 80: bottom output + every pooled embedding, side by side


def small_model(interaction: str = "cat", dims: tuple[int, ...] = DIMS) -> ModelSpec:
    tables = tuple(TableSpec(f"t{i}", 1000, d, PoolingSpec(2.0)) for i, d in enumerate(dims))
    return ModelSpec(f"small_{interaction}", DENSE, tables, (BOTTOM,), (HIDDEN,),
                     interaction=interaction, optimizer="sgd")


def test_top_mlp_input_width_follows_the_interaction() -> None:
    cat = small_model("cat")
    assert cat.bottom_layer_widths == (DENSE, BOTTOM)  # no implied layer to the table dim
    assert cat.top_layer_widths == (80, HIDDEN, 1)
    dot = small_model("dot", (16, 16, 16))
    # dot: the bottom MLP ends at the shared dimension 16; 4 vectors give 4 * 3 / 2 = 6 dots
    assert dot.bottom_layer_widths == (DENSE, BOTTOM, 16)
    assert dot.top_layer_widths == (16 + 6, HIDDEN, 1)


def test_analytic_cat_is_one_copy_each_way_without_arithmetic() -> None:
    eff = BB.efficiency
    costs = AnalyticCosts(eff)
    batch = 1000
    nbytes = 2 * batch * CAT_WIDTH * 4  # read the parts, write the fp32 [batch, 80] tensor
    cpu = Processor("cpu", BB.sockets[0], threads=20)
    bw = min(BB.sockets[0].mem_bw_bytes_per_s * eff.cpu_stream_efficiency,
             20 * eff.core_mem_bw_bytes_per_s)
    for backward in (False, True):
        cost = costs.concat(cpu, batch, CAT_WIDTH, backward=backward)
        assert cost.flops == 0 and cost.mem_bytes == nbytes
        # one operator (torch.cat forward, its split backward), dispatched on the cores
        assert cost.seconds == pytest.approx(nbytes / bw + eff.cpu_op_overhead_s)
    gpu = costs.concat(Processor("gpu", BB.gpus[0]), batch, CAT_WIDTH, backward=False)
    hbm = BB.gpus[0].hbm_bw_bytes_per_s * eff.gpu_stream_efficiency
    assert gpu.seconds == pytest.approx(max(nbytes / hbm, eff.gpu_op_overhead_s))


def _job(model: ModelSpec, platform: str, batch: int, profile: Path | None = None,
         **placement: str):
    server = {"big_basin": BB, "zion": ZION, "dual_socket_cpu": CPU}[platform]
    kind = "gpu" if server.gpus else "system"
    spec = JobSpec(name="t", model=model.name, trainer_platform=platform, batch_size=batch,
                   placement=PlacementSpec(kind=placement.pop("kind", kind), **placement))
    return build(spec, model, server, CPU, profile=profile, trace=None, seed=0, iterations=4,
                 warmup=1)


def _mlp_flops(batch: int, widths: tuple[int, ...], passes: int) -> int:
    return sum(2 * batch * a * b * passes for a, b in itertools.pairwise(widths))


def test_gpu_step_charges_a_cat_model_as_cat() -> None:
    job = _job(small_model("cat"), "big_basin", 1600)
    dense = gpu_plan.dense_costs(job, job.trainers[0], 8)
    b = 200  # 1600 over 8 GPUs
    # top phase: cat, top MLP forward (80x64, 64x1), loss, top MLP backward (both gradients:
    # twice the forward's FLOPs), split. The interaction adds no FLOPs.
    flops = 3 * 2 * b * (80 * HIDDEN + HIDDEN * 1)
    assert dense.top[0].flops == flops
    # bytes: a layer moves its fp32 weights and activations, the backward twice each; the cat
    # and its split each read and write the [b, 80] tensor
    layers = ((80, HIDDEN), (HIDDEN, 1))
    mlp_bytes = sum(3 * 4 * (i * o) + 3 * 4 * b * (i + o) for i, o in layers)
    assert dense.top[0].mem_bytes == mlp_bytes + 2 * (2 * b * 80 * 4)
    # Every kernel of this tiny model waits for its dispatch: cat 1, per layer 2 forward and
    # 6 backward (activation, two mm, bias sum, SGD of weight and bias), split 1: 18 operators.
    assert dense.top[0].seconds == pytest.approx(18 * BB.efficiency.gpu_op_overhead_s)


def test_cpu_trainer_charges_a_cat_model_as_cat() -> None:
    job = _job(small_model("cat"), "dual_socket_cpu", 200)
    forward, backward = cpu_trainer.dense_costs(job, job.trainers[0], 0)
    b = 200
    bottom, top = (DENSE, BOTTOM), (80, HIDDEN, 1)
    assert forward.flops == _mlp_flops(b, bottom, 1) + _mlp_flops(b, top, 1)
    parameters = (DENSE * BOTTOM + BOTTOM) + (80 * HIDDEN + HIDDEN) + (HIDDEN + 1)
    # backward: top MLP with both gradients, bottom MLP's weight gradient only (its input is
    # data), the dense SGD step (2 FLOPs a parameter)
    assert backward.flops == (_mlp_flops(b, top, 2) + _mlp_flops(b, bottom, 1)
                              + 2 * parameters)


def _dot_profile(tmp_path: Path) -> Path:
    """A CUDA profile that times only the dot interaction, at 1 ms a call whatever its shape."""
    piece = {"when": {}, "terms": [{"coef": 1e-3, "powers": {}}]}
    model = {"form": "piecewise_monomial_sum", "params": ["batch", "features", "dim"],
             "pieces": [piece], "fit_error": {"holdout_median_abs_rel": 0.01}}
    data = {"schema": "dlrmsim.profile", "schema_version": 1, "device": "cuda", "mode": "quick",
            "host": {"gpu_name": "Profiled GPU", "torch_threads": 1}, "measurements": [],
            "cost_models": {"interaction_forward": model, "interaction_backward": model},
            "bandwidths_bytes_per_s": {}}
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(data))
    return path


def _top_s(model: ModelSpec, profile: Path | None = None) -> float:
    job = _job(model, "big_basin", 1600, profile)
    return gpu_plan.dense_costs(job, job.trainers[0], 8).top[0].seconds


def test_a_profile_of_the_dot_interaction_does_not_time_a_cat(tmp_path: Path) -> None:
    profile = _dot_profile(tmp_path)
    # The profile has no cat kernel and nothing else it times runs here: all analytic.
    assert _top_s(small_model("cat"), profile) == pytest.approx(_top_s(small_model("cat")))
    # whereas the dot model's interaction takes the profile's 1 ms forward and backward
    dot = small_model("dot", (16, 16, 16))
    assert _top_s(dot, profile) > _top_s(dot) + 1.9e-3
    # and the result says that the cat was not timed by the profile
    notes = simulate(model=small_model("cat"), platform="big_basin", profile=profile,
                     iterations=4).notes
    said = [n for n in notes if "cat interaction" in n]
    assert len(said) == 1 and str(profile) in said[0] and "analytic" in said[0]
    notes = simulate(model=dot, platform="big_basin", profile=profile, iterations=4).notes
    assert not any("cat interaction" in n for n in notes)
    notes = simulate(model=small_model("cat"), platform="big_basin", iterations=4).notes
    assert not any("cat interaction" in n for n in notes)

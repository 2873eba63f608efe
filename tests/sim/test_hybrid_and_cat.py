"""The hybrid placement's host part and GPU sharding, and the `cat` interaction's costs.

Expected values are derived by hand below (closed forms), not from the code under test.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from sim.costs import AnalyticCosts, Processor
from sim.placement import place
from sim.presets import load_platform
from sim.processes import cpu_trainer, gpu_plan
from sim.run import build, simulate
from sim.specs import JobSpec, ModelSpec, PlacementSpec, PoolingSpec, TableSpec
from sim.specs.checks import SpecError

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


# The hybrid placement ---------------------------------------------------------------------
DIM, ROW_BYTES = 64, 64 * 4 + 4  # fp32 rows with row-wise Adagrad's one fp32 state per row
GPU_BYTES = int(32 * 2**30 * 0.9)  # a V100 32 GB x hbm_usable_fraction (Big Basin and Zion)
ZION_SOCKET = int(256e9 * 0.85)  # 256 GB x dram_usable_fraction
BB_SOCKET = int(128e9 * 0.85)


def hybrid_model(sizes: dict[str, float], lookups: dict[str, float]) -> ModelSpec:
    """Tables of about the given bytes (with optimizer state) and mean lookups."""
    tables = tuple(TableSpec(name, max(1, int(size) // ROW_BYTES), DIM,
                             PoolingSpec(lookups[name])) for name, size in sizes.items())
    return ModelSpec("hybrid_test", 16, tables, (32,), (32,))


def hybrid_job(platform: str, gpus: int = 0, **placement: str) -> JobSpec:
    return JobSpec(name="h", model="hybrid_test", trainer_platform=platform, batch_size=1600,
                   gpus_per_trainer=gpus, placement=PlacementSpec(kind="hybrid", **placement))


def test_the_capacities_these_tests_assume() -> None:
    from sim.placement import gpu_capacity_bytes

    assert gpu_capacity_bytes(ZION) == [GPU_BYTES] * 8 == gpu_capacity_bytes(BB)
    for server, socket in ((ZION, ZION_SOCKET), (BB, BB_SOCKET)):
        assert [int(s.mem_capacity_bytes * server.efficiency.dram_usable_fraction)
                for s in server.sockets] == [socket] * len(server.sockets)


def test_hybrid_shards_a_hot_host_table_over_every_socket() -> None:
    # Zion with one GPU: the hot small table takes it; the 40 GB one cannot, and is alone in
    # host memory, so it gathers all of the host's lookups: more than 1/8 of them. Whole, it
    # would leave 7 of the 8 sockets idle; its 5 GB shards fit every socket.
    m = hybrid_model({"small": 1e9, "big": 40e9}, {"small": 20.0, "big": 10.0})
    placed = {p.table: p for p in place(m, hybrid_job("zion", gpus=1), ZION, CPU).tables}
    assert (placed["small"].location, placed["small"].devices) == ("gpu", (0,))
    assert (placed["big"].location, placed["big"].devices) == ("host", tuple(range(8)))
    # and the step looks it up on all eight sockets
    spec = hybrid_job("zion", gpus=1)
    job = build(spec, m, ZION, CPU, profile=None, trace=None, seed=0, iterations=4, warmup=1)
    plan = gpu_plan.batch_plan(job, gpu_plan.Layout(tuple(job.trainers), 1), 0)
    assert sorted(plan.host_fwd) == list(range(8))


@pytest.mark.parametrize(("cold_share", "sharded"), [(0.8, True), (0.95, False)])
def test_hybrid_shards_a_hot_host_table_only_where_the_sockets_hold_the_shards(
        cold_share: float, sharded: bool) -> None:
    # Nothing fits a GPU (every table exceeds 30.9 GB). The hot table (half a socket, most
    # lookups) lands alone on socket 0 and the seven cold ones on sockets 1-7. Sharding the hot
    # one adds 1/16 of a socket to each: 0.8 + 0.0625 fits, 0.95 + 0.0625 does not.
    sizes = {"hot": 0.5 * ZION_SOCKET, **{f"c{i}": cold_share * ZION_SOCKET for i in range(7)}}
    lookups = {"hot": 40.0, **{f"c{i}": 1.0 for i in range(7)}}
    placed = place(hybrid_model(sizes, lookups), hybrid_job("zion", gpus=1), ZION, CPU)
    hot = next(p for p in placed.tables if p.table == "hot")
    assert hot.location == "host"
    assert hot.devices == (tuple(range(8)) if sharded else (0,))
    for socket, used in placed.bytes_by_device("host").items():
        assert used <= ZION_SOCKET, f"socket {socket} holds {used} of {ZION_SOCKET} bytes"


def test_hybrid_honours_row_wise_sharding_on_the_gpus() -> None:
    # Big Basin, 8 GPUs of G bytes. Row-wise, hottest first: a 5G table's shards take 5/8 of
    # every GPU, a G/2 table's 1/16 more; a 3G table's 3/8 shards find 5/16 free and go to
    # host memory, where, alone, it is sharded over both sockets (its 46 GB halves fit).
    # Table-wise, the 5G table would fit no GPU (and no 108.8 GB socket).
    g = GPU_BYTES
    m = hybrid_model({"a": 5 * g, "b": 0.5 * g, "c": 3 * g}, {"a": 30.0, "b": 20.0, "c": 10.0})
    placed = place(m, hybrid_job("big_basin", sharding="row_wise"), BB, CPU)
    assert placed.sharding == "row_wise"
    where = {p.table: (p.location, p.devices) for p in placed.tables}
    assert where == {"a": ("gpu", tuple(range(8))), "b": ("gpu", tuple(range(8))),
                     "c": ("host", (0, 1))}


def test_hybrid_row_wise_with_every_table_on_the_gpus_is_the_gpu_placement() -> None:
    # Tables that all fit: hybrid row-wise places them as gpu row-wise does, so the runs agree
    # bit for bit (table-wise hybrid puts each table whole on one GPU, and differs).
    runs = {kind: simulate("test_suite_gpu", placement=kind, sharding="row_wise", iterations=6)
            for kind in ("gpu", "hybrid")}
    assert runs["hybrid"].throughput_examples_per_s == runs["gpu"].throughput_examples_per_s


def test_hybrid_refuses_packing_it_cannot_honour() -> None:
    with pytest.raises(SpecError, match=r"PlacementSpec\.packing = 'packed'.*hybrid"):
        PlacementSpec(kind="hybrid", packing="packed")
    with pytest.raises(SpecError, match="packing"):
        simulate("test_suite_gpu", placement="hybrid", packing="packed", iterations=4)
    PlacementSpec(kind="gpu", packing="packed")  # where it applies, still allowed

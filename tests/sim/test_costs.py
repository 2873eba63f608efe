"""The analytic and calibrated cost models answer the same interface consistently."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sim.costs import (
    AnalyticCosts,
    CalibratedCosts,
    EmbeddingWork,
    OpCost,
    Processor,
    cost_model_for,
    ops,
)
from sim.errors import ProfileError
from sim.presets import load_platform
from sim.profile import load_profile, parse_profile

BB = load_platform("big_basin")
GPU = Processor("gpu", BB.gpus[0])
CPU1 = Processor("cpu", BB.sockets[0], threads=1)
CPU20 = Processor("cpu", BB.sockets[0], threads=20)


def test_large_mlp_is_compute_bound_at_the_efficient_rate() -> None:
    costs = AnalyticCosts(dataclasses.replace(BB.efficiency, gpu_async_dispatch=False))
    cost = costs.mlp(GPU, 65536, 4096, 4096, backward=False)
    flops = 2 * 65536 * 4096 * 4096
    expected = flops / (BB.gpus[0].peak_flops_per_s * BB.efficiency.gpu_compute_efficiency)
    # a forward layer issues two operators (the matrix product and the activation)
    assert cost.seconds == pytest.approx(expected + 2 * BB.efficiency.gpu_op_overhead_s)
    backward = costs.mlp(GPU, 65536, 4096, 4096, backward=True)
    assert backward.flops == 2 * cost.flops


def test_async_gpu_dispatch_overlaps_kernels_except_where_the_host_waits() -> None:
    eff = BB.efficiency
    sync, costs = (AnalyticCosts(dataclasses.replace(eff, gpu_async_dispatch=a))
                   for a in (False, True))
    rate = BB.gpus[0].peak_flops_per_s * eff.gpu_compute_efficiency
    # A large layer hides its two operators' dispatch; a tiny one waits for it.
    large = costs.mlp(GPU, 65536, 4096, 4096, backward=False)
    assert large.seconds == pytest.approx(2 * 65536 * 4096 * 4096 / rate)
    tiny = costs.mlp(GPU, 8, 16, 16, backward=True)
    assert tiny.seconds == pytest.approx(ops.MLP_BACKWARD_OPS * eff.gpu_op_overhead_s)
    assert tiny.seconds < sync.mlp(GPU, 8, 16, 16, backward=True).seconds
    # Coalescing a sparse gradient makes the host wait: the update still pays the sum.
    work = EmbeddingWork(batch=1024, rows=10**6, dim=64, pooling=8, unique_rows=4000, zipf_s=1.05)
    assert (costs.embedding_update(GPU, work, "rowwise_adagrad").seconds
            == sync.embedding_update(GPU, work, "rowwise_adagrad").seconds)
    # CPU operators dispatch on the cores that compute: always the sum.
    assert costs.mlp(CPU20, 8, 16, 16, backward=True) == sync.mlp(CPU20, 8, 16, 16, backward=True)


def test_more_cores_are_faster_until_memory_bound() -> None:
    costs = AnalyticCosts(BB.efficiency)
    work = EmbeddingWork(batch=2048, rows=10**7, dim=64, pooling=32, unique_rows=50_000, zipf_s=1.05)
    one, twenty = costs.embedding_forward(CPU1, work), costs.embedding_forward(CPU20, work)
    assert twenty.seconds < one.seconds
    # 20 cores x 12 GB/s exceed the socket's gather bandwidth: the socket limits
    socket_bw = BB.sockets[0].mem_bw_bytes_per_s * BB.efficiency.cpu_gather_efficiency
    assert twenty.seconds == pytest.approx(
        2048 * 32 * 256 / socket_bw + 2048 * 64 * 4 / (BB.sockets[0].mem_bw_bytes_per_s
                                                         * BB.efficiency.cpu_stream_efficiency)
        + 2 * BB.efficiency.cpu_op_overhead_s, rel=1e-6)  # bag ids, then the pooled gather


def test_update_cost_grows_with_optimizer_state() -> None:
    costs = AnalyticCosts()
    work = EmbeddingWork(batch=1024, rows=10**6, dim=64, pooling=8, unique_rows=4000, zipf_s=1.05)
    sgd = costs.embedding_update(GPU, work, "sgd")
    rowwise = costs.embedding_update(GPU, work, "rowwise_adagrad")
    full = costs.embedding_update(GPU, work, "adagrad")
    assert sgd.mem_bytes < rowwise.mem_bytes < full.mem_bytes


def test_a_table_that_fits_in_its_cache_share_moves_no_dram_rows() -> None:
    costs = AnalyticCosts(BB.efficiency)
    # 30 rows x 256 B = 7.7 kB, far below 27.5 MB of L3: only the pooled output is written
    tiny = EmbeddingWork(batch=3200, rows=30, dim=64, pooling=204, unique_rows=30, zipf_s=1.05)
    assert costs.embedding_forward(CPU20, tiny).mem_bytes == 3200 * 64 * 4
    # 100k rows x 256 B = 25.6 MB fit a whole L3 but not a sixteenth of it
    mid = EmbeddingWork(batch=200, rows=100_000, dim=64, pooling=20, unique_rows=2000,
                        zipf_s=1.05)
    alone = costs.embedding_forward(CPU20, mid)
    shared = costs.embedding_forward(CPU20, dataclasses.replace(mid, cache_share=1 / 16))
    assert alone.mem_bytes == 200 * 64 * 4
    assert shared.mem_bytes == 200 * 20 * 256 + 200 * 64 * 4


def profile_dict(device: str = "cpu", version: int = 1) -> dict[str, object]:
    return {
        "schema": "dlrmsim.profile", "schema_version": version, "device": device, "mode": "quick",
        "host": {"cpu_model": "test", "torch_threads": 2},
        "measurements": [],
        "cost_models": {
            "mlp_forward": {
                "form": "piecewise_monomial_sum", "params": ["batch", "in_features", "out_features"],
                "pieces": [{"when": {"batch": [0, 1000]},
                            "terms": [{"coef": 1e-5, "powers": {}},
                                      {"coef": 1e-10, "powers": {"batch": 1, "in_features": 1,
                                                                 "out_features": 1}}]},
                           {"when": {"batch": [1000, 1e9]},
                            "terms": [{"coef": 2e-5, "powers": {}}]}],
                "fit_error": {"holdout_median_abs_rel": 0.03},
            },
        },
        "bandwidths_bytes_per_s": {"host_copy": 5e9},
    }


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(data))
    return path


def test_calibrated_costs_evaluate_the_profile_piecewise(tmp_path: Path) -> None:
    costs = cost_model_for(BB, write(tmp_path, profile_dict()))
    assert isinstance(costs, CalibratedCosts)
    two_threads = Processor("cpu", BB.sockets[0], threads=2)
    small = costs.mlp(two_threads, 100, 200, 300, backward=False)
    assert small.seconds == pytest.approx(1e-5 + 1e-10 * 100 * 200 * 300)
    assert costs.mlp(two_threads, 5000, 200, 300, backward=False).seconds == pytest.approx(2e-5)
    # measured with 2 threads; 1 thread is assumed twice as slow
    one = costs.mlp(CPU1, 100, 200, 300, backward=False)
    assert one.seconds == pytest.approx(2 * small.seconds)
    assert costs.memory_bw_bytes_per_s(two_threads) == 2 * 5e9  # a 5 GB/s copy's traffic


def test_calibrated_costs_fall_back_for_other_processors_and_ops(tmp_path: Path) -> None:
    costs = cost_model_for(BB, write(tmp_path, profile_dict()))
    analytic = AnalyticCosts(BB.efficiency)
    assert costs.mlp(GPU, 100, 200, 300, backward=False) == analytic.mlp(GPU, 100, 200, 300,
                                                                         backward=False)
    assert costs.mlp(CPU1, 100, 200, 300, backward=True) == analytic.mlp(CPU1, 100, 200, 300,
                                                                         backward=True)


def test_a_layer_whose_input_is_data_skips_the_input_gradient(tmp_path: Path) -> None:
    analytic = AnalyticCosts(dataclasses.replace(BB.efficiency, gpu_async_dispatch=False))
    both = analytic.mlp(GPU, 65536, 4096, 4096, backward=True)
    weight_only = analytic.mlp(GPU, 65536, 4096, 4096, backward=True, input_grad=False)
    assert weight_only.flops == both.flops / 2
    assert weight_only.seconds < both.seconds
    # Calibrated: the profile times the backward with both gradients only, so the forward's
    # measurement (one GEMM of the same shape) stands in for the weight gradient alone.
    costs = cost_model_for(BB, write(tmp_path, profile_dict()))
    two_threads = Processor("cpu", BB.sockets[0], threads=2)
    assert (costs.mlp(two_threads, 100, 200, 300, backward=True, input_grad=False).seconds
            == costs.mlp(two_threads, 100, 200, 300, backward=False).seconds)


def test_optimizer_step_and_loss_come_from_the_profile_when_timed(tmp_path: Path) -> None:
    data = profile_dict()
    models = data["cost_models"]
    assert isinstance(models, dict)
    models["dense_optimizer_step"] = {
        "form": "piecewise_monomial_sum", "params": ["tensors", "elements"],
        "pieces": [{"when": {}, "terms": [{"coef": 3e-6, "powers": {"tensors": 1}},
                                          {"coef": 1e-9, "powers": {"elements": 1}}]}],
        "fit_error": {"holdout_median_abs_rel": 0.05}}
    models["loss"] = {"form": "piecewise_monomial_sum", "params": ["batch"],
                      "pieces": [{"when": {}, "terms": [{"coef": 4e-5, "powers": {}}]}],
                      "fit_error": {"holdout_median_abs_rel": 0.05}}
    two_threads = Processor("cpu", BB.sockets[0], threads=2)
    timed = cost_model_for(BB, write(tmp_path, data))
    assert timed.dense_update(two_threads, 12, 10**5).seconds == pytest.approx(12 * 3e-6 + 1e-4)
    assert timed.loss(two_threads, 512).seconds == pytest.approx(4e-5)
    # Without those ops the step streams the parameters at the memory traffic the profile's
    # copies reached: reading weights and gradients and writing weights is 3 x 4 B x 10^5 =
    # 1.2 MB of traffic, and a 5 GB/s copy reads and writes 10 GB/s. The loss, below the
    # analytic model's resolution, costs nothing.
    untimed = cost_model_for(BB, write(tmp_path, profile_dict()))
    assert untimed.dense_update(two_threads, 12, 10**5).seconds == pytest.approx(1.2e6 / 10e9)
    assert untimed.loss(two_threads, 512).seconds == 0.0


def test_unknown_schema_version_is_refused_with_a_fix(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"schema version 99.*re-run `dlrmsim calibrate`"):
        load_profile(write(tmp_path, profile_dict(version=99)))


@pytest.mark.parametrize("data", [[], {"schema": "other"}, {"schema": "dlrmsim.profile",
                                                             "schema_version": 1}])
def test_malformed_profiles_are_refused(data: object) -> None:
    with pytest.raises(ProfileError):
        parse_profile(data, "x.json")


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(("term", "field"), [
    ({"coef": NAN, "powers": {}}, "coef"), ({"coef": INF, "powers": {}}, "coef"),
    ({"coef": -1e-5, "powers": {}}, "coef"),
    ({"coef": 1e-9, "powers": {"batch": NAN}}, "power of batch"),
    ({"coef": 1e-9, "powers": {"batch": INF}}, "power of batch"),
    ({"coef": 1e-9, "powers": {"batch": -1}}, "power of batch")])
def test_cost_terms_that_are_not_finite_or_negative_are_refused(
        tmp_path: Path, term: dict[str, object], field: str) -> None:
    """Before, `seconds` turned a NaN into 0, a negative term cancelled the others and an
    infinite one ended in a traceback; now loading names the op and the field."""
    data = profile_dict()
    data["cost_models"]["mlp_forward"]["pieces"][0]["terms"][1] = term  # type: ignore[index]
    with pytest.raises(ProfileError, match=f"cost model 'mlp_forward': {field}"):
        load_profile(write(tmp_path, data))  # json writes and reads NaN and Infinity


@pytest.mark.parametrize("section", ["bandwidths_bytes_per_s", "latencies_s"])
@pytest.mark.parametrize("value", [-5e9, NAN, INF])
def test_rates_that_are_not_finite_and_positive_are_refused(
        tmp_path: Path, section: str, value: float) -> None:
    # A negative host_copy bandwidth was kept and used as the CPU's memory bandwidth.
    data = profile_dict()
    data[section] = {"host_copy": value}
    with pytest.raises(ProfileError, match=rf"{section}\.host_copy = .* not a finite number > 0"):
        load_profile(write(tmp_path, data))


def test_rates_the_run_did_not_measure_are_left_out() -> None:
    data = profile_dict()
    data["bandwidths_bytes_per_s"] = {"host_copy": 5e9, "host_read": None, "host_write": 0}
    assert parse_profile(data, "x.json").bandwidths_bytes_per_s == {"host_copy": 5e9}


def test_a_profile_of_an_unknown_device_is_refused() -> None:
    # Its costs would match no processor: the run would be analytic without saying so.
    with pytest.raises(ProfileError, match="device 'tpu' is not one of cpu, cuda"):
        parse_profile(profile_dict(device="tpu"), "x.json")


def test_missing_and_non_json_profiles(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ProfileError, match="not a JSON profile"):
        load_profile(bad)


def test_a_binary_file_is_not_a_profile(tmp_path: Path) -> None:
    plot = tmp_path / "validate.png"  # the plot of `dlrmsim validate`, given by mistake
    plot.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(ProfileError, match=r"validate\.png: not a JSON profile.*not UTF-8"):
        load_profile(plot)


MB = 1e6


def working_set_profile() -> dict[str, object]:
    """A CPU profile whose embedding forward costs 1 ms flat, measured 2x slower at a 1 MB table
    and 3x slower at a 100 MB table when the rotation grew from 10 MB (1 GB) to 1 GB (10 GB)."""
    data = profile_dict()
    data["cost_models"]["embedding_forward"] = {  # type: ignore[index]
        "form": "piecewise_monomial_sum",
        "params": ["batch", "rows", "dim", "pooling", "zipf_s", "unique_rows"],
        "pieces": [{"when": {}, "terms": [{"coef": 1e-3, "powers": {}}]}],
        "fit_error": {"holdout_median_abs_rel": 0.0}}
    data["working_set_ratios"] = {"embedding_forward": {"cold_rotation_factor": 16, "points": [
        {"table_bytes": 1 * MB, "base_rotation_bytes": 10 * MB, "cold_rotation_bytes": 1000 * MB,
         "ratio": 2.0},
        {"table_bytes": 100 * MB, "base_rotation_bytes": 1000 * MB,
         "cold_rotation_bytes": 10000 * MB, "ratio": 3.0}]}}
    return data


def test_working_set_factor_is_one_up_to_the_usual_rotation_and_the_ratio_beyond_the_cold(
        ) -> None:
    curve = parse_profile(working_set_profile(), "p.json").working_sets["embedding_forward"]
    # At a measured table size: 1 up to the base rotation, the ratio from the cold one on,
    # and the geometric mean halfway between them in log working set (10 MB -> 1 GB: 100 MB).
    assert curve.factor(1 * MB, 5 * MB) == 1.0
    assert curve.factor(1 * MB, 10 * MB) == 1.0
    assert curve.factor(1 * MB, 100 * MB) == pytest.approx(2.0 ** 0.5)
    assert curve.factor(1 * MB, 1000 * MB) == pytest.approx(2.0)
    assert curve.factor(1 * MB, 1e12) == pytest.approx(2.0)
    # Between measured sizes (10 MB is halfway in log): ratio and rotations interpolated in log.
    assert curve.factor(10 * MB, 1e12) == pytest.approx(6.0 ** 0.5)
    assert curve.factor(10 * MB, 100 * MB) == 1.0  # its base rotation: sqrt(10 MB x 1 GB)
    # Beyond the measured sizes, the nearest point; unknown working set: no change.
    assert curve.factor(1e3, 1e12) == pytest.approx(2.0)
    assert curve.factor(1e12, 1e13) == pytest.approx(3.0)
    assert curve.factor(1 * MB, 0.0) == 1.0


def test_calibrated_embedding_costs_scale_with_the_working_set(tmp_path: Path) -> None:
    costs = cost_model_for(BB, write(tmp_path, working_set_profile()))
    two = Processor("cpu", BB.sockets[0], threads=2)
    work = EmbeddingWork(batch=100, rows=250_000, dim=1, pooling=4, unique_rows=50, zipf_s=1.0)
    assert work.table_bytes == 1 * MB
    alone = costs.embedding_forward(two, work).seconds
    cold = costs.embedding_forward(two, dataclasses.replace(work, working_set_bytes=1e12))
    assert alone == pytest.approx(1e-3) and cold.seconds == pytest.approx(2e-3)
    # A profile without working-set ratios leaves the cost as fitted.
    plain = cost_model_for(BB, write(tmp_path, {**working_set_profile(),
                                                "working_set_ratios": {}}))
    assert plain.embedding_forward(two, dataclasses.replace(work, working_set_bytes=1e12)
                                   ).seconds == pytest.approx(1e-3)


def test_a_group_of_tables_cycles_through_all_their_bytes() -> None:
    from sim.processes.embedding_work import group_costs

    seen: list[EmbeddingWork] = []

    class Recorder(AnalyticCosts):
        def embedding_forward(self, proc: Processor, work: EmbeddingWork) -> OpCost:
            seen.append(work)
            return super().embedding_forward(proc, work)

    works = [EmbeddingWork(batch=10, rows=rows, dim=8, pooling=2, unique_rows=5, zipf_s=1.0)
             for rows in (100, 300)]
    group_costs(Recorder(BB.efficiency), CPU1, works, "sgd")
    assert [w.working_set_bytes for w in seen] == [(100 + 300) * 8 * 4] * 2


def test_excluded_working_set_pairs_are_not_points_of_the_curve() -> None:
    # Calibration lists pairs with a noisy timing under "excluded"; only the points scale a
    # call, and an op whose every pair was excluded is not scaled at all.
    data = working_set_profile()
    body = data["working_set_ratios"]["embedding_forward"]  # type: ignore[index]
    body["excluded"] = [{"table_bytes": 10 * MB, "ratio": 6.0,
                         "reason": "cold timing flagged as noisy"}]
    curve = parse_profile(data, "p.json").working_sets["embedding_forward"]
    assert curve.factor(10 * MB, 1e12) == pytest.approx(6.0 ** 0.5)  # from 2x and 3x alone
    body["points"] = []
    profile = parse_profile(data, "p.json")
    assert "embedding_forward" not in profile.working_sets
    assert profile.working_set_factor("embedding_forward", 10 * MB, 1e12) == 1.0


@pytest.mark.parametrize("points", [
    [], [{"table_bytes": 1, "base_rotation_bytes": 1, "cold_rotation_bytes": 2, "ratio": -1}],
    [{"table_bytes": 2, "base_rotation_bytes": 1, "cold_rotation_bytes": 2, "ratio": 1},
     {"table_bytes": 1, "base_rotation_bytes": 1, "cold_rotation_bytes": 2, "ratio": 1}],
    [{"table_bytes": 1}]])
def test_malformed_working_set_ratios_are_refused(points: list[object]) -> None:
    data = {**working_set_profile(), "working_set_ratios": {"embedding_forward": {
        "points": points}}}
    with pytest.raises(ProfileError, match="malformed profile"):
        parse_profile(data, "x.json")


@pytest.mark.parametrize(("device", "job", "part", "host_field"), [
    ("cuda", "test_suite_gpu", "v100_sxm2_32gb", "gpu_name"),
    ("cpu", "test_suite_cpu", "xeon_gold_6138", "cpu_model")])
def test_a_profile_standing_in_for_other_hardware_is_noted(
        tmp_path: Path, device: str, job: str, part: str, host_field: str) -> None:
    # A profile's kernels run at the profiled host's speed on whatever platform is simulated
    # (an H100 profile makes Big Basin's V100s H100s); the result says so, naming both.
    from sim.run import simulate

    data = profile_dict(device)
    data["host"] = {host_field: "Profiled Part 9000", "torch_threads": 1}
    path = write(tmp_path, data)
    notes = [n for n in simulate(job, profile=path, iterations=4).notes if "Profiled Part" in n]
    assert len(notes) == 1 and part in notes[0] and str(path) in notes[0]
    assert not any("Profiled Part" in n for n in simulate(job, iterations=4).notes)


def test_a_profiles_copy_rate_is_half_the_memory_traffic_it_sustains(tmp_path: Path) -> None:
    # The profile's host_copy (5 GB/s) counts bytes copied; memory_bw_bytes_per_s is traffic,
    # read plus written, as the analytic model's datasheet rates are: 10 GB/s.
    costs = cost_model_for(BB, write(tmp_path, profile_dict()))
    cpu = Processor("cpu", BB.sockets[0], threads=1)
    assert costs.memory_bw_bytes_per_s(cpu) == pytest.approx(10e9)
    gpu = Processor("gpu", BB.gpus[0])  # a CPU profile leaves the GPU analytic
    assert costs.memory_bw_bytes_per_s(gpu) == AnalyticCosts(BB.efficiency).memory_bw_bytes_per_s(gpu)


@pytest.mark.parametrize(("change", "said"), [
    (lambda d: d["cost_models"].update(mlp_forward=None), "cost model 'mlp_forward' is null"),
    (lambda d: d.pop("device"), "field 'device' is missing"),
    (lambda d: d.update(host="vm"), "host is \"vm\", not an object"),
])
def test_a_malformed_profile_names_what_is_wrong_and_the_fix(
        change: Callable[[dict[str, Any]], object], said: str) -> None:
    data: dict[str, Any] = working_set_profile()
    change(data)
    with pytest.raises(ProfileError) as caught:
        parse_profile(data, "x.json")
    message = str(caught.value)
    assert said in message and "dlrmsim calibrate" in message
    assert "Error:" not in message  # no Python exception names

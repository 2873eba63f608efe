"""A tiny real calibration on the CPU, end to end, and a tiny gloo collective."""

from __future__ import annotations

import json

import pytest

from calibrate.device import resolve_device
from calibrate.fit import predict_s
from calibrate.kernels.collectives import measure_collective
from calibrate.profile import load_profile
from calibrate.runner import RunOptions, build_registry, calibrate, make_context, plan_all
from calibrate.types import TimingPolicy

OPS = ("embedding_forward", "embedding_backward_rowwise_adagrad", "mlp_backward",
       "interaction_forward", "host_copy", "network_tcp")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("profile") / "tiny.json"
    path, profile = calibrate(RunOptions(device="cpu", quick=True, out=out, quiet=True,
                                         ops=OPS, budget_scale=0.1, seed=3, threads=1))
    return path, profile


def test_profile_is_written_valid_and_complete(tiny_run):
    path, profile = tiny_run
    assert load_profile(path) == json.loads(json.dumps(profile))
    assert profile["device"] == "cpu" and profile["mode"] == "quick"
    assert profile["host"]["cuda_version"] is None and profile["host"]["torch_threads"] == 1
    assert {m["op"] for m in profile["measurements"]} == set(OPS)
    assert set(profile["cost_models"]) == set(OPS)
    assert set(profile["grid"]["ops"]) == set(OPS)
    assert "host_copy" in profile["bandwidths_bytes_per_s"]
    assert profile["latencies_s"]["network_tcp"] > 0


def test_every_op_has_held_out_points_and_predictions(tiny_run):
    _, profile = tiny_run
    for name, model in profile["cost_models"].items():
        assert model["fit_error"]["n_holdout"] >= 1, name
        for m in profile["measurements"]:
            if m["op"] == name:
                assert predict_s(model, m["params"]) > 0
                assert len(m["samples_s"]) >= 1 and m["median_s"] > 0


def _planned(seed: int) -> dict[str, list[dict[str, float]]]:
    options = RunOptions(device="cpu", quick=False, seed=seed)
    ctx = make_context(options, resolve_device("cpu"))
    plans = plan_all(build_registry(ctx, None, None), ctx, budget_scale=1.0)
    return {op: [dict(p.point.params) for p in plan.points] for op, plan in plans.items()}


def test_same_seed_same_grid():
    assert _planned(3) == _planned(3)
    assert _planned(3) != _planned(4)


def test_gloo_allreduce_and_alltoall_between_two_processes():
    policy = TimingPolicy(warmup_samples=1, repeats=3, retries=0, min_sample_s=0.0)
    for op in ("allreduce", "alltoall"):
        results = measure_collective(op, "gloo", 2, [4096.0, 65536.0], policy)
        assert len(results) == 2
        for samples, summary, _flagged, _attempts, _inner in results:
            assert len(samples) == 3 and summary["median_s"] > 0


def test_working_set_ops_become_ratios_to_their_base_fit(tmp_path, monkeypatch):
    """The cold ops are timed, not fitted, and each point becomes a ratio to the same kernel
    timed right after it with the usual rotation, with the two rotations it lies between
    (4 MiB flush: 64 MiB cold)."""
    import calibrate.runner as runner
    from calibrate.host import COLD_ROTATION_FACTOR

    flush = 4 * 2**20
    monkeypatch.setattr(runner, "flush_bytes", lambda: flush)
    monkeypatch.setattr(runner, "WORKING_SET_BUDGET_SHARE", 0.6)  # of 7.6 s: a few points
    monkeypatch.setattr(runner, "TOTAL_DEADLINE_FACTOR", 100.0)  # a slow base op must not cut it
    ops = ("embedding_forward", "embedding_forward_cold")
    _, profile = calibrate(RunOptions(device="cpu", quick=False, out=tmp_path / "w.json",
                                      quiet=True, ops=ops, budget_scale=0.01, seed=1, threads=1))
    assert "embedding_forward_cold" not in profile["cost_models"]
    (op, curve), = profile["working_set_ratios"].items()
    assert op == "embedding_forward" and curve["cold_rotation_factor"] == COLD_ROTATION_FACTOR
    cold = {m["params"]["rows"] * m["params"]["dim"] * 4: m for m in profile["measurements"]
            if m["op"] == "embedding_forward_cold"}
    # Every pair is a point, or excluded when one of its timings was flagged as noisy.
    sizes = [p["table_bytes"] for p in curve["points"]]
    pairs = curve["points"] + curve["excluded"]
    assert sizes == sorted(sizes) and sorted(p["table_bytes"] for p in pairs) == sorted(cold)
    assert len(cold) >= 2
    for point in pairs:
        m = cold[point["table_bytes"]]
        noisy = m["flagged"] or m["paired_flagged"]
        assert noisy == (point in curve["excluded"])
        assert m["paired_median_s"] > 0 and point["ratio"] == pytest.approx(
            m["median_s"] / m["paired_median_s"])
        # A table larger than the cold rotation is one copy in both.
        assert point["table_bytes"] <= point["base_rotation_bytes"] <= point["cold_rotation_bytes"]
        assert point["cold_rotation_bytes"] < max(COLD_ROTATION_FACTOR * flush,
                                                  point["table_bytes"]) * 2
    assert any(p["base_rotation_bytes"] < p["cold_rotation_bytes"] for p in pairs)
    load_profile(tmp_path / "w.json")  # the written file passes the schema check


def test_quick_mode_has_no_working_set_ops():
    options = RunOptions(device="cpu", quick=True)
    ctx = make_context(options, resolve_device("cpu"))
    names = {spec.name for spec in build_registry(ctx, None, None)}
    assert "embedding_forward" in names and not any(n.endswith("_cold") for n in names)

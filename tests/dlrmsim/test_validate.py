"""`dlrmsim validate`: the grid, config files, error statistics, host checks and a tiny run."""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path

import pytest

from dlrmsim.cli import main
from dlrmsim.validate.configs import ValidationConfig, default_grid, load_configs
from dlrmsim.validate.host import (
    GPU_NOMINAL,
    GpuFacts,
    HostFacts,
    host_platform,
    nominal_core_flops_per_s,
    other_host_warning,
)
from dlrmsim.validate.predict import predict_step
from dlrmsim.validate.report import signed_error, summary
from dlrmsim.validate.run import default_profile, validate_all, validation_platform
from sim.errors import DlrmsimInputError, PresetError
from sim.profile import Profile, load_profile, parse_profile

ROOT = Path(__file__).resolve().parents[2]
OPS = {
    "embedding_forward": ["batch", "rows", "dim", "pooling", "zipf_s"],
    "embedding_backward_sgd": ["batch", "rows", "dim", "pooling", "zipf_s"],
    "embedding_backward_rowwise_adagrad": ["batch", "rows", "dim", "pooling", "zipf_s"],
    "mlp_forward": ["batch", "in_features", "out_features"],
    "mlp_backward": ["batch", "in_features", "out_features"],
    "interaction_forward": ["batch", "features", "dim"],
    "interaction_backward": ["batch", "features", "dim"],
}


def test_default_grid_spans_the_test_suite_axes() -> None:
    grid = default_grid()
    assert len(grid) >= 24 and len({c.name for c in grid}) == len(grid)
    models = [c.model for c in grid]
    assert {min(m.dense_features for m in models), max(m.dense_features for m in models)} == {64, 4096}
    assert min(m.num_tables for m in models) == 4 and max(m.num_tables for m in models) == 128
    rows = [t.rows for m in models for t in m.tables]
    assert min(rows) < 2_000 and max(rows) > 500_000
    pooling = [t.pooling.mean_lookups for m in models for t in m.tables]
    assert min(pooling) == 1 and max(pooling) == 64
    dims = [t.dim for m in models for t in m.tables]
    assert min(dims) == 16 and max(dims) == 128
    batches = [c.batch_size for c in grid]
    assert min(batches) == 64 and max(batches) == 4096
    assert (64, 64) in [m.bottom_mlp for m in models]
    assert (1024, 1024, 1024, 1024) in [m.bottom_mlp for m in models]


def _config_points(grid: list[ValidationConfig]) -> set[tuple[str, tuple[float, ...]]]:
    points: set[tuple[str, tuple[float, ...]]] = set()
    for config in grid:
        model, b = config.model, config.batch_size
        for t in model.tables:
            emb = (b, t.rows, t.dim, t.pooling.mean_lookups)
            points |= {(op, emb) for op in OPS if op.startswith("embedding")}
        for widths in (model.bottom_layer_widths, model.top_layer_widths):
            for a, c in itertools.pairwise(widths):
                points |= {("mlp_forward", (b, a, c)), ("mlp_backward", (b, a, c))}
    return points


SPOT_CHECK = ROOT / "presets" / "validate" / "spot_check.yaml"


def load_configs_text(text: str) -> list[ValidationConfig]:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "configs.yaml"
        path.write_text(text)
        return load_configs(path)


@pytest.mark.parametrize("grid", ["default", "spot_check"])
def test_no_validation_point_is_a_calibration_point(grid: str) -> None:
    profiles = sorted((ROOT / "profiles").glob("*.json"))
    if not profiles:
        pytest.skip("no committed profile to compare with")
    ours = _config_points(default_grid() if grid == "default" else load_configs(SPOT_CHECK))
    keys = {"embedding": ("batch", "rows", "dim", "pooling"),
            "mlp": ("batch", "in_features", "out_features")}
    profiles = [p for p in profiles if json.loads(p.read_text()).get("schema") == "dlrmsim.profile"]
    assert profiles, "no calibration profile among the committed files"
    for path in profiles:
        for m in json.loads(path.read_text())["measurements"]:
            family = m["op"].split("_")[0]
            if m["op"] in OPS and family in keys:
                point = tuple(float(m["params"][k]) for k in keys[family])
                assert (m["op"], point) not in {(op, tuple(map(float, p))) for op, p in ours}, (
                    f"{path.name}: {m['op']} at {point} is also a validation point")


def test_config_file_takes_presets_paths_and_inline_models(tmp_path: Path) -> None:
    path = tmp_path / "configs.yaml"
    path.write_text(
        "configs:\n"
        "  - {model: test_suite, batch_size: 200}\n"
        "  - name: tiny\n    batch_size: 64\n    model:\n      name: tiny\n      dense_features: 8\n"
        "      bottom_mlp: [16]\n      top_mlp: [8]\n"
        "      tables: [{name: a, rows: 100, dim: 16, pooling: {mean_lookups: 2}}]\n")
    configs = load_configs(path)
    assert [c.name for c in configs] == ["test_suite_b200", "tiny"]
    assert configs[1].model.tables[0].rows == 100


@pytest.mark.parametrize(("text", "message"), [
    ("configs: []\n", "non-empty list"),
    ("- {model: test_suite}\n", r"configs\[0\]: give `model` and `batch_size`"),
    ("- {model: nope, batch_size: 3}\n", "unknown model preset 'nope'"),
    ("- {model: test_suite, batch_size: 0}\n", r"configs\[0\]\.batch_size = 0"),
    ("- {model: test_suite, batch_size: 8, colour: red}\n", r"configs\[0\]: unknown key 'colour'"),
    ("- {model: test_suite, batch_size: 8, nmae: x}\n", r"configs\[0\]: unknown key 'nmae'"),
    ("- {model: test_suite, batch_size: 8, name: ''}\n", r"configs\[0\]\.name = ''"),
    ("- {model: test_suite, batch_size: 8, name: ' '}\n", r"configs\[0\]\.name = ' '"),
    ("- {model: test_suite, batch_size: 8, name: null}\n", r"configs\[0\]\.name = None"),
    ("- {model: test_suite, batch_size: 8, name: a}\n- {model: test_suite, batch_size: 9, "
     "name: a}\n", r"configs\[1\]: name 'a' is also configs\[0\]'s"),
    ("- {model: test_suite, batch_size: 8}\n- {model: test_suite, batch_size: 8}\n",
     r"configs\[1\]: name 'test_suite_b8' is also configs\[0\]'s"),
])
def test_bad_config_files_name_the_entry(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(PresetError, match=message):
        load_configs(path)


def test_error_statistics() -> None:
    assert signed_error(1.1, 1.0) == pytest.approx(0.1)
    assert signed_error(0.5, 1.0) == pytest.approx(-0.5)
    stats = summary([0.1, -0.2, 0.05, -0.4, 0.0])
    assert stats["median_abs_error"] == pytest.approx(0.1)
    assert stats["max_abs_error"] == pytest.approx(0.4)
    assert 0.2 < stats["p90_abs_error"] <= 0.4  # type: ignore[operator]


def facts(model: str = "Test CPU", flags: frozenset[str] = frozenset({"avx2"})) -> HostFacts:
    return HostFacts("here", model, 2.5e9, flags, 8 * 2**30)


def test_nominal_rates_follow_the_vector_width() -> None:
    assert nominal_core_flops_per_s(facts()) == pytest.approx(2.5e9 * 32)
    wide = facts(flags=frozenset({"avx2", "avx512f"}))
    assert nominal_core_flops_per_s(wide) == pytest.approx(2.5e9 * 64)
    assert host_platform(3, wide).cores == 3


def fake_profile(cpu_model: str, cores: int) -> dict[str, object]:
    """A profile whose every op costs 1 ms plus 1 ns per batch element (not fitted to anything)."""
    models = {op: {"form": "piecewise_monomial_sum", "params": params,
                   "pieces": [{"when": {}, "terms": [{"coef": 1e-3, "powers": {}},
                                                     {"coef": 1e-9, "powers": {"batch": 1}}]}]}
              for op, params in OPS.items()}
    return {"schema": "dlrmsim.profile", "schema_version": 1, "device": "cpu", "mode": "quick",
            "host": {"hostname": "elsewhere", "cpu_model": cpu_model, "cpu_cores": cores,
                     "torch_threads": 1},
            "measurements": [], "cost_models": models,
            "bandwidths_bytes_per_s": {"host_copy": 1e10}}


def test_profile_from_another_host_warns_naming_both() -> None:
    profile = parse_profile(fake_profile("Other CPU", 64), "p.json")
    warning = other_host_warning(profile, facts())
    assert warning is not None and "Other CPU" in warning and "Test CPU" in warning


TINY_TABLES = ("[{name: a, rows: 100, dim: 16, pooling: {mean_lookups: 2}},"
               " {name: b, rows: 50, dim: 16, pooling: {mean_lookups: 3}}]")


def tiny_files(tmp_path: Path, tables: str = TINY_TABLES) -> tuple[Path, Path]:
    """A fake profile from another host and a configs file with one tiny model."""
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps(fake_profile("Other CPU", 64)))
    configs = tmp_path / "configs.yaml"
    configs.write_text(
        "- name: tiny\n  batch_size: 32\n  model:\n    name: tiny\n    dense_features: 8\n"
        f"    bottom_mlp: [16]\n    top_mlp: [8]\n    optimizer: sgd\n    tables: {tables}\n")
    return profile, configs


def test_tiny_validation_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile, configs = tiny_files(tmp_path)
    plot = tmp_path / "plot.png"
    code = main(["validate", "--profile", str(profile), "--configs", str(configs), "--json",
                 "--min-time", "0.05", "--plot", str(plot)])
    out, err = capsys.readouterr()
    assert code == 0 and "warning" in err
    data = json.loads(out)
    (row,) = data["configs"]
    assert row["name"] == "tiny" and row["measured_s"] > 0
    # With the fake profile the prediction is a closed form: per op 1 ms + 1 ns x batch. One
    # trainer runs 2 embedding forwards, 2 MLP layers in each MLP forward and backward, the
    # interaction both ways and 2 embedding updates: 14 ops, plus the dense optimizer step.
    per_op = 1e-3 + 1e-9 * 32
    assert row["predicted_s"] >= 14 * per_op
    assert row["error"] == pytest.approx((row["predicted_s"] - row["measured_s"]) / row["measured_s"])
    # By phase of the step: 2 embedding forwards; 2 embedding updates; the MLPs' 4 layers and
    # the interaction forward; the same backward, plus the dense optimizer step.
    predicted = row["predicted_phases_s"]
    assert predicted["embedding_forward"] == pytest.approx(2 * per_op, rel=1e-9)
    assert predicted["embedding_update"] == pytest.approx(2 * per_op, rel=1e-9)
    assert predicted["dense_forward"] == pytest.approx(5 * per_op, rel=1e-9)
    assert predicted["dense_backward"] > 5 * per_op
    assert sum(predicted.values()) == pytest.approx(row["predicted_s"], rel=1e-9)
    measured = row["measured_phases_s"]
    assert set(measured) == set(predicted) and all(v > 0 for v in measured.values())
    # Timed in steps of their own, the phases still add up to about a whole step.
    assert 0.25 < sum(measured.values()) / row["measured_s"] < 4
    for phase, stats in data["phases"].items():
        assert stats["median_error"] == pytest.approx(
            (predicted[phase] - measured[phase]) / measured[phase])
    code = main(["validate", "--profile", str(profile), "--configs", str(configs),
                 "--min-time", "0.02", "--plot", str(plot)])
    text = capsys.readouterr().out
    assert code == 0 and "calibrated prediction by phase of the step" in text
    assert all(phase in text for phase in predicted)
    for key in ("median_abs_error", "p90_abs_error", "max_abs_error"):
        assert math.isfinite(data[key])
    assert plot.is_file()


@pytest.mark.parametrize(("plot", "said"), [
    ("a_file/plot.png", "cannot write in"), (".", "is a folder"), ("plot.xyz", "image extension")])
def test_an_unusable_plot_path_is_refused_before_measuring(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        plot: str, said: str) -> None:
    def measure(*args: object, **kwargs: object) -> None:
        raise AssertionError("measured although the plot cannot be written")

    monkeypatch.setattr("dlrmsim.validate.run.validate_all", measure)
    (tmp_path / "a_file").write_text("not a folder")
    profile, configs = tiny_files(tmp_path)
    code = main(["validate", "--profile", str(profile), "--configs", str(configs),
                 "--plot", str(tmp_path / plot)])
    err = capsys.readouterr().err
    assert code == 2 and "--plot" in err and said in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("seconds", ["-1", "nan", "inf"])
def test_a_min_time_that_is_not_a_finite_time_is_refused_before_measuring(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        seconds: str) -> None:
    # inf measured forever; nan and -1 were taken as 0 without a word.
    def measure(*args: object, **kwargs: object) -> None:
        raise AssertionError("measured with an unusable --min-time")

    monkeypatch.setattr("dlrmsim.validate.run.validate_all", measure)
    profile, configs = tiny_files(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--profile", str(profile), "--configs", str(configs), "--plot",
              str(tmp_path / "p.png"), "--min-time", seconds])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--min-time" in err and "seconds >= 0" in err


def test_the_results_come_out_before_a_plot_that_cannot_be_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
        ) -> None:
    """The plot's folder is writable when the run starts and not when it ends: the minutes of
    measurements are printed all the same, and the error says what was not written."""
    import dlrmsim.validate.run as validate_run

    plots = tmp_path / "plots"
    measure = validate_run.validate_all

    def measure_then_block_the_folder(*args: object, **kwargs: object) -> object:
        result = measure(*args, **kwargs)  # type: ignore[arg-type]
        plots.write_text("a file where the plot's folder should go")
        return result

    monkeypatch.setattr(validate_run, "validate_all", measure_then_block_the_folder)
    profile, configs = tiny_files(tmp_path)
    code = main(["validate", "--profile", str(profile), "--configs", str(configs), "--json",
                 "--min-time", "0.02", "--plot", str(plots / "p.png")])
    out, err = capsys.readouterr()
    (row,) = json.loads(out)["configs"]
    assert row["name"] == "tiny" and row["measured_s"] > 0
    assert code == 2 and f"cannot write the plot {plots / 'p.png'}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["configs.yaml", "plots", "profile.json"]


def test_rounds_measure_every_configuration_again_and_take_the_median(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile, configs = tiny_files(tmp_path, "[{name: a, rows: 100, dim: 16, pooling: "
                                            "{mean_lookups: 2}}]")
    args = ["validate", "--profile", str(profile), "--configs", str(configs), "--min-time",
            "0.02", "--plot", str(tmp_path / "p.png")]
    assert main([*args, "--json", "--rounds", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    (row,) = data["configs"]
    assert data["rounds"] == 3 and len(row["rounds_s"]) == 3
    assert row["measured_s"] == sorted(row["rounds_s"])[1]


@pytest.mark.parametrize("rounds", ["0", "-1", "two"])
def test_rounds_below_one_are_refused_as_the_command_line_is_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        rounds: str) -> None:
    # Refused only after the profile had loaded and its warnings printed; --min-time and
    # --seed were refused by argparse up front.
    def load(*args: object, **kwargs: object) -> None:
        raise AssertionError("loaded the profile with an unusable --rounds")

    monkeypatch.setattr("sim.profile.load_profile", load)
    profile, configs = tiny_files(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--profile", str(profile), "--configs", str(configs), "--plot",
              str(tmp_path / "p.png"), "--rounds", rounds])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "argument --rounds" in err
    assert "give a whole number" in err and "warning" not in err


def cuda_profile(tmp_path: Path) -> Profile:
    path = tmp_path / "cuda.json"
    path.write_text(json.dumps({**fake_profile("Other CPU", 64), "device": "cuda"}))
    return load_profile(path)


def test_gpu_host_is_one_gpu_whose_kernels_cost_what_the_cuda_profile_says(tmp_path: Path
                                                                         ) -> None:
    config = load_configs_text("""
- name: tiny
  batch_size: 32
  model: {name: tiny, dense_features: 8, bottom_mlp: [16], top_mlp: [8], optimizer: sgd,
          tables: [{name: a, rows: 100, dim: 16, pooling: {mean_lookups: 2}},
                   {name: b, rows: 50, dim: 16, pooling: {mean_lookups: 3}}]}
""")[0]
    cuda = cuda_profile(tmp_path)
    gpu = GpuFacts("NVIDIA H100 80GB HBM3", 80 * 2**30)
    platform = validation_platform(cuda, "cuda", gpu)
    assert [g.name for g in platform.gpus] == [gpu.name]
    assert platform.gpus[0].hbm_capacity_bytes == gpu.memory_bytes
    assert platform.gpus[0].peak_flops_per_s == GPU_NOMINAL["H100"][1]
    # Every GPU kernel costs 1 ms + 1 ns x batch in the fake CUDA profile, so the step holds at
    # least the 14 kernels of the CPU closed form; the analytic H100 takes far less.
    calibrated = predict_step(config, platform, profile=cuda.path)
    analytic = predict_step(config, platform, profile=None)
    assert calibrated.step_s >= 14 * (1e-3 + 1e-9 * 32) > 10 * analytic.step_s
    # A GPU step's phases are compared in two groups: its forward (2 embedding forwards and
    # the bottom MLP's 2 layers: 4 kernels) and the rest; together they are the whole step.
    assert set(calibrated.phases_s) == {"forward", "rest"}
    assert calibrated.phases_s["forward"] == pytest.approx(4 * (1e-3 + 1e-9 * 32), rel=1e-9)
    assert sum(calibrated.phases_s.values()) == pytest.approx(calibrated.step_s, rel=1e-9)


def test_phase_groups_cover_every_part_and_phase_once() -> None:
    from calibrate.dlrm import PARTS
    from dlrmsim.validate.phases import GROUPS, measured_groups, predicted_groups

    sim_phases = {"cpu": ("inputs", "lookups", "mlp_forward", "mlp_backward", "updates",
                          "easgd"),
                  "gpu": ("inputs", "forward", "all_to_all", "top_mlp", "backward")}
    for kind, groups in GROUPS.items():
        parts = [p for members, _ in groups.values() for p in members]
        assert sorted(parts) == sorted(PARTS), kind  # each part in exactly one group
        named = [p for _, members in groups.values() for p in members]
        assert len(named) == len(set(named)) and set(named) <= set(sim_phases[kind])
        seconds = {part: float(i + 1) for i, part in enumerate(PARTS)}
        assert sum(measured_groups(seconds, kind).values()) == sum(seconds.values())
    # A phase no group holds (a CPU trainer's EASGD) may only be empty.
    assert predicted_groups({"lookups": 1.0, "easgd": 0.0}, "cpu")["embedding_forward"] == 1.0
    with pytest.raises(ValueError, match="easgd"):
        predicted_groups({"lookups": 1.0, "easgd": 0.5}, "cpu")


def test_a_model_larger_than_the_gpu_is_skipped_with_the_reason(tmp_path: Path) -> None:
    (config,) = load_configs_text("""
- name: big
  batch_size: 32
  model: {name: big, dense_features: 8, bottom_mlp: [16], top_mlp: [8], optimizer: sgd,
          tables: [{name: a, rows: 100000000, dim: 16, pooling: {mean_lookups: 2}}]}
""")
    cuda = cuda_profile(tmp_path)
    rows, meta = validate_all([config], cuda, device="cuda", seed=0, min_time_s=0.01,
                              gpu=GpuFacts("Small GPU", 2**30))
    (row,) = rows
    assert row.measured_s is None and row.skipped is not None
    assert "GPU" in row.skipped and "short by" in row.skipped
    assert_worded_for_validate(row.skipped)
    assert "Small GPU" in meta["platform"]


def test_a_profile_of_the_other_device_is_refused_before_measuring(tmp_path: Path) -> None:
    # A CUDA profile times no CPU kernel (and a CPU profile no GPU kernel): every "calibrated"
    # prediction would silently be the analytic one, after minutes of measuring.
    cpu_path, _ = tiny_files(tmp_path)
    cases = ((cuda_profile(tmp_path), "cpu"), (load_profile(cpu_path), "cuda"))
    for profile, device in cases:
        with pytest.raises(DlrmsimInputError, match=f"a {profile.device} profile.*--device "
                                                    f"{profile.device}"):
            validate_all([], profile, device=device, seed=0, min_time_s=0.01,
                         gpu=GpuFacts("NVIDIA H100 80GB HBM3", 80 * 2**30))


def test_cuda_device_without_cuda_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this host has CUDA")
    code = main(["validate", "--device", "cuda"])
    assert code == 2 and "no CUDA device" in capsys.readouterr().err


@pytest.mark.gpu
def test_tiny_validation_on_a_real_gpu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The step really runs on the GPU and is predicted for this host's GPU platform."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    _, configs = tiny_files(tmp_path)
    profile = cuda_profile(tmp_path)
    code = main(["validate", "--device", "cuda", "--profile", str(profile.path), "--configs",
                 str(configs), "--json", "--min-time", "0.05", "--rounds", "1",
                 "--plot", str(tmp_path / "p.png")])
    data = json.loads(capsys.readouterr().out)
    (row,) = data["configs"]
    assert code == 0 and row["measured_s"] > 0 and row["predicted_s"] > 0
    assert torch.cuda.get_device_name(0) in data["platform"]


def test_default_cuda_profile_is_the_one_of_this_gpu(tmp_path: Path) -> None:
    for gpu, mode in (("GPU A", "full"), ("GPU B", "full"), ("GPU B", "quick")):
        data = {**fake_profile("Test CPU", 16), "device": "cuda", "mode": mode}
        data["host"] = {**data["host"], "gpu_name": gpu}  # type: ignore[dict-item]
        (tmp_path / f"{gpu[-1]}-{mode}.json").write_text(json.dumps(data))
    assert default_profile(facts(), "cuda", tmp_path, gpu_name="GPU B").name == "B-full.json"
    assert default_profile(facts(), "cuda", tmp_path, gpu_name="GPU A").name == "A-full.json"
    with pytest.raises(DlrmsimInputError, match="GPU C"):
        default_profile(facts(), "cuda", tmp_path, gpu_name="GPU C")


def test_a_configuration_that_runs_out_of_device_memory_is_skipped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    import dlrmsim.validate.measure as measure

    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(measure, "_time_steps", out_of_memory)
    profile, configs = tiny_files(tmp_path)
    rows, _ = validate_all(load_configs(configs), load_profile(profile), device="cpu", seed=0,
                           min_time_s=0.01)
    (row,) = rows
    assert row.measured_s is None and row.skipped is not None
    assert "out of cpu memory" in row.skipped and "2.00 GiB" in row.skipped


def test_default_profile_is_the_newest_full_one_of_this_host(tmp_path: Path) -> None:
    # Two full calibrations of the same host: the later one is used, whatever the file names;
    # a quick one, however new, only when there is no full one.
    stamps = {"a-full.json": ("full", "2026-11-28T00:31:23Z"),
              "b-full.json": ("full", "2026-12-02T16:00:00Z"),
              "c-quick.json": ("quick", "2026-12-03T00:00:00Z")}
    for name, (mode, created) in stamps.items():
        data = {**fake_profile("Test CPU", 16), "mode": mode, "created_utc": created}
        (tmp_path / name).write_text(json.dumps(data))
    assert default_profile(facts(), "cpu", tmp_path).name == "b-full.json"
    (tmp_path / "b-full.json").unlink()
    assert default_profile(facts(), "cpu", tmp_path).name == "a-full.json"
    (tmp_path / "a-full.json").unlink()
    assert default_profile(facts(), "cpu", tmp_path).name == "c-quick.json"


def test_a_validation_that_could_run_no_configuration_exits_2_after_its_table(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
        ) -> None:
    # Every configuration skipped used to exit 0, so a script read "nothing compared" as a pass.
    import torch

    import dlrmsim.validate.measure as measure

    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(measure, "_time_steps", out_of_memory)
    profile, configs = tiny_files(tmp_path)
    code = main(["validate", "--profile", str(profile), "--configs", str(configs),
                 "--min-time", "0.01", "--plot", str(tmp_path / "plot.png")])
    out, err = capsys.readouterr()
    assert code == 2
    assert "tiny" in out and "out of cpu memory" in out  # the table with the reason still prints
    assert "none of the 1 configuration(s)" in err and "nothing was compared" in err


def test_validate_reports_the_host_speed_check_and_can_skip_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The profile says its one host_copy point took 1 ns: the check must find this host far
    # slower, in the JSON and on stderr, and --no-drift-check must leave it out.
    profile, configs = tiny_files(tmp_path)
    data = fake_profile("Other CPU", 64)
    data["measurements"] = [{"op": "host_copy", "backend": "torch", "params": {"bytes": 4.0 * 2**20},
                             "median_s": 1e-9, "flagged": False}]
    profile.write_text(json.dumps(data))
    args = ["validate", "--profile", str(profile), "--configs", str(configs), "--json",
            "--min-time", "0.02", "--rounds", "1", "--plot", str(tmp_path / "p.png")]
    assert main(args) == 0
    out, err = capsys.readouterr()
    drift = json.loads(out)["drift"]
    assert [p["op"] for p in drift["before"]] == ["host_copy"] == [p["op"] for p in drift["after"]]
    assert drift["before"][0]["ratio"] > 100 and "host speed check" in err
    assert main([*args, "--no-drift-check"]) == 0
    out, _ = capsys.readouterr()
    assert json.loads(out)["drift"] == {"before": [], "after": []}


def test_a_profile_that_times_none_of_the_step_is_refused_before_measuring(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
        ) -> None:
    # As `dlrmsim calibrate --ops host_copy` writes it: a bandwidth and no kernel.
    def measure(*args: object, **kwargs: object) -> None:
        raise AssertionError("measured with a profile that times no kernel of the step")

    monkeypatch.setattr("dlrmsim.validate.run.validate_all", measure)
    profile, configs = tiny_files(tmp_path)
    data = json.loads(profile.read_text())
    data["cost_models"] = {}
    profile.write_text(json.dumps(data))
    code = main(["validate", "--profile", str(profile), "--configs", str(configs), "--plot",
                 str(tmp_path / "p.png")])
    err = capsys.readouterr().err
    assert code == 2 and "times none of the step's kernels" in err
    assert "mlp_forward" in err and "embedding_forward" in err


def test_ops_missing_from_the_profile_are_named_in_the_summary_and_json(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile, configs = tiny_files(tmp_path, "[{name: a, rows: 100, dim: 16, pooling: "
                                            "{mean_lookups: 2}}]")
    data = json.loads(profile.read_text())
    for op in ("mlp_forward", "mlp_backward"):
        del data["cost_models"][op]
    profile.write_text(json.dumps(data))
    args = ["validate", "--profile", str(profile), "--configs", str(configs), "--min-time",
            "0.02", "--plot", str(tmp_path / "p.png"), "--no-drift-check"]
    assert main([*args, "--json"]) == 0
    out, err = capsys.readouterr()
    missing = json.loads(out)["uncalibrated_ops"]
    assert {"mlp_forward", "mlp_backward"} <= set(missing) and "embedding_forward" not in missing
    assert "mlp_forward" in err
    assert main(args) == 0
    summary_lines = capsys.readouterr().out.splitlines()
    (said,) = [line for line in summary_lines if "charged at analytic costs" in line]
    assert "mlp_forward" in said and "mlp_backward" in said


def test_the_summary_names_the_profile_its_mode_and_host(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile, configs = tiny_files(tmp_path, "[{name: a, rows: 100, dim: 16, pooling: "
                                            "{mean_lookups: 2}}]")
    assert main(["validate", "--profile", str(profile), "--configs", str(configs), "--min-time",
                 "0.02", "--plot", str(tmp_path / "p.png"), "--no-drift-check"]) == 0
    out = capsys.readouterr().out
    (said,) = [line for line in out.splitlines() if line.startswith("profile:")]
    # fake_profile: a quick profile measured on host "elsewhere", CPU "Other CPU"
    assert str(profile) in said and "quick" in said
    assert "elsewhere" in said and "Other CPU" in said


def _never_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    def measure(*args: object, **kwargs: object) -> None:
        raise AssertionError("measured although the input is out of range")

    monkeypatch.setattr("dlrmsim.validate.run.validate_all", measure)


@pytest.mark.parametrize("seed", [str(2**64), str(10**30)])
def test_a_seed_beyond_torch_s_range_is_refused_before_measuring(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        seed: str) -> None:
    # torch.Generator.manual_seed takes at most 2**64 - 1; past it the run crashed at the end.
    _never_measured(monkeypatch)
    profile, configs = tiny_files(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--profile", str(profile), "--configs", str(configs), "--plot",
              str(tmp_path / "p.png"), "--seed", seed])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--seed" in err and str(2**64 - 1) in err


def test_the_largest_seed_torch_takes_seeds_the_step() -> None:
    import torch

    from dlrmsim.commands.validate import MAX_SEED

    torch.Generator().manual_seed(MAX_SEED)  # the bound is torch's, not a guess
    with pytest.raises(ValueError, match="Overflow"):  # the traceback the bound prevents
        torch.Generator().manual_seed(MAX_SEED + 1)


@pytest.mark.parametrize("batch", [10**30, 2**24 + 1])
def test_a_batch_beyond_the_bound_is_refused_as_the_file_is_read(batch: int) -> None:
    with pytest.raises(PresetError, match=rf"configs\[0\]\.batch_size = {batch}: .*2\*\*24"):
        load_configs_text(f"- {{model: test_suite, batch_size: {batch}}}\n")
    (config,) = load_configs_text(f"- {{model: test_suite, batch_size: {2**24}}}\n")
    assert config.batch_size == 2**24


def test_a_batch_too_big_for_memory_is_skipped_before_it_is_simulated(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def predict(*args: object, **kwargs: object) -> None:
        raise AssertionError("simulated a batch that cannot fit in memory")

    monkeypatch.setattr("dlrmsim.validate.run.predict_step", predict)
    profile, _ = tiny_files(tmp_path)
    (config,) = load_configs_text(f"- {{model: test_suite, batch_size: {2**24}}}\n")
    rows, _ = validate_all([config], load_profile(profile), device="cpu", seed=0,
                           min_time_s=0.01, drift_check=False)
    (row,) = rows
    assert row.measured_s is None and row.skipped is not None and "GB available" in row.skipped


TINY_MODEL = ("name: tinymodel\ndense_features: 8\nbottom_mlp: [16]\ntop_mlp: [8]\n"
              "tables: [{name: a, rows: 100, dim: 16, pooling: {mean_lookups: 2}}]\n")


def test_a_model_path_is_read_relative_to_the_configs_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "tinymodel.yaml").write_text(TINY_MODEL)
    (sub / "cfg.yaml").write_text("- {model: tinymodel.yaml, batch_size: 8}\n"
                                  "- {model: test_suite, batch_size: 8}\n")  # still a preset
    monkeypatch.chdir(tmp_path)  # the current folder holds no tinymodel.yaml
    configs = load_configs(Path("sub/cfg.yaml"))
    assert [c.model.name for c in configs] == ["tinymodel", "test_suite"]


def test_a_missing_model_file_says_where_it_was_looked_for(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (tmp_path / "tinymodel.yaml").write_text(TINY_MODEL)  # beside the current folder only
    (sub / "cfg.yaml").write_text("- {model: tinymodel.yaml, batch_size: 8}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PresetError, match=r"configs\[0\]\.model 'tinymodel\.yaml': no such "
                                          r"file sub/tinymodel\.yaml \(.*configs file's folder"):
        load_configs(Path("sub/cfg.yaml"))


def assert_worded_for_validate(reason: str) -> None:
    """A skip names what validate can change, in GB, not simulate's options or raw bytes."""
    assert "--gpus" not in reason and "--trainers" not in reason and "--sparse-ps" not in reason
    assert "bytes" not in reason and " GB" in reason
    assert "smaller batch, fewer rows or fewer tables" in reason


def test_tables_too_big_for_the_host_are_skipped_in_validate_s_words(tmp_path: Path) -> None:
    # 10**14 rows x dim 16 x 4 bytes = 6.4 PB: more than any host holds
    (config,) = load_configs_text("""
- name: huge
  batch_size: 32
  model: {name: huge, dense_features: 8, bottom_mlp: [16], top_mlp: [8], optimizer: sgd,
          tables: [{name: a, rows: 100000000000000, dim: 16, pooling: {mean_lookups: 2}}]}
""")
    profile, _ = tiny_files(tmp_path)
    rows, _ = validate_all([config], load_profile(profile), device="cpu", seed=0,
                           min_time_s=0.01, drift_check=False)
    (row,) = rows
    assert row.skipped is not None and "6400000.0 GB" in row.skipped
    assert_worded_for_validate(row.skipped)


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n"])
def test_an_empty_configs_file_is_called_empty(tmp_path: Path, text: str) -> None:
    path = tmp_path / "configs.yaml"
    path.write_text(text)
    with pytest.raises(PresetError, match=r"configs\.yaml: the file is empty") as info:
        load_configs(path)
    assert "NoneType" not in str(info.value) and str(info.value).endswith("batch_size: N} entries")


def test_a_cuda_profile_for_cpu_steps_is_refused_without_the_other_host_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
        ) -> None:
    _never_measured(monkeypatch)
    _, configs = tiny_files(tmp_path)
    cuda = tmp_path / "cuda.json"
    cuda.write_text(json.dumps({**fake_profile("Other CPU", 64), "device": "cuda"}))
    code = main(["validate", "--profile", str(cuda), "--configs", str(configs), "--plot",
                 str(tmp_path / "p.png"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "a cuda profile, but the steps run on cpu" in err
    assert "warning" not in err and len(err.strip().splitlines()) == 1


def test_the_readme_s_examples_of_partial_profiles_are_what_validate_does() -> None:
    # The README gave a `calibrate --ops host_copy` profile as one whose missing ops are
    # charged at analytic costs; validate refuses that profile (it times none of the step).
    from dlrmsim.validate.coverage import check_coverage

    text = " ".join((ROOT / "README.md").read_text().split())
    (charged,) = re.findall(r"does not time \(e\.g\. [^()]*`calibrate --ops ([\w,]+)` profile\) "
                            r"are charged at analytic costs", text)
    (refused,) = re.findall(r"a profile that times none of them \(e\.g\. a `calibrate --ops "
                            r"([\w,]+)` profile\) is refused", text)
    models = [c.model for c in default_grid()]

    def profile_of(ops: str) -> Profile:
        constant = {"when": {}, "terms": [{"coef": 1e-3, "powers": {}}]}
        data = {**fake_profile("Test CPU", 8), "cost_models": {
            op: {"form": "piecewise_monomial_sum", "params": OPS.get(op, ["bytes"]),
                 "pieces": [constant]} for op in ops.split(",")}}
        return parse_profile(data, f"calibrate --ops {ops}")

    missing = check_coverage(profile_of(charged), models)
    assert missing and not set(charged.split(",")) & set(missing)
    with pytest.raises(DlrmsimInputError, match="times none of the step's kernels"):
        check_coverage(profile_of(refused), models)


def test_ops_timed_from_weak_fits_are_named_on_stderr_in_the_summary_and_json(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # validate used a fit that calibrate had called too weak to use, without a word.
    profile, configs = tiny_files(tmp_path, "[{name: a, rows: 100, dim: 16, pooling: "
                                            "{mean_lookups: 2}}]")
    data = json.loads(profile.read_text())
    reasons = ["held-out median error 96%", "1 fitted point(s) for 9 terms"]
    data["run"] = {"weak_fits": {"embedding_forward": reasons, "alltoall_gloo": ["x"]}}
    profile.write_text(json.dumps(data))
    args = ["validate", "--profile", str(profile), "--configs", str(configs), "--min-time",
            "0.02", "--rounds", "1", "--plot", str(tmp_path / "p.png"), "--no-drift-check"]
    assert main([*args, "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["weak_fits"] == {"embedding_forward": reasons}
    (warning,) = [line for line in err.splitlines() if "too weak" in line]
    assert warning.startswith(f"warning: {profile}: calibrate found this fit too weak to use: "
                              "embedding_forward (held-out median error 96%, 1 fitted point(s) "
                              "for 9 terms)")
    assert "--budget-scale" in warning and "alltoall_gloo" not in warning
    assert main(args) == 0
    (said,) = [line for line in capsys.readouterr().out.splitlines() if "too weak" in line]
    assert said.strip() == warning.removeprefix("warning: ")

"""Presets load into specs, carry their sources, and bad files get clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from sim.errors import PresetError
from sim.mapping import to_mapping
from sim.presets import (
    list_presets,
    load_any,
    load_job,
    load_model,
    load_platform,
    preset_root,
    save_model,
)
from sim.units import parse_quantity

REQUIRED = {
    "models": {"m1_prod", "m2_prod", "m3_prod", "test_suite"},
    "platforms": {"dual_socket_cpu", "big_basin", "zion", "h100_8gpu", "grace_hopper"},
    "jobs": {"m1_cpu", "m1_gpu", "m2_cpu", "m2_gpu", "m3_cpu", "m3_gpu"},
}


def test_required_presets_exist_and_load() -> None:
    names = list_presets()
    for kind, required in REQUIRED.items():
        assert required <= set(names[kind])
    for name in names["models"]:
        load_model(name)
    for name in names["platforms"]:
        load_platform(name)
    for name in names["jobs"]:
        job = load_job(name)
        load_model(job.model)
        load_platform(job.trainer_platform)
        load_platform(job.ps_platform)


@pytest.mark.parametrize("kind", ["models", "platforms", "jobs"])
def test_every_preset_names_its_source(kind: str) -> None:
    for path in sorted((preset_root() / kind).glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        assert data.get("source"), f"{path} has no source"
        assert data["name"] == path.stem, f"{path}: name must match the file name"


def test_paper_model_tables_match_table_ii() -> None:
    # (tables, dense features, mean hash size, mean lookups) from Table II and Section IV
    expected = {"m1_prod": (30, 800, 5.7e6, 28), "m2_prod": (13, 504, 7.3e6, 17),
                "m3_prod": (127, 809, 3.7e6, 49)}
    for name, (tables, dense, mean_rows, mean_lookups) in expected.items():
        model = load_model(name)
        rows = [t.rows for t in model.tables]
        lookups = [t.pooling.mean_lookups for t in model.tables]
        assert model.num_tables == tables and model.dense_features == dense
        assert abs(sum(rows) / tables - mean_rows) / mean_rows < 0.01
        assert abs(sum(lookups) / tables - mean_lookups) / mean_lookups < 0.01
        assert min(rows) >= 30 and max(rows) <= 20_000_000
        top_share = sum(sorted(lookups)[-max(1, tables // 5):]) / sum(lookups)
        assert top_share > 0.5, "a few tables should take most lookups"
    assert 10e9 < load_model("m1_prod").embedding_bytes < 100e9  # tens of GB
    assert 10e9 < load_model("m2_prod").embedding_bytes < 100e9
    assert load_model("m3_prod").embedding_bytes > 100e9  # hundreds of GB


def test_table_i_platforms() -> None:
    cpu, bb, zion = (load_platform(n) for n in ("dual_socket_cpu", "big_basin", "zion"))
    assert len(cpu.sockets) == 2 and cpu.cores == 40 and not cpu.gpus
    assert abs(cpu.network_bw_bytes_per_s - parse_quantity("x_bytes_per_s", "25 Gbit/s")) < 1
    assert len(bb.gpus) == 8 and bb.has_gpu_links
    assert all(sum(row) == 6 for row in bb.nvlink_links), "V100 has 6 NVLink links"
    assert len(bb.pcie_switches) == 4
    assert all(len(s.gpus) == 2 and len(s.nics) == 1 for s in bb.pcie_switches)
    assert abs(bb.power_w / cpu.power_w - 7.3) < 1e-9
    assert len(zion.sockets) == 8 and len(zion.gpus) == 8 and not zion.has_gpu_links
    assert 1.9e12 < zion.mem_capacity_bytes < 2.3e12 and 0.9e12 < zion.mem_bw_bytes_per_s < 1.1e12
    assert abs(zion.network_bw_bytes_per_s - 4 * 100e9 / 8) < 1


def test_hypothetical_platforms_are_marked_estimates() -> None:
    for name in ("h100_8gpu", "grace_hopper"):
        spec = load_platform(name)
        assert spec.estimate and "ESTIMATE" in spec.description
    for name in ("dual_socket_cpu", "big_basin", "zion"):
        assert not load_platform(name).estimate


def test_table_iii_jobs() -> None:
    assert [load_job(f"m{i}_gpu").batch_size for i in (1, 2, 3)] == [1600, 3200, 800]
    assert [load_job(f"m{i}_cpu").hogwild_threads for i in (1, 2, 3)] == [1, 1, 4]
    counts = [(j.trainers, j.sparse_ps + j.dense_ps) for j in (load_job(f"m{i}_cpu") for i in (1, 2, 3))]
    assert counts == [(6, 8), (20, 16), (8, 8)]
    assert load_job("m1_gpu").placement.kind == "gpu" and load_job("m3_gpu").placement.kind == "remote"


def test_model_round_trips_through_yaml(tmp_path: Path) -> None:
    model = load_model("test_suite")
    save_model(model, tmp_path / "copy.yaml", source="test")
    assert load_model(tmp_path / "copy.yaml") == model
    assert to_mapping(load_model(str(tmp_path / "copy.yaml"))) == to_mapping(model)


def test_users_file_is_accepted_where_a_name_is(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\ndense_features: 13\nbottom_mlp: [64]\ntop_mlp: [32]\n"
                    "tables: {count: 3, each: {rows: 1000, dim: 16, pooling: {mean_lookups: 2}}}\n")
    kind, model = load_any(str(path))
    assert kind == "models" and model.num_tables == 3 and model.tables[2].name == "t2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [unclosed\n", "not valid YAML"),
        ("- a list\n", "mapping of fields"),
        ("name: m\ndense_features: 13\nbottom_mlp: []\ntables: []\n", "missing field 'top_mlp'"),
        ("name: m\ndense_features: -1\nbottom_mlp: []\ntop_mlp: []\n"
         "tables: [{name: a, rows: 5, dim: 4, pooling: {mean_lookups: 1}}]\n", "dense_features = -1"),
        ("name: m\ndense_features: 1\nbottom_mlp: []\ntop_mlp: []\n"
         "tables: [{name: a, rows: lots, dim: 4, pooling: {mean_lookups: 1}}]\n", r"tables\[0\]\.rows"),
        ("name: m\ndense_features: 1\nbottom_mlp: []\ntop_mlp: []\ncolour: red\n"
         "tables: [{name: a, rows: 5, dim: 4, pooling: {mean_lookups: 1}}]\n", "unknown field"),
        ("name: m\ndense_features: .nan\nbottom_mlp: []\ntop_mlp: []\n"
         "tables: [{name: a, rows: 5, dim: 4, pooling: {mean_lookups: 1}}]\n",
         "dense_features: expected a whole number"),
        ("name: m\ndense_features: 1\nbottom_mlp: []\ntop_mlp: []\n"
         "tables: [{name: a, rows: .inf, dim: 4, pooling: {mean_lookups: 1}}]\n",
         r"tables\[0\]\.rows: expected a whole number"),
    ],
)
def test_bad_files_name_the_file_and_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(PresetError, match=message) as err:
        load_model(path)
    assert str(path) in str(err.value)


def test_a_binary_file_is_a_preset_error(tmp_path: Path) -> None:
    path = tmp_path / "trace.yaml"
    path.write_bytes(b"\xff\xfe\x00\x01")  # not UTF-8: a trace or an image named by mistake
    with pytest.raises(PresetError, match="not a YAML or JSON text file") as err:
        load_model(path)
    assert str(path) in str(err.value)


def test_saving_onto_a_folder_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(PresetError, match="is a folder"):
        save_model(load_model("test_suite"), folder)
    assert list(folder.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_saving_into_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PresetError, match="cannot write"):
        save_model(load_model("test_suite"), tmp_path / "no" / "model.yaml")


def test_a_saved_spec_has_a_new_files_mode_and_a_hidden_temporary_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: mode 0600 (mkstemp's), through a temporary file named like `tmpab12cd.tmp`.
    seen: list[list[str]] = []
    rename = os.replace

    def spy(src: str, dst: object) -> None:
        seen.append(sorted(os.listdir(tmp_path)))
        rename(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", spy)
    old = os.umask(0o022)
    try:
        save_model(load_model("test_suite"), tmp_path / "m.yaml")
    finally:
        os.umask(old)
    ((tmp,),) = seen
    assert tmp.startswith(".m.yaml.") and tmp.endswith(".tmp")
    assert os.listdir(tmp_path) == ["m.yaml"]
    assert (tmp_path / "m.yaml").stat().st_mode & 0o777 == 0o644
    assert load_model(str(tmp_path / "m.yaml")) == load_model("test_suite")


def test_unknown_name_suggests_close_ones() -> None:
    with pytest.raises(PresetError, match="did you mean m2_prod"):
        load_model("m2_prd")


def test_missing_file_is_a_preset_error(tmp_path: Path) -> None:
    with pytest.raises(PresetError, match="no such file"):
        load_platform(tmp_path / "nope.yaml")


def test_duplicate_preset_names_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for kind in ("models", "platforms", "jobs"):
        (tmp_path / kind).mkdir()
    text = (preset_root() / "models" / "test_suite.yaml").read_text()
    (tmp_path / "models" / "twin.yaml").write_text(text)
    (tmp_path / "jobs" / "twin.yaml").write_text(text)
    monkeypatch.setenv("DLRMSIM_PRESETS", str(tmp_path))
    with pytest.raises(PresetError, match="defined twice"):
        list_presets()


@pytest.mark.parametrize(
    ("field", "text", "expected"),
    [("x_bytes", "16 GiB", 16 * 2**30), ("x_bytes", "256 GB", 256e9),
     ("x_bytes_per_s", "25 Gbit/s", 25e9 / 8), ("x_bytes_per_s", "900 GB/s", 900e9),
     ("x_flops_per_s", "15.7 TFLOP/s", 15.7e12), ("power_w", "1.2 kW", 1200.0),
     ("latency_s", "2 us", 2e-6), ("latency_s", "1.5 ms", 1.5e-3), ("x_bytes", 1024, 1024.0)],
)
def test_quantities(field: str, text: object, expected: float) -> None:
    assert parse_quantity(field, text) == pytest.approx(expected)


@pytest.mark.parametrize(("field", "text"), [("x_bytes", "16 GB/s"), ("power_w", "3 parsecs"),
                                             ("cores", "four"), ("x_bytes", "")])
def test_bad_quantities_say_what_is_expected(field: str, text: str) -> None:
    with pytest.raises(ValueError, match=field):
        parse_quantity(field, text)


@pytest.mark.parametrize("loader", [load_model, load_platform, load_job, load_any])
def test_a_folder_named_like_a_spec_file_is_called_a_folder(tmp_path: Path, loader: object) -> None:
    # "no such file" for a folder that is there sends the user looking for a missing file.
    folder = tmp_path / "x.yaml"
    folder.mkdir()
    with pytest.raises(PresetError, match="is a folder; a spec file") as err:
        loader(str(folder))  # type: ignore[operator]
    assert str(folder) in str(err.value) and "no such file" not in str(err.value)


@pytest.mark.parametrize(("loader", "given", "kind", "expected", "flag"), [
    (load_model, "jobs/m2_gpu.yaml", "job", "model", "--job"),
    (load_model, "platforms/big_basin.yaml", "platform", "model", "--platform"),
    (load_platform, "models/m2_prod.yaml", "model", "platform", "--model"),
    (load_platform, "jobs/m2_gpu.yaml", "job", "platform", "--job"),
    (load_job, "models/test_suite.yaml", "model", "job", "--model"),
    (load_job, "platforms/zion.yaml", "platform", "job", "--platform"),
])
def test_a_file_of_another_kind_is_named_as_that_kind(loader: object, given: str, kind: str,
                                                     expected: str, flag: str) -> None:
    # It said "unknown field(s) batch_size, model, ... for ModelSpec" or "missing field
    # 'dense_features'", which send the user to edit a file that is right.
    path = preset_root() / given
    with pytest.raises(PresetError) as err:
        loader(str(path))  # type: ignore[operator]
    message = str(err.value)
    assert f"is a {kind} spec (kind: {kind}), not a {expected}; give it with {flag}" in message
    assert path.name in message and "unknown field" not in message and "missing field" not in message


def test_the_python_api_names_the_argument_for_a_file_of_another_kind() -> None:
    from sim.run import simulate

    with pytest.raises(PresetError, match=r"not a model; give it with --job \(job= in Python\)"):
        simulate(model=str(preset_root() / "jobs" / "m2_gpu.yaml"), platform="big_basin")


def test_a_job_whose_model_names_a_platform_file_says_so(tmp_path: Path) -> None:
    from sim.run import resolve

    job = tmp_path / "job.yaml"
    platform = preset_root() / "platforms" / "big_basin.yaml"
    job.write_text(f"kind: job\nname: j\nmodel: {platform}\ntrainer_platform: big_basin\n"
                   "batch_size: 100\nplacement: {kind: gpu}\n")
    with pytest.raises(PresetError, match="not a model; the job's model field must name a model"
                       ) as err:
        resolve(str(job), None, None, None, None, {})
    assert "--platform" not in str(err.value)  # the fix is in the job file, not a flag

"""The model configurations that validation runs: a default grid over the axes of the paper's
test suite (Section V), scaled to fit one small host, or the user's own list.

None of the default points repeats a point that calibration measures: their sizes are chosen off
the calibration grid (odd batch sizes, dimensions and row counts), and a test checks this against
the committed profiles. Nothing here is fitted to the end-to-end measurements.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sim.arguments import check_path
from sim.errors import PresetError
from sim.presets import load_model, model_from_mapping, names_a_file, read_file
from sim.specs import ModelSpec, PoolingSpec, PopularitySpec, TableSpec

# The centre of the default grid; every other default point changes one or a few axes.
CENTRE: dict[str, Any] = {
    "dense": 256, "tables": 16, "rows": 120_000, "pooling": 12, "dim": 48, "batch": 384,
    "mlp": (256, 128), "optimizer": "rowwise_adagrad",
}
# One axis at a time, over the test-suite ranges of DESIGN.md scaled to this class of host.
AXES: dict[str, tuple[Any, ...]] = {
    "dense": (64, 1024, 4096),
    "tables": (4, 48, 128),
    "rows": (1_500, 30_000, 900_000),
    "pooling": (1, 4, 40, 64),
    "dim": (16, 96, 128),
    "batch": (64, 1_536, 4_096),
    "mlp": ((64, 64), (512, 512, 512), (1024, 1024, 1024, 1024)),
    "optimizer": ("sgd",),
}
# Points that move several axes together, so that the grid is not only a cross.
MIXED: dict[str, dict[str, Any]] = {
    "mixed_small": {"dense": 128, "tables": 8, "rows": 5_000, "pooling": 2, "dim": 16,
                    "batch": 96, "mlp": (64, 64)},
    "mixed_large": {"dense": 2_048, "tables": 64, "rows": 400_000, "pooling": 24, "dim": 64,
                    "batch": 2_048, "mlp": (1024, 512, 256)},
    "mixed_sparse": {"dense": 64, "tables": 96, "rows": 60_000, "pooling": 32, "dim": 32,
                     "batch": 768, "mlp": (128, 128)},
}
# The largest batch a configuration may ask for (examples). A step of more cannot be measured
# on any host: measure.footprint_bytes counts 8 x batch x widest layer x 4 bytes of activations,
# over 8 GB at 2**24 even for layers 16 wide; and it is 4096x the default grid's largest batch.
# Above it a number is a typo, which numpy met with a traceback after the measuring.
MAX_BATCH_SIZE = 2**24
# torch.Generator.manual_seed takes an unsigned 64-bit seed (numpy's SeedSequence takes any
# size): a larger one failed with a traceback after all the measuring.
MAX_SEED = 2**64 - 1
ZIPF_S = 1.05  # the skew of the production-like presets (presets/models/*_prod.yaml)
ENTRY_KEYS = ("name", "model", "batch_size")  # what a configs file's entry may hold


@dataclass(frozen=True)
class ValidationConfig:
    """One model and batch size to measure and predict."""

    name: str
    model: ModelSpec
    batch_size: int


def synthetic_model(name: str, point: dict[str, Any]) -> ModelSpec:
    """A test-suite-like model from grid axes (fixed pooling, so every bag has `pooling` rows)."""
    table = TableSpec("t", point["rows"], point["dim"], PoolingSpec(float(point["pooling"])),
                      PopularitySpec(law="zipf", zipf_s=ZIPF_S))
    tables = tuple(dataclasses.replace(table, name=f"t{i}") for i in range(point["tables"]))
    mlp = tuple(point["mlp"])
    return ModelSpec(name, point["dense"], tables, mlp, mlp, interaction="dot",
                     optimizer=point["optimizer"])


def _config(name: str, changes: dict[str, Any]) -> ValidationConfig:
    point = {**CENTRE, **changes}
    return ValidationConfig(name, synthetic_model(name, point), point["batch"])


def _label(value: Any) -> str:
    return "x".join(map(str, value)) if isinstance(value, tuple) else str(value)


def default_grid() -> list[ValidationConfig]:
    """The default configurations: the centre, one-axis variations, and mixed points."""
    configs = [_config("centre", {})]
    for axis, values in AXES.items():
        configs += [_config(f"{axis}_{_label(v)}", {axis: v}) for v in values]
    configs += [_config(name, changes) for name, changes in MIXED.items()]
    return configs


def load_configs(path: str | Path) -> list[ValidationConfig]:
    """Configurations from a YAML or JSON file: a list (or `configs:` list) of entries with
    `model` (a preset name, a path relative to the file's folder, or an inline model mapping),
    `batch_size` and optional `name`. PresetError names the file and the entry on any problem."""
    check_path("path", path, "a YAML or JSON file of configurations", PresetError,
               optional=False)
    path = Path(path)
    data = _read(path)
    entries = data.get("configs") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        raise PresetError(f"{path}: expected `configs:` with a non-empty list of "
                          "{model: ..., batch_size: N} entries")
    return list(_entries(path, entries))


def _read(path: Path) -> Any:
    try:
        return read_file(path, allow_list=True)
    except PresetError:
        if _holds_nothing(path):  # read_file would say "got NoneType"
            raise PresetError(f"{path}: the file is empty; give a list of {{model: ..., "
                              "batch_size: N} entries") from None
        raise


def _holds_nothing(path: Path) -> bool:
    """Whether the file is empty or only comments (YAML reads it as nothing)."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) is None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False


def _entries(path: Path, entries: Iterable[Any]) -> Iterable[ValidationConfig]:
    seen: dict[str, int] = {}  # name -> index of the entry that has it
    for i, entry in enumerate(entries):
        config = _entry(path, i, entry)
        if config.name in seen:  # rows, plots and JSON are keyed by name
            raise PresetError(f"{path}: configs[{i}]: name {config.name!r} is also configs"
                              f"[{seen[config.name]}]'s; give each entry its own `name`")
        seen[config.name] = i
        yield config


def _model(path: Path, where: str, model: Any) -> ModelSpec:
    """The entry's model: inline, a preset name, or a file relative to the configs file."""
    try:
        if isinstance(model, dict):
            return model_from_mapping(model)
        return load_model(_model_file(path, where, str(model)))
    except PresetError as err:
        raise PresetError(f"{where}: {err}") from err


def _model_file(path: Path, where: str, text: str) -> str:
    """A model path relative to the configs file's folder, so that the file means the same from
    any current folder (a preset name is left as it is); PresetError naming where it looked."""
    if not names_a_file(text):
        return text  # a preset name, as sim.presets tells them apart
    found = path.parent / Path(text).expanduser()  # an absolute path stays itself
    if not found.exists():
        raise PresetError(f"{where}.model {text!r}: no such file {found} (a path is read "
                          "relative to the configs file's folder); give a preset name or the "
                          "path of a model YAML file")
    return str(found)


def _entry(path: Path, i: int, entry: Any) -> ValidationConfig:
    where = f"{path}: configs[{i}]"
    if not isinstance(entry, dict) or "model" not in entry or "batch_size" not in entry:
        raise PresetError(f"{where}: give `model` and `batch_size`")
    unknown = [key for key in entry if key not in ENTRY_KEYS]
    if unknown:  # a typo such as `nmae:` would otherwise be dropped without a word
        raise PresetError(f"{where}: unknown key {unknown[0]!r}; an entry takes only "
                          f"{', '.join(ENTRY_KEYS)}")
    spec = _model(path, where, entry["model"])
    batch = entry["batch_size"]
    whole = isinstance(batch, int) and not isinstance(batch, bool)
    if not whole or not 1 <= batch <= MAX_BATCH_SIZE:
        raise PresetError(f"{where}.batch_size = {batch!r}: give a whole number from 1 to "
                          f"{MAX_BATCH_SIZE} (2**24)")
    name = entry.get("name", f"{spec.name}_b{batch}")
    if not isinstance(name, str) or not name.strip():
        raise PresetError(f"{where}.name = {name!r}: give a non-empty name, or leave `name` "
                          "out for MODEL_bBATCH")
    return ValidationConfig(name, spec, batch)

"""The test-suite sweeps of Section V (Figures 10 to 13): the model varied along one axis around
its centre point, on the CPU and the Big Basin setups, as simulation tasks and result rows."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache
from typing import Any

from dlrmsim.reproduce.types import Outcomes, Row, Settings, Task, task
from sim.presets import load_model
from sim.specs import ModelSpec, PlacementSpec

SUITE = "test_suite"
# The setups of Section V: the CPU one (1 trainer, 1 sparse and 1 dense PS, batch 200) and one
# Big Basin with the tables in GPU memory (batch 1600); both are job presets.
SETUP_JOBS = {"cpu": "test_suite_cpu", "gpu": "test_suite_gpu"}
# The hash-size sweep also runs Big Basin with the tables packed on the fewest GPUs, the layout
# under which "the tables need more GPUs" as they grow (Section V-C).
PACKED = PlacementSpec(kind="gpu", sharding="table_wise", packing="packed")


@dataclass(frozen=True)
class Axis:
    """One swept axis: its name, the values of the full and the quick run, and the setups."""

    name: str
    full: tuple[int, ...]
    quick: tuple[int, ...]
    setups: tuple[str, ...] = ("cpu", "gpu")

    def values(self, settings: Settings) -> tuple[int, ...]:
        return self.quick if settings.quick else self.full


# Dense features: Section V sweeps 64 to 4096 (count).
DENSE = Axis("dense_features", (64, 128, 256, 512, 1024, 2048, 4096), (64, 512, 4096))
# Sparse features (tables): Section V sweeps 4 to 128 (count).
SPARSE = Axis("sparse_features", (4, 8, 16, 32, 64, 128), (4, 32, 128))
# Batch size (examples per batch): powers of two from 64 to 16384, the range of Figure 11's axis
# as the findings test uses it; quick keeps both ends' doublings (V-B.1) and 1024, 2048 and 8192,
# near the two setups' throughput-optimal batches (V-B.2 compares them; the full run's CPU 2048
# and Big Basin 8192 are both kept, so quick finds the same ones).
BATCH = Axis("batch_size", (64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384),
             (64, 128, 1024, 2048, 8192, 16384))
# Hash size (rows per table): 100000 (Section V) up to 25 million, the largest that fits both
# 256 GB sides with row-wise Adagrad state (32 x 25M x 64 x 4 B = 205 GB; CPU PS holds 218 GB,
# Big Basin's GPUs 247 GB after the usable fractions of sim/specs/efficiency.py).
HASH = Axis("hash_size", (100_000, 300_000, 1_000_000, 3_000_000, 10_000_000, 25_000_000),
            (100_000, 1_000_000, 25_000_000), ("cpu", "gpu", "gpu_packed"))
# MLP width (units per layer, 3 layers bottom and top): 64 to 4096, Section V-D.
MLP = Axis("mlp_width", (64, 128, 256, 512, 1024, 2048, 4096), (64, 256, 4096))


@cache
def _suite() -> ModelSpec:
    return load_model(SUITE)


def suite_model(axis: str, value: int) -> ModelSpec:
    """The test-suite model with one axis set to `value`; the name says which."""
    base = _suite()
    first = base.tables[0]
    tables = base.num_tables
    changes: dict[str, Any] = {}
    if axis == "dense_features":
        changes["dense_features"] = value
    elif axis == "sparse_features":
        tables = value
    elif axis == "hash_size":
        first = dataclasses.replace(first, rows=value)
    elif axis == "mlp_width":
        changes["bottom_mlp"] = changes["top_mlp"] = (value,) * 3
    elif axis != "batch_size":
        raise ValueError(f"axis = {axis!r}: not a test-suite axis")
    each = tuple(dataclasses.replace(first, name=f"t{i}") for i in range(tables))
    return dataclasses.replace(base, name=f"{SUITE}_{axis}_{value}", tables=each, **changes)


def sweep_task(axis: str, value: int, setup: str, settings: Settings) -> Task:
    """The simulation of one point of a sweep on one setup."""
    job = SETUP_JOBS["gpu" if setup == "gpu_packed" else setup]
    batch = value if axis == "batch_size" else None
    model = None if axis == "batch_size" else suite_model(axis, value)
    placement = PACKED if setup == "gpu_packed" else None
    return task(job, model=model, batch_size=batch, placement=placement,
                iterations=settings.iterations, seed=settings.seed)


def plan_axes(axes: tuple[Axis, ...], settings: Settings) -> list[Task]:
    return [sweep_task(a.name, v, s, settings) for a in axes for v in a.values(settings)
            for s in a.setups]


def sweep_rows(axes: tuple[Axis, ...], outcomes: Outcomes, settings: Settings) -> list[Row]:
    """One row per axis, value and setup: throughput, examples per joule, or the error."""
    rows = []
    for axis in axes:
        for value in axis.values(settings):
            for setup in axis.setups:
                out = outcomes[sweep_task(axis.name, value, setup, settings)]
                rows.append({"sweep": axis.name, "value": value, "setup": setup,
                             "throughput": out.throughput,
                             "examples_per_joule": out.examples_per_joule,
                             "power_w": out.power_w, "bottleneck": out.bottleneck,
                             "error": out.error})
    return rows

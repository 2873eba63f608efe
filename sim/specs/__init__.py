"""Immutable, validated descriptions of models, hardware and jobs (units in the field names)."""

from sim.specs.efficiency import EfficiencySpec
from sim.specs.hardware import (
    CpuSocketSpec,
    GpuSpec,
    LinkSpec,
    NicSpec,
    PcieSwitchSpec,
    ServerSpec,
)
from sim.specs.job import JobSpec, PlacementSpec
from sim.specs.model import ModelSpec, PoolingSpec, PopularitySpec, TableSpec

__all__ = [
    "CpuSocketSpec",
    "EfficiencySpec",
    "GpuSpec",
    "JobSpec",
    "LinkSpec",
    "ModelSpec",
    "NicSpec",
    "PcieSwitchSpec",
    "PlacementSpec",
    "PoolingSpec",
    "PopularitySpec",
    "ServerSpec",
    "TableSpec",
]

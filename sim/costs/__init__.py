"""Cost models: what each kernel costs, analytic (datasheets) or calibrated (a profile)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sim.costs.analytic import AnalyticCosts
from sim.costs.base import CostModel, EmbeddingWork, OpCost, Processor, feature_interaction
from sim.costs.calibrated import CalibratedCosts
from sim.profile import load_profile
from sim.specs import ServerSpec

__all__ = ["AnalyticCosts", "CalibratedCosts", "CostModel", "EmbeddingWork", "OpCost",
           "Processor", "cost_model_for", "describe_costs", "feature_interaction"]


def cost_model_for(server: ServerSpec, profile_path: str | Path | None = None) -> CostModel:
    """The analytic model of `server`, or a calibrated one over it when a profile is given."""
    analytic = AnalyticCosts(server.efficiency)
    if profile_path is None:
        return analytic
    return CalibratedCosts(load_profile(profile_path), fallback=analytic)


def describe_costs(model: CostModel, servers: Iterable[ServerSpec]) -> str:
    """Where a run's costs came from, for its result: a calibrated model answers only for the
    processors of its profile's kind, so a CPU profile leaves a GPU server's GPUs analytic."""
    if not isinstance(model, CalibratedCosts):
        return "analytic: datasheet rates times the platforms' efficiency factors"
    kinds = {"cpu"} | {"gpu" for s in servers if s.gpus}
    measured = f"calibrated from {model.profile.path} ({model.profile.device} profile)"
    if model.kind not in kinds:
        return (f"{measured}, which times no processor of this job: every cost is analytic "
                f"(datasheet rates times efficiency factors)")
    if not model.measures_kernels() and not model.measures_memory_bw():
        return (f"{measured}, which has no kernel cost models and no {model.kind} memory "
                "bandwidth: every cost is analytic (datasheet rates times efficiency factors)")
    others = sorted(kinds - {model.kind})
    rest = "".join(f"; {k} work analytic (the profile has no {k} kernels)" for k in others)
    return f"{measured}: {_measured_part(model)}{rest}"


def _measured_part(model: CalibratedCosts) -> str:
    """What the profile supplies for the processors of its kind: kernel times, or (a profile of
    bandwidths only) the memory bandwidth alone, with every kernel analytic."""
    if model.measures_kernels():
        return f"{model.kind} work measured"
    return (f"{model.kind} memory bandwidth measured, {model.kind} kernels analytic (the profile "
            "has no kernel cost models)")

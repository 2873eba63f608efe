"""Cost models: what each kernel costs, analytic (datasheets) or calibrated (a profile)."""

from __future__ import annotations

from pathlib import Path

from sim.costs.analytic import AnalyticCosts
from sim.costs.base import CostModel, EmbeddingWork, OpCost, Processor
from sim.costs.calibrated import CalibratedCosts
from sim.profile import load_profile
from sim.specs import ServerSpec

__all__ = ["AnalyticCosts", "CalibratedCosts", "CostModel", "EmbeddingWork", "OpCost",
           "Processor", "cost_model_for"]


def cost_model_for(server: ServerSpec, profile_path: str | Path | None = None) -> CostModel:
    """The analytic model of `server`, or a calibrated one over it when a profile is given."""
    analytic = AnalyticCosts(server.efficiency)
    if profile_path is None:
        return analytic
    return CalibratedCosts(load_profile(profile_path), fallback=analytic)

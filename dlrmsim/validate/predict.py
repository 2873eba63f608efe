"""The simulator's prediction of one training step of a configuration on this host."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dlrmsim.validate.configs import ValidationConfig
from dlrmsim.validate.phases import predicted_groups
from sim.run import simulate
from sim.specs import ServerSpec

PREDICT_ITERATIONS = 6  # simulated iterations (count); one trainer, one thread: no variance


@dataclass(frozen=True)
class Prediction:
    """Mean simulated step (s), and its phases in the groups it is compared on (phases.py)."""

    step_s: float
    phases_s: dict[str, float]


def predict_step(config: ValidationConfig, platform: ServerSpec, *,
                 profile: str | Path | None, seed: int = 0) -> Prediction:
    """The simulated iteration of one trainer: with no GPU on `platform`, one thread and the
    tables in local memory; with one, that GPU with the tables in its memory."""
    on_gpu = bool(platform.gpus)
    result = simulate(model=config.model, platform=platform,
                      placement="gpu" if on_gpu else "system", batch_size=config.batch_size,
                      trainers=1, sparse_ps=0, dense_ps=0, readers=0, hogwild=1,
                      gpus=1 if on_gpu else None, profile=profile,
                      iterations=PREDICT_ITERATIONS, seed=seed)
    phases = predicted_groups(result.phase_time_s, "gpu" if on_gpu else "cpu")
    return Prediction(float(result.iteration_time_s["mean"]), phases)

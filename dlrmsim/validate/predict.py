"""The simulator's prediction of one training step of a configuration on this host."""

from __future__ import annotations

from pathlib import Path

from dlrmsim.validate.configs import ValidationConfig
from sim.run import simulate
from sim.specs import ServerSpec

PREDICT_ITERATIONS = 6  # simulated iterations (count); one trainer, one thread: no variance


def predict_step_s(config: ValidationConfig, platform: ServerSpec, *,
                   profile: str | Path | None, seed: int = 0) -> float:
    """Mean simulated iteration time (s) of one trainer: with no GPU on `platform`, one thread
    and the tables in local memory; with one, that GPU with the tables in its memory."""
    on_gpu = bool(platform.gpus)
    result = simulate(model=config.model, platform=platform,
                      placement="gpu" if on_gpu else "system", batch_size=config.batch_size,
                      trainers=1, sparse_ps=0, dense_ps=0, readers=0, hogwild=1,
                      gpus=1 if on_gpu else None, profile=profile,
                      iterations=PREDICT_ITERATIONS, seed=seed)
    return float(result.iteration_time_s["mean"])

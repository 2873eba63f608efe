"""The simulator's prediction of one training step of a configuration on this host."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dlrmsim.validate.configs import ValidationConfig
from sim.run import simulate
from sim.specs import ServerSpec

PREDICT_ITERATIONS = 6  # simulated iterations (count); one trainer, one thread: no variance
# The simulator's phases of a CPU trainer's iteration, by the phase of the real step
# (calibrate.dlrm.PHASES) that does the same work. With one trainer, no readers and no dense
# PS, its other phases (inputs, easgd) take no time. A GPU step's phases overlap differently
# from the real step's (its backward runs the embedding updates beside the MLPs'), so it has
# no such map.
CPU_PHASES = {"mlp_forward": "dense_forward", "lookups": "embedding_forward",
              "mlp_backward": "dense_backward", "updates": "embedding_update"}


@dataclass(frozen=True)
class Prediction:
    """Mean simulated step (s), and on a CPU its phases named as the real step's."""

    step_s: float
    phases_s: dict[str, float] | None


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
    phases = None
    if not on_gpu:
        phases = {CPU_PHASES[name]: seconds for name, seconds in result.phase_time_s.items()
                  if name in CPU_PHASES}
        rest = sum(result.phase_time_s.values()) - sum(phases.values())
        assert rest <= 1e-12 * result.iteration_time_s["mean"], result.phase_time_s
    return Prediction(float(result.iteration_time_s["mean"]), phases)

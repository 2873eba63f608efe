"""Everything the op catalog needs to know about this run."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from calibrate.settings import ModeSettings, PriorRates


@dataclass(frozen=True)
class Context:
    """The run's device, mode settings, planning priors, seed, cache-flush size (bytes: about
    twice the last-level cache), memory cap per point (bytes), local GPU count, and whether the
    FBGEMM kernels are to be timed."""

    device: torch.device
    settings: ModeSettings
    priors: PriorRates
    seed: int
    flush_bytes: float
    memory_cap_bytes: float
    gpu_count: int
    use_fbgemm: bool

    @property
    def on_gpu(self) -> bool:
        return self.device.type == "cuda"

"""Measure real DLRM training steps (torch, via `calibrate.dlrm`) on indices from the trace
generator: warm-up, then the median over enough steps."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from calibrate.clock import WallClock
from calibrate.dlrm import Dlrm, DlrmShape
from calibrate.host import available_memory_bytes
from dlrmsim.validate.configs import ValidationConfig
from sim.mapping import to_mapping
from traces.generator import ModelGenerator

DISTINCT_BATCHES = 4  # batches of indices cycled through (count): fresh lookups, bounded memory
MEMORY_HEADROOM = 0.6  # share of available memory a configuration may take (dimensionless)
# Steps timed part by part after the whole steps (count): enough for a median per part. They
# are kept apart because each part's end waits for the device, which a GPU step never does.
PHASED_STEPS = 10
# What a configuration that does not fit can change: validate runs one trainer on one device.
SMALLER = "give a smaller batch, fewer rows or fewer tables"


@dataclass(frozen=True)
class StepTiming:
    """Wall-clock seconds per training step: the median and every kept sample; and the median
    seconds of each part of the step (calibrate.dlrm.PARTS) over PHASED_STEPS more steps."""

    median_s: float
    samples_s: tuple[float, ...]
    parts_s: dict[str, float]


class SkipConfig(Exception):
    """This configuration cannot run here; the message says why."""


@dataclass(frozen=True)
class StepSetup:
    """A configuration's model on a device with its inputs: index batches to cycle through,
    dense features and labels; `sync` waits for the device (a no-op on the CPU)."""

    model: Dlrm
    batches: list[list[torch.Tensor]]
    dense: torch.Tensor
    labels: torch.Tensor
    sync: Callable[[], None]

    def step(self, batch: int = 0, lap: Callable[[str], None] | None = None) -> None:
        self.model.step(self.dense, self.batches[batch % len(self.batches)], self.labels, lap)


def device_sync(device: torch.device) -> Callable[[], None]:
    """What waits for `device`'s queued work: torch.cuda.synchronize, or nothing on a CPU."""
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def build_step(config: ValidationConfig, device: torch.device, seed: int = 0) -> StepSetup:
    """The model and inputs that `measure_step` times (also used by benchmarks/)."""
    model = Dlrm(DlrmShape.from_mapping(to_mapping(config.model)), device, seed)  # type: ignore[arg-type]
    gen = torch.Generator().manual_seed(seed)
    dense = torch.randn(config.batch_size, config.model.dense_features, generator=gen).to(device)
    labels = torch.randint(0, 2, (config.batch_size,), generator=gen).float().to(device)
    return StepSetup(model, _batches(config, seed, device), dense, labels, device_sync(device))


def footprint_bytes(config: ValidationConfig) -> float:
    """Tables with optimizer state, generated indices, and activations (fp32), roughly."""
    model, batch = config.model, config.batch_size
    tables = model.embedding_bytes + model.optimizer_state_bytes
    indices = DISTINCT_BATCHES * batch * model.mean_lookups_per_example * 8
    widest = max(*model.bottom_layer_widths, *model.top_layer_widths)
    activations = 8 * batch * widest * 4 * (len(model.bottom_mlp) + len(model.top_mlp) + 4)
    return tables + indices + activations


def _batches(config: ValidationConfig, seed: int, device: torch.device) -> list[list[torch.Tensor]]:
    batches = []
    generator = ModelGenerator(config.model, seed=seed)
    for trace_batch in generator.batches(DISTINCT_BATCHES, config.batch_size):
        bags = []
        lengths = trace_batch.lengths()  # [tables, batch]
        for t in range(trace_batch.num_tables):
            indices = np.asarray(trace_batch.table_indices(t), dtype=np.int64)
            if np.any(lengths[t] != lengths[t, 0]):
                raise SkipConfig(f"table {t} has bags of varying length; validation needs "
                                 "fixed pooling (distribution: fixed)")
            bags.append(torch.from_numpy(indices).view(config.batch_size, -1).to(device))
        batches.append(bags)
    return batches


def memory_shortfall(config: ValidationConfig) -> str | None:
    """Why `config` does not fit in this host's available memory, or None when it does."""
    need = footprint_bytes(config)
    available = available_memory_bytes()
    if need <= MEMORY_HEADROOM * available:
        return None
    return (f"needs about {need / 1e9:.1f} GB, more than {MEMORY_HEADROOM:.0%} of the "
            f"{available / 1e9:.1f} GB available; {SMALLER}")


def measure_step(config: ValidationConfig, *, device: str = "cpu", threads: int, seed: int = 0,
                 warmup: int = 3, min_steps: int = 10, min_time_s: float = 1.0) -> StepTiming:
    """Median step time of `config`; SkipConfig when it does not fit in memory here."""
    reason = memory_shortfall(config)
    if reason:
        raise SkipConfig(reason)
    torch.set_num_threads(threads)
    try:
        return _time_steps(config, torch.device(device), seed, warmup, min_steps, min_time_s)
    except torch.cuda.OutOfMemoryError as err:  # a GPU smaller than the footprint check assumes
        raise SkipConfig(f"out of {device} memory: {str(err).splitlines()[0]}") from err
    finally:
        if device == "cuda":
            torch.cuda.empty_cache()  # the next configuration starts with the memory free


def _time_steps(config: ValidationConfig, dev: torch.device, seed: int, warmup: int,
                min_steps: int, min_time_s: float) -> StepTiming:
    setup = build_step(config, dev, seed)
    for i in range(warmup):
        setup.step(i)
    clock = WallClock(setup.sync)
    samples: list[float] = []
    started = time.perf_counter()
    while len(samples) < min_steps or time.perf_counter() - started < min_time_s:
        samples.append(clock.time(lambda: setup.step(len(samples))))
        if len(samples) >= 200:  # enough for a stable median of even the fastest step
            break
    parts = time_parts(setup, PHASED_STEPS, first_batch=len(samples))
    return StepTiming(statistics.median(samples), tuple(samples), parts)


def time_parts(setup: StepSetup, steps: int, first_batch: int = 0) -> dict[str, float]:
    """Median seconds of each part of the step (calibrate.dlrm.PARTS) over `steps` steps, the
    device synchronized at every part's end."""
    per_part: dict[str, list[float]] = {}
    for n in range(steps):
        clock = PartClock(setup.sync)
        setup.step(first_batch + n, clock.lap)
        for part, seconds in clock.spent.items():
            per_part.setdefault(part, []).append(seconds)
    return {part: statistics.median(values) for part, values in per_part.items()}


class PartClock:
    """Seconds one step spends in each of its parts: `lap(part)` gives the part the time since
    the previous lap (or since the clock was made), once the device is done."""

    def __init__(self, sync: Callable[[], None]) -> None:
        self.sync = sync
        self.spent: dict[str, float] = {}
        sync()
        self.mark = time.perf_counter()

    def lap(self, part: str) -> None:
        self.sync()
        now = time.perf_counter()
        self.spent[part] = self.spent.get(part, 0.0) + now - self.mark
        self.mark = now

"""Data types shared by the measuring, planning and fitting stages.

Everything here is a frozen value or a protocol; stages return new values and never mutate
these in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

Params = Mapping[str, float]


class Kernel(Protocol):
    """One operation at one grid point, ready to run.

    `prepare(slots)` (not timed) makes `slots` fresh inputs: new random indices, the next buffers
    of a rotation. `run(slot)` (timed) performs one call on input `slot`. `close()` frees memory.
    A kernel may also define `observed_params() -> dict[str, float]`: quantities its inputs
    turned out to have (e.g. the mean distinct rows per call), recorded beside the point's params
    so that a cost model can depend on them.
    """

    def prepare(self, slots: int) -> None: ...

    def run(self, slot: int) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class TimingPolicy:
    """How one point is timed.

    warmup_samples: timed samples thrown away after the first call (count).
    repeats: samples kept (count). max_spread: relative IQR above which a point is measured again
    (dimensionless). retries: extra measurements of a noisy point (count) before it is flagged.
    min_sample_s: a sample repeats a fast call on fresh inputs until it lasts this long (seconds),
    so that clock resolution and call overhead do not dominate. max_inner: cap on those repeats.

    Defaults: max_spread 0.10 is torch.utils.benchmark's IQR/median warning threshold
    (`_IQR_WARN_THRESHOLD`); 2 warm-up and 7 kept samples are our choice, the fewest that give
    quartiles worth the name within the budgets; 2 ms per sample is about 1000x the cost of
    reading time.perf_counter from Python on Linux (about 1 us with call overhead).

    Raises ValueError for a non-positive count or a negative duration.
    """

    warmup_samples: int = 2
    repeats: int = 7
    max_spread: float = 0.10
    retries: int = 2
    min_sample_s: float = 0.002
    max_inner: int = 64

    def __post_init__(self) -> None:
        for name in ("repeats", "max_inner"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("warmup_samples", "retries"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_spread <= 0 or self.min_sample_s < 0:
            raise ValueError("max_spread must be > 0 and min_sample_s >= 0")


@dataclass(frozen=True)
class GridPoint:
    """One point to measure: the op's parameters, the design role it came from
    ("centre", "sweep", "lhs") and whether it is held out of the fit."""

    params: Mapping[str, float]
    role: str
    held_out: bool = False


@dataclass(frozen=True)
class Measurement:
    """The timing of one op at one point: raw samples (seconds per call), their median and
    relative spread, whether the spread stayed wide after retries, and how many attempts it took."""

    op: str
    backend: str
    params: Mapping[str, float]
    samples_s: tuple[float, ...]
    median_s: float
    spread: float
    flagged: bool
    held_out: bool
    attempts: int = 1
    inner: int = 1
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "op": self.op,
            "backend": self.backend,
            "params": dict(self.params),
            "samples_s": list(self.samples_s),
            "median_s": self.median_s,
            "spread": self.spread,
            "flagged": self.flagged,
            "held_out": self.held_out,
            "attempts": self.attempts,
            "calls_per_sample": self.inner,
        }
        record.update(self.extra)
        return record

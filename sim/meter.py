"""Counts finished iterations, opens the measurement window once every worker is warm, and closes
it when the first worker is done, snapshotting every channel at both ends; or, given a target
relative standard error, as soon as the throughput is that precise (a sequential stop)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import simpy

from sim.engine import Channel, FluidNetwork

BATCH_MEANS = 10  # groups for the batch-means standard error of the throughput
# A precision stop waits for this many window iterations per worker, so that each batch mean
# holds at least two rounds of every worker: fewer would let an early lucky spread stop the run.
MIN_ROUNDS = 2 * BATCH_MEANS
# Later checks wait for the window to grow by this factor: the cost of checking stays a small
# share of the run, and fewer looks at the data bias the stop less toward a lucky low spread.
CHECK_GROWTH = 1.05


@dataclass
class Window:
    """What happened between the end of warm-up and the first worker's last iteration."""

    start_s: float
    end_s: float
    examples: int
    durations_s: list[float]
    ends_s: list[float]
    group_examples: list[int]
    units: dict[str, float]
    busy_s: dict[str, float]
    # Mean seconds per measured iteration in each phase of a worker's iteration (see Laps)
    phases_s: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s


@dataclass(eq=False)
class Laps:
    """The phases of one iteration of a worker, back to back: `end(name)` closes the phase that
    began where the previous one ended (or where the iteration began), so the phases add up to
    the iteration. Returns the phase's start, for the timeline."""

    env: simpy.Environment
    seconds: dict[str, float] = field(default_factory=dict)
    _mark: float = field(init=False)

    def __post_init__(self) -> None:
        self._mark = self.env.now

    def end(self, name: str) -> float:
        start, self._mark = self._mark, self.env.now
        self.seconds[name] = self.seconds.get(name, 0.0) + self._mark - start
        return start


@dataclass(eq=False)
class Meter:
    """Watches `workers` workers run `iterations` each, the first `warmup` of them unmeasured.

    With `target_rse`, the window closes at the first round of worker iterations (at least
    `min_rounds` of them) whose throughput has a relative standard error below it, counting
    the batch means and `demand_rse`, the error of the replayed sample of batches
    (`combined_rse`); `iterations` is then a cap: a run cannot shrink the sample's share by
    going on. When that share alone is at or above the target, the window closes once the
    batch means alone are below it.
    Raises ValueError when warmup >= iterations, a count is < 1 or
    target_rse is not in (0, 1).
    """

    env: simpy.Environment
    net: FluidNetwork
    workers: int
    iterations: int
    warmup: int
    channels: Callable[[], list[Channel]]
    target_rse: float | None = None
    demand_rse: float = 0.0
    # A precision stop waits for this many rounds: more than MIN_ROUNDS where a periodic event
    # (a CPU trainer's EASGD sync) must fall in the window, or the run looks steady without it.
    min_rounds: int = MIN_ROUNDS
    done_event: simpy.Event = field(init=False)
    _counts: list[int] = field(init=False)
    _start: dict[str, tuple[float, float]] | None = field(default=None, init=False)
    _records: list[tuple[float, float, int]] = field(default_factory=list, init=False)
    _phases: dict[str, float] = field(default_factory=dict, init=False)
    _t0: float = field(default=0.0, init=False)
    _next_check: int = field(default=0, init=False)
    window: Window | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if (self.workers < 1 or self.iterations < 2 or self.min_rounds < 1
                or not 1 <= self.warmup < self.iterations):
            raise ValueError(f"Meter: need workers >= 1, min_rounds >= 1 and 1 <= warmup < "
                             f"iterations, got {self.workers}, {self.min_rounds}, "
                             f"{self.warmup}, {self.iterations}")
        if self.target_rse is not None and not 0 < self.target_rse < 1:
            raise ValueError(f"Meter: target_rse must be in (0, 1), got {self.target_rse!r}")
        self.done_event = self.env.event()
        self._counts = [0] * self.workers

    def done(self, worker: int, examples: int, started_s: float,
             phases: dict[str, float] | None = None) -> None:
        """Worker `worker` finished one iteration of `examples` examples begun at `started_s`,
        spending `phases` (seconds by phase, see Laps) in it."""
        now = self.env.now
        self._counts[worker] += 1
        if self._start is not None and self.window is None:
            self._records.append((now, now - started_s, examples))
            for name, seconds in (phases or {}).items():
                self._phases[name] = self._phases.get(name, 0.0) + seconds
        if self._start is None and min(self._counts) >= self.warmup:
            self._start = self._snapshot()
            self._t0 = now
        # Close once the window holds what the workers' remaining iterations would give if they
        # ran evenly: the moment the first of equal workers finishes, robust to unequal ones.
        wanted = (self.iterations - self.warmup) * self.workers
        if self._start is not None and self.window is None and (
                len(self._records) >= wanted or self._precise()):
            self._close(now)

    def _precise(self) -> bool:
        """Whether a precision stop may close the window now: checked once per round."""
        n = len(self._records)
        if (self.target_rse is None or n % self.workers
                or n < max(self.min_rounds * self.workers, self._next_check)):
            return False
        self._next_check = int(n * CHECK_GROWTH)
        ends = [r[0] for r in self._records]
        examples = [r[2] for r in self._records]
        run = batch_means_rse(self._t0, ends, examples)
        if self.demand_rse >= self.target_rse:
            # The replayed sample alone misses the target and going on does not shrink it: stop
            # once the run's own error is below the target, rather than at the cap. The result
            # states the combined error, above the target.
            return run < self.target_rse
        return combined_rse(run, self.demand_rse) < self.target_rse

    @property
    def finished(self) -> bool:
        return self.window is not None

    def _snapshot(self) -> dict[str, tuple[float, float]]:
        self.net.settle()
        return {c.name: (c.units, c.busy_s) for c in self.channels()}

    def _close(self, now: float) -> None:
        end = self._snapshot()
        start = self._start or {}
        units = {k: v[0] - start.get(k, (0.0, 0.0))[0] for k, v in end.items()}
        busy = {k: v[1] - start.get(k, (0.0, 0.0))[1] for k, v in end.items()}
        ends = [r[0] for r in self._records]
        count = max(1, len(self._records))
        self.window = Window(self._t0, now, sum(r[2] for r in self._records),
                             [r[1] for r in self._records], ends,
                             [r[2] for r in self._records], units, busy,
                             {name: total / count for name, total in self._phases.items()})
        self.done_event.succeed()


def throughput_rse(window: Window) -> float:
    """Relative standard error of the window's throughput by batch means over the iterations."""
    return batch_means_rse(window.start_s, window.ends_s, window.group_examples)


def combined_rse(run_rse: float, demand_rse: float) -> float:
    """The throughput's relative standard error from the run's batch means and the demand
    sample's error, added in quadrature as independent errors. When the window replays no
    batch twice its batch means already hold the sample's spread, and this overstates."""
    return math.hypot(run_rse, demand_rse)


def batch_means_rse(start_s: float, ends_s: list[float], examples: list[int]) -> float:
    """Batch means over iteration ends in time order, pooled across workers: the window cut
    into BATCH_MEANS runs of consecutive ends, each run's throughput its examples over its
    span. Pooling is sound for many workers because each run is a slice of time in which all
    of them progress; its means are nearly independent once a run spans several rounds."""
    n = len(ends_s)
    groups = min(BATCH_MEANS, n)
    if groups < 2:
        return float("inf")
    bounds = np.linspace(0, n, groups + 1).astype(int)
    means = []
    previous_end = start_s
    for a, b in itertools.pairwise(bounds):
        span = ends_s[b - 1] - previous_end
        means.append(sum(examples[a:b]) / span if span > 0 else 0.0)
        previous_end = ends_s[b - 1]
    values = np.asarray(means)
    mean = float(values.mean())
    if mean <= 0:
        return float("inf")
    return float(values.std(ddof=1) / np.sqrt(groups) / mean)

"""Clocks: how long one timed region takes. Swappable so that statistics and sweeps are tested
without real kernels.

A clock's `time(fn)` runs `fn` once and returns the seconds it took. The wall clock waits for the
device before reading the time (`sync`); the CUDA event clock records events around `fn` on the
current stream; the scripted and virtual clocks are deterministic fakes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol


class Clock(Protocol):
    """Something that times one call of a function, in seconds."""

    def time(self, fn: Callable[[], None]) -> float: ...


class WallClock:
    """`time.perf_counter` around `fn`, with `sync()` (e.g. `torch.cuda.synchronize`) called
    before the first and before the second reading so queued device work is counted."""

    def __init__(self, sync: Callable[[], None] | None = None) -> None:
        self._sync = sync or (lambda: None)

    def time(self, fn: Callable[[], None]) -> float:
        self._sync()
        start = time.perf_counter()
        fn()
        self._sync()
        return time.perf_counter() - start


class CudaEventClock:
    """CUDA events recorded on the current stream around `fn`; the device is synchronized first
    so earlier work is not counted. Raises RuntimeError (from torch) without CUDA."""

    def __init__(self) -> None:
        import torch

        self._torch = torch
        self._start = torch.cuda.Event(enable_timing=True)
        self._end = torch.cuda.Event(enable_timing=True)

    def time(self, fn: Callable[[], None]) -> float:
        self._torch.cuda.synchronize()
        self._start.record()
        fn()
        self._end.record()
        self._end.synchronize()
        return float(self._start.elapsed_time(self._end)) / 1e3  # elapsed_time is in ms


class ScriptedClock:
    """A fake that calls `fn` and returns the next of a fixed list of durations (seconds).

    Raises IndexError when the script runs out, so a test sees an unexpected extra call.
    """

    def __init__(self, durations_s: Iterable[float]) -> None:
        self._durations: Iterator[float] = iter(durations_s)
        self.calls = 0

    def time(self, fn: Callable[[], None]) -> float:
        fn()
        self.calls += 1
        try:
            return next(self._durations)
        except StopIteration:
            raise IndexError(f"scripted clock ran out after {self.calls - 1} calls") from None


class VirtualClock:
    """A fake whose time only moves when a fake kernel calls `advance(seconds)`."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        self.now_s += seconds

    def time(self, fn: Callable[[], None]) -> float:
        start = self.now_s
        fn()
        return self.now_s - start

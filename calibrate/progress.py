"""A minimal progress bar on stderr: carriage returns, no dependencies, silent when stderr is
not a terminal or when the user asked for quiet."""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 30  # characters
MIN_REDRAW_S = 0.1  # seconds between redraws, so a fast sweep does not flood the terminal


class ProgressBar:
    """Counts finished steps out of `total`; `advance(label)` redraws `[####   ] 12/40 label`.
    Raises ValueError if total < 0."""

    def __init__(self, total: int, enabled: bool = True, stream: TextIO | None = None) -> None:
        if total < 0:
            raise ValueError(f"total must be >= 0, got {total}")
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.enabled = enabled and bool(isatty())
        self.total = total
        self.done = 0
        self.start_s = time.monotonic()
        self._last_draw_s = 0.0

    def advance(self, label: str = "", steps: int = 1) -> None:
        self.done = min(self.total, self.done + steps)
        now = time.monotonic()
        if self.enabled and (now - self._last_draw_s >= MIN_REDRAW_S or self.done == self.total):
            self._last_draw_s = now
            self.stream.write("\r" + self.render(label, now - self.start_s))
            self.stream.flush()

    def render(self, label: str, elapsed_s: float) -> str:
        filled = BAR_WIDTH * self.done // self.total if self.total else BAR_WIDTH
        bar = "#" * filled + " " * (BAR_WIDTH - filled)
        return f"[{bar}] {self.done}/{self.total} {elapsed_s:5.0f}s {label[:40]:<40}"

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()

"""Progress bars for long work: shown on a terminal, silent in pipes, logs and tests."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], *, total: int | None, desc: str, enabled: bool = True) -> Iterator[T]:
    """Iterate `items`, with a tqdm bar on stderr when it is a terminal and `enabled` is true."""
    if not enabled or not sys.stderr.isatty():
        yield from items
        return
    yield from quiet_tqdm()(items, total=total, desc=desc, unit="batch", leave=False)


@functools.cache
def quiet_tqdm() -> type:
    """tqdm without its monitor thread. tqdm starts one with its first bar, even a disabled
    one, and it outlives the bar; while it runs, forking is unsafe, and the demand sample is
    drawn in this process alone (traces/summary_processes.py). The monitor only refreshes
    bars that stall, which ours do not."""
    from tqdm import tqdm  # only when a bar is made

    class QuietTqdm(tqdm):
        monitor_interval = 0

    return QuietTqdm

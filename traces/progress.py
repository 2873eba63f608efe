"""Progress bars for long work: shown on a terminal, silent in pipes, logs and tests."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], *, total: int | None, desc: str, enabled: bool = True) -> Iterator[T]:
    """Iterate `items`, with a tqdm bar on stderr when it is a terminal and `enabled` is true."""
    if not enabled or not sys.stderr.isatty():
        yield from items
        return
    from tqdm import tqdm  # only when a bar will actually be drawn

    yield from tqdm(items, total=total, desc=desc, unit="batch", leave=False)

"""Buffer rotation: successive calls touch different memory, so that a working set that would fit
in the last-level cache does not stay there between calls and flatter the timing."""

from __future__ import annotations

import math

CACHE_LINE_BYTES = 64  # x86-64 and recent NVIDIA L2 line/sector granularity (Intel SDM vol. 3, 11.1)


def rotation_copies(working_set_bytes: float, flush_bytes: float, max_copies: int = 16) -> int:
    """How many copies of a working set to cycle through so that, together, they exceed
    `flush_bytes` (bytes; about twice the last-level cache); at least 1, at most `max_copies`."""
    if working_set_bytes <= 0:
        return 1
    return max(1, min(max_copies, math.ceil(flush_bytes / working_set_bytes)))


def rotation_bytes(working_set_bytes: float, flush_bytes: float, max_copies: int = 16) -> float:
    """Bytes cycled through by `rotation_copies` copies of a working set (bytes)."""
    return working_set_bytes * rotation_copies(working_set_bytes, flush_bytes, max_copies)


class ArenaCursor:
    """Offsets (in elements) of successive `size`-element windows in an arena of `arena` elements,
    advancing one window per call and wrapping; windows start on cache-line boundaries.

    Raises ValueError if the window is larger than the arena or sizes are not positive.
    """

    def __init__(self, size: int, arena: int, element_bytes: int) -> None:
        if size < 1 or arena < size:
            raise ValueError(f"need 1 <= size <= arena, got size={size}, arena={arena}")
        self.size = size
        self._span = arena - size
        align = max(1, CACHE_LINE_BYTES // element_bytes)
        self._step = ((size + align - 1) // align) * align
        self._offset = 0

    def next(self) -> int:
        offset = self._offset
        self._offset += self._step
        if self._offset > self._span:
            self._offset = 0
        return offset

"""DistinctCounter counts the distinct rows of a batch exactly, by its stamp array for tables up
to STAMP_MAX_ROWS rows and by sorting above: both paths against numpy's unique."""

from __future__ import annotations

import numpy as np
import pytest

from traces.distinct import STAMP_MAX_ROWS, DistinctCounter, thread_counter


@pytest.mark.parametrize("bound", [1, 7, 1000, STAMP_MAX_ROWS, STAMP_MAX_ROWS + 1, 2**31 - 1])
@pytest.mark.parametrize("size", [0, 1, 50, 20_000])
def test_the_count_is_that_of_numpy_unique(bound: int, size: int) -> None:
    rng = np.random.default_rng(bound + size)
    # Skewed draws, so that batches hold many repeats, plus the bound's ends.
    values = np.minimum(rng.zipf(1.3, size) - 1, bound - 1).astype(np.int64)
    if size:
        values[0], values[-1] = 0, bound - 1
    counter = DistinctCounter()
    assert counter.count(values, bound) == np.unique(values).size
    # Again on the same counter, whose stamp array now holds the last batch's positions.
    again = rng.permutation(values)[: size // 2]
    assert counter.count(again, bound) == np.unique(again).size


def test_each_thread_has_its_own_counter() -> None:
    import threading

    mine = thread_counter()
    assert thread_counter() is mine
    theirs: list[DistinctCounter] = []
    worker = threading.Thread(target=lambda: theirs.append(thread_counter()))
    worker.start()
    worker.join()
    assert theirs[0] is not mine

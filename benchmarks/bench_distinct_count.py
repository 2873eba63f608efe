"""Benchmark: counting M3's distinct rows per batch with the stamp array up to a table size and
by sorting above it, for several sizes: the first batch of a fresh counter (which faults in the
stamp array's pages, once per process) and the steady cost per batch after.

M3's 127 tables (presets/models/m3_prod.yaml), batches of 800 examples drawn by the model's
generator, seed 0. The counts are exact either way; only the time differs. Run:
python benchmarks/bench_distinct_count.py [--batches N] [--repeats R].
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from sim.presets import load_model
from traces.distinct import DistinctCounter
from traces.generator import ModelGenerator

LIMITS = (1 << 21, 1 << 22, 1 << 23, 1 << 24, 1 << 26)  # rows up to which the stamp is used
BATCH = 800  # m3_gpu's batch (presets/jobs/m3_gpu.yaml)

Batch = list[tuple[int, np.ndarray]]  # (rows, drawn ranks) per table


def sorted_count(values: np.ndarray) -> int:
    ordered = np.sort(values)
    return 1 + int(np.count_nonzero(ordered[1:] != ordered[:-1])) if values.size else 0


def counter_for(limit: int) -> Callable[[int, np.ndarray], int]:
    stamp = DistinctCounter()
    return lambda rows, values: stamp.count(values, rows) if rows <= limit else sorted_count(values)


def seconds(count: Callable[[int, np.ndarray], int], batches: list[Batch]) -> float:
    start = time.perf_counter()
    for batch in batches:
        for rows, values in batch:
            count(rows, values)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=4, help="batches of M3 to count")
    parser.add_argument("--repeats", type=int, default=5, help="steady runs; the least counts")
    args = parser.parse_args()
    generator = ModelGenerator(load_model("m3_prod"), seed=0)
    batches = [[(s.table.rows, s.next_batch(BATCH)[1]) for s in generator.streams]
               for _ in range(args.batches)]
    print(f"M3, {args.batches} batches of {BATCH}; stamp array up to LIMIT rows, sort above:")
    print(f"{'limit (rows)':>14s} {'first batch ms':>15s} {'steady ms/batch':>16s}")
    for limit in LIMITS:
        count = counter_for(limit)
        first = seconds(count, batches[:1])
        steady = min(seconds(count, batches) for _ in range(args.repeats)) / args.batches
        print(f"{limit:14,d} {first * 1e3:15.1f} {steady * 1e3:16.1f}")


if __name__ == "__main__":
    main()

"""Benchmark: drawing the production models' batch summaries (lookups and distinct rows per
table) with the Zipf split of traces/zipf_split.py at several thresholds, against counting the
plain sampler's draws (what summaries did before the split, and written traces still do).

For each model at its job's batch size (M1 1600, M2 200, M3 800; presets/jobs/), one process,
seed 0: the set-up and first batch of a fresh generator, then the steady cost per batch (the
least of --repeats runs of --batches batches). The threshold is MIN_EXPECTED_DRAWS: a rank is
counted when a batch expects at least that many draws of it. Run:
python benchmarks/bench_zipf_split.py [--batches N] [--repeats R] [--models m3_prod,...].
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

from sim.presets import load_model
from sim.specs import ModelSpec
from traces import zipf, zipf_split
from traces.distinct import DistinctCounter
from traces.generator import ModelGenerator, TableStream

BATCHES = {"m1_prod": 1600, "m2_prod": 200, "m3_prod": 800}  # the GPU jobs' and m2_cpu's
THRESHOLDS = (math.inf, 0.5, 1.0, 2.0, 4.0, 8.0)  # inf: no rank counted, the plain draws

Count = Callable[[TableStream, int, DistinctCounter], tuple[int, int]]


def plain(stream: TableStream, batch_size: int, counter: DistinctCounter) -> tuple[int, int]:
    _, ranks = stream.next_batch(batch_size)
    return ranks.size, counter.count(ranks, stream.table.rows)


def split(stream: TableStream, batch_size: int, counter: DistinctCounter) -> tuple[int, int]:
    return stream.next_counts(batch_size, counter)


def seconds(streams: list[TableStream], batches: int, batch_size: int, count: Count,
            counter: DistinctCounter) -> float:
    start = time.perf_counter()
    for _ in range(batches):
        for stream in streams:
            count(stream, batch_size, counter)
    return time.perf_counter() - start


def timed(model: ModelSpec, batch_size: int, count: Count, args: argparse.Namespace
          ) -> tuple[float, float]:
    """(set-up and first batch, steady seconds per batch) of a fresh generator, its caches
    emptied first (the plain sampler's guides, the split's head probabilities)."""
    for cache in (zipf._guide, zipf._shared_head, zipf_split._head_probabilities):
        cache.cache_clear()
    start = time.perf_counter()
    streams = ModelGenerator(model, seed=0).streams
    counter = DistinctCounter()  # its first batch faults in its stamp array's pages
    first = seconds(streams, 1, batch_size, count, counter) + (time.perf_counter() - start)
    steady = min(seconds(streams, args.batches, batch_size, count, counter)
                 for _ in range(args.repeats))
    return first, steady / args.batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=4, help="batches per steady run")
    parser.add_argument("--repeats", type=int, default=3, help="steady runs; the least counts")
    parser.add_argument("--models", default=",".join(BATCHES), help="comma-separated models")
    args = parser.parse_args()
    print("set-up + first batch / steady per batch, ms (one process, seed 0):")
    for name in args.models.split(","):
        model, batch_size = load_model(name), BATCHES[name]
        print(f"{name}, batch {batch_size}:")
        for threshold in THRESHOLDS:
            zipf_split.MIN_EXPECTED_DRAWS = threshold
            count = plain if math.isinf(threshold) else split
            first, steady = timed(model, batch_size, count, args)
            label = "plain draws" if math.isinf(threshold) else f"split at {threshold:g} draws"
            print(f"  {label:>20s} {first * 1e3:9.1f} {steady * 1e3:9.1f}")


if __name__ == "__main__":
    main()

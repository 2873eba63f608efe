"""Benchmark: lookups generated per second, end to end including the write, and peak memory.

Workload (issue 3): 30 tables of 10M rows, Zipf s = 1.05, 28 lookups per bag (M1's mean, Acun et
al. Table II), batch 4096, 30 batches: 103M lookups. Run: python benchmarks/bench_trace_generate.py
[--batches N] [--out FILE]. Prints lookups/s and the peak resident memory (getrusage).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

from sim.specs import ModelSpec, PoolingSpec, PopularitySpec, TableSpec
from traces.generator import generate_trace

TABLES, ROWS, ZIPF_S, POOLING, BATCH = 30, 10_000_000, 1.05, 28.0, 4096


def workload() -> ModelSpec:
    tables = tuple(TableSpec(f"t{i}", ROWS, 64, PoolingSpec(POOLING), PopularitySpec("zipf", ZIPF_S))
                   for i in range(TABLES))
    return ModelSpec("bench_30x10M", 13, tables, (512,), (512,))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--out", help="trace file (default: a temporary file, removed after)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench_trace_")
    out = args.out or os.path.join(folder, "bench.trace")
    start = time.perf_counter()
    lookups = generate_trace(workload(), out, batches=args.batches, batch_size=BATCH, seed=1,
                             show_progress=False)
    seconds = time.perf_counter() - start
    size = os.path.getsize(out)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    if not args.out:
        os.unlink(out)
        os.rmdir(folder)
    print(f"lookups: {lookups:,} in {seconds:.2f} s -> {lookups / seconds / 1e6:.1f} M lookups/s "
          f"(file {size / 2**20:.0f} MiB)")
    print(f"peak memory (max RSS): {peak_mib:.0f} MiB; one batch of indices is "
          f"{TABLES * BATCH * POOLING * 4 / 2**20:.0f} MiB, the trace {size / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()

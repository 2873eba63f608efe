"""Speed of the simulator: simulated iterations per second, wall time to a steady-state
throughput estimate (batch-means relative standard error under 1%), and how the cost of one
iteration grows with tables (8 to 1024) and servers (1 to 64). Run: python benchmarks/bench_simulate.py
"""

from __future__ import annotations

import dataclasses
import time

from sim.demand import demand_for
from sim.presets import load_job, load_model
from sim.run import resolve, simulate

TARGET_RSE = 0.01


def steady_state(job: str) -> tuple[int, float, float, float]:
    """(iterations, wall seconds, throughput, rse) of the first run whose RSE < 1%, doubling
    the iterations from 20; the lookup demand is generated once beforehand (cached)."""
    model, _, _, spec = resolve(job, None, None, None, None, {})
    demand_for(model, spec.batch_size, seed=0)  # warm the cache: the trace is not the sim
    iterations, wall = 20, 0.0
    while True:
        start = time.perf_counter()
        result = simulate(job, iterations=iterations)
        wall += time.perf_counter() - start
        if result.throughput_rse < TARGET_RSE or iterations >= 640:
            return iterations, wall, result.throughput_examples_per_s, result.throughput_rse
        iterations *= 2


def per_iteration_s(job: str, **kw: object) -> float:
    """Wall seconds per simulated iteration (per worker iteration for CPU jobs)."""
    simulate(job, iterations=4, **kw)  # type: ignore[arg-type]
    start = time.perf_counter()
    simulate(job, iterations=24, **kw)  # type: ignore[arg-type]
    return (time.perf_counter() - start) / 24


def tables_model(count: int):  # type: ignore[no-untyped-def]
    base = load_model("test_suite")
    each = tuple(dataclasses.replace(base.tables[0], name=f"t{i}") for i in range(count))
    return dataclasses.replace(base, tables=each)


def main() -> None:
    print("steady state (RSE < 1%):")
    for job in ("m1_gpu", "m2_cpu", "m3_gpu"):
        iters, wall, tput, rse = steady_state(job)
        print(f"  {job:8s} {iters:4d} iterations/worker  {wall:6.2f} s wall  "
              f"{iters / wall:8.1f} iterations/s  {tput:12,.0f} examples/s  rse {rse:.2%}")
    print("cost per iteration against tables (test_suite, Big Basin / CPU setup):")
    for count in (8, 32, 128, 512, 1024):
        model = tables_model(count)
        g = per_iteration_s("test_suite_gpu", model=model)
        c = per_iteration_s("test_suite_cpu", model=model, sparse_ps=4)
        print(f"  {count:5d} tables  gpu {g * 1e3:7.2f} ms  cpu {c * 1e3:7.2f} ms")
    print("cost per iteration against servers (m2_cpu scaled: trainers = servers, sparse PS = "
          "max(1, servers / 2), 1 dense PS):")
    base = load_job("m2_cpu")
    for servers in (1, 4, 16, 64):
        kw = {"trainers": servers, "sparse_ps": max(1, servers // 2), "dense_ps": 1}
        wall = per_iteration_s(base.name, **kw)
        print(f"  {servers:3d} trainers  {wall * 1e3:8.2f} ms per iteration of every worker "
              f"({wall / servers * 1e3:6.3f} ms per trainer)")


if __name__ == "__main__":
    main()

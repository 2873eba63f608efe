"""Speed of the simulator (issue 5, item 9): simulated iterations per second and the wall time to
a steady-state throughput estimate (batch-means relative standard error under 1%) for m1_gpu,
m2_cpu and m3_gpu, and how the cost of one iteration grows with tables (8 to 1024) and servers
(1 to 64). Wall times are the best and the median of --repeat runs: the machine is shared. The
curves are priced in CPU time of this process (best of --repeat), which other users' load
disturbs far less than wall time; the simulator is single-threaded, so alone they agree.

Run: python benchmarks/bench_simulate.py [--repeat 3] [--doubling] [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import TypeVar

from sim.demand import demand_for
from sim.engine import FluidNetwork
from sim.presets import load_model
from sim.results import SimResult
from sim.run import build, execute, resolve, simulate
from sim.specs import ModelSpec

R = TypeVar("R")
TARGET_RSE = 0.01
CAP_ITERATIONS = 640  # per worker; no preset needs as many
JOBS = ("m1_gpu", "m2_cpu", "m3_gpu")
TABLES = (8, 32, 128, 512, 1024)
SERVERS = (1, 4, 16, 64)
SHORT, LONG = 8, 72  # iterations of the two runs whose difference prices one iteration


def timed(run: Callable[[], R], repeat: int, clock: Callable[[], float] = time.perf_counter
          ) -> tuple[float, float, R]:
    """(best, median) seconds of `repeat` calls on `clock`, and the last result (all equal)."""
    walls, result = [], None
    for _ in range(repeat):
        start = clock()
        result = run()
        walls.append(clock() - start)
    assert result is not None
    return min(walls), statistics.median(walls), result


def warm(job: str) -> None:
    """Generate the job's lookup demand once (it is cached): the trace is not the simulator."""
    model, _, _, spec = resolve(job, None, None, None, None, {})
    demand_for(model, spec.batch_size, seed=0)


def sequential(job: str) -> SimResult:
    """One run that stops at the first round of iterations precise to TARGET_RSE."""
    return simulate(job, iterations=CAP_ITERATIONS, target_rse=TARGET_RSE)


def doubling(job: str) -> SimResult:
    """The former procedure: runs of 20, 40, 80, ... iterations until one is precise; the
    wall time counts them all. Kept to compare with the sequential stop."""
    iterations = 20
    while True:
        result = simulate(job, iterations=iterations)
        if result.throughput_rse < TARGET_RSE or iterations >= CAP_ITERATIONS:
            return result
        iterations *= 2


def steady_state(repeat: int, method: Callable[[str], SimResult]) -> None:
    print(f"steady state (throughput RSE < {TARGET_RSE:.0%}), wall best / median of {repeat}:")
    for job in JOBS:
        warm(job)
        best, typical, result = timed(lambda job=job: method(job), repeat)  # type: ignore[misc]
        workers = result.servers["trainer"] if "cpu" in job else 1
        per_worker = result.measured_iterations / workers
        print(f"  {job:8s} {best:6.2f} / {typical:6.2f} s  {per_worker:5.0f} iterations per "
              f"worker measured  {result.measured_iterations / best:8.0f} simulated "
              f"iterations/s  {result.throughput_examples_per_s:12,.0f} examples/s  "
              f"rse {result.throughput_rse:.2%}  {'ok' if best < 2.0 else 'over 2 s'}")


def fresh_process(repeat: int) -> None:
    """What a user waits for: `dlrmsim simulate --target-rse` in a new process, imports
    included: a first run, which draws the job's lookups (the steady-state figures above leave
    them out), and a later one, which reads them from the demand cache (sim/demand_cache.py)."""
    print(f"from a fresh process (dlrmsim simulate --target-rse {TARGET_RSE}: imports, lookups "
          f"and run), wall best / median of {repeat}:")
    with tempfile.TemporaryDirectory() as folder:
        first = {**os.environ, "DLRMSIM_NO_CACHE": "1"}
        later = {**os.environ, "DLRMSIM_CACHE_DIR": folder}
        later.pop("DLRMSIM_NO_CACHE", None)
        for job in JOBS:
            command = [sys.executable, "-m", "dlrmsim", "simulate", "--job", job,
                       "--target-rse", str(TARGET_RSE), "--iterations", str(CAP_ITERATIONS),
                       "--json"]
            subprocess.run(command, check=True, capture_output=True, env=later)  # fills it
            line = f"  {job:8s}"
            for label, env in (("first run", first), ("lookups cached", later)):
                best, typical, _ = timed(lambda c=command, e=env: subprocess.run(  # type: ignore[misc]
                    c, check=True, capture_output=True, env=e), repeat)
                line += (f"  {label} {best:5.2f} / {typical:5.2f} s "
                         f"{'ok' if best < 2.0 else 'over 2 s':8s}")
            print(line.rstrip())


def costs_s(job: str, repeat: int, **kw: object) -> tuple[float, float]:
    """(set-up, one more iteration) in CPU seconds: from a SHORT and a LONG run (best of
    `repeat`), so that set-up (presets, placement, per-batch plans) is priced apart."""
    simulate(job, iterations=SHORT, **kw)  # type: ignore[arg-type]
    cpu = time.process_time
    short = timed(lambda: simulate(job, iterations=SHORT, **kw), repeat, cpu)[0]  # type: ignore[arg-type]
    long = timed(lambda: simulate(job, iterations=LONG, **kw), repeat, cpu)[0]  # type: ignore[arg-type]
    each = max(long - short, 1e-9) / (LONG - SHORT)
    return max(short - SHORT * each, 0.0), each


def tables_model(count: int) -> ModelSpec:
    base = load_model("test_suite")
    each = tuple(dataclasses.replace(base.tables[0], name=f"t{i}") for i in range(count))
    return dataclasses.replace(base, tables=each)


def slope(xs: tuple[int, ...], ys: list[float]) -> float:
    """Log-log growth exponent from the first to the last point: 1 is linear."""
    return math.log(ys[-1] / ys[0]) / math.log(xs[-1] / xs[0])


def tables_curve(repeat: int, tables: tuple[int, ...]) -> None:
    print("cost against tables (test_suite: Big Basin; CPU setup with 4 sparse PS), "
          "set-up + per iteration:")
    gpu, cpu = [], []
    for count in tables:
        model = tables_model(count)
        g = costs_s("test_suite_gpu", repeat, model=model)
        c = costs_s("test_suite_cpu", repeat, model=model, sparse_ps=4)
        gpu.append(sum(g))
        cpu.append(sum(c))
        print(f"  {count:5d} tables  gpu {g[0] * 1e3:7.1f} + {g[1] * 1e3:6.2f} ms/iteration  "
              f"cpu {c[0] * 1e3:7.1f} + {c[1] * 1e3:6.2f} ms/iteration")
    print(f"  growth exponent of set-up + one iteration, {tables[0]}..{tables[-1]}: "
          f"gpu {slope(tables, gpu):.2f}  cpu {slope(tables, cpu):.2f}  (1 = linear)")


def engine_work(job: str, iterations: int, **kw: int) -> FluidNetwork:
    """The engine of one run, for its counters (flows, channel visits, scans)."""
    model, trainer, ps, spec = resolve(job, None, None, None, None, kw)  # type: ignore[arg-type]
    run = build(spec, model, trainer, ps, profile=None, trace=None, seed=0,
                iterations=iterations, warmup=max(1, iterations // 5))
    execute(run)
    return run.net


def per_iteration(job: str, **kw: int) -> tuple[float, float]:
    """(channel visits, flows scanned) per iteration of every worker, LONG minus SHORT."""
    short, long = engine_work(job, SHORT, **kw), engine_work(job, LONG, **kw)
    return ((long.demands_started - short.demands_started) / (LONG - SHORT),
            (long.flows_scanned - short.flows_scanned) / (LONG - SHORT))


def servers_curve(repeat: int, servers: tuple[int, ...], label: str,
                  counts: Callable[[int], dict[str, int]]) -> None:
    """CPU time per iteration against servers. A flow costs the engine in proportion to the
    channels it crosses (its visits), so the visits per trainer iteration are printed too: a
    trainer's fan-out to every sparse PS crosses more channels as the PS grow in number."""
    print(f"cost per iteration against servers ({label}):")
    walls, visits = [], []
    for count in servers:
        kw = counts(count)
        walls.append(costs_s("m2_cpu", repeat, **kw)[1])
        visited, scanned = per_iteration("m2_cpu", **kw)
        visits.append(visited)
        trainers = kw["trainers"]
        print(f"  {count:3d}  {walls[-1] * 1e3:8.2f} ms per iteration of every worker "
              f"({walls[-1] / trainers * 1e3:6.3f} ms per trainer iteration; "
              f"{visited / trainers:5.0f} channel visits, {scanned / trainers:5.1f} flows "
              f"scanned, {walls[-1] / visited * 1e6:5.2f} us per visit)")
    per_visit = [w / v for w, v in zip(walls, visits, strict=True)]
    print(f"  growth exponent {servers[0]}..{servers[-1]}: {slope(servers, walls):.2f} "
          f"(1 = linear); of the time per channel visit: {slope(servers, per_visit):+.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best, median)")
    parser.add_argument("--doubling", action="store_true",
                        help="time the former doubling procedure instead of the sequential stop")
    parser.add_argument("--quick", action="store_true", help="fewer points on the curves")
    args = parser.parse_args()
    steady_state(args.repeat, doubling if args.doubling else sequential)
    fresh_process(args.repeat)
    tables_curve(args.repeat, TABLES[::2] if args.quick else TABLES)
    servers = SERVERS[::3] if args.quick else SERVERS
    servers_curve(args.repeat, servers, "m2_cpu with trainers = n, sparse PS = max(1, n / 2), "
                  "1 dense PS", lambda n: {"trainers": n, "sparse_ps": max(1, n // 2),
                                            "dense_ps": 1})
    servers_curve(args.repeat, servers, "m2_cpu with trainers = n, its 12 sparse and 4 dense PS",
                  lambda n: {"trainers": n})


if __name__ == "__main__":
    main()

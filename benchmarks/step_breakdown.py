"""Where a real DLRM training step spends its time, phase by phase, on this host.

A diagnostic for the validation: it times `calibrate.dlrm.Dlrm.step` whole, then the same step
cut into its parts (`calibrate.dlrm.PARTS`) with a device synchronization between them, then
each table's two kernels alone (as calibration times them), and prints torch.profiler's busiest
ops. Compare the parts with what the simulator charges (`dlrmsim simulate ... --chrome-trace`,
or `dlrmsim validate`'s table by phase) to see which part of the step a prediction misses;
nothing here feeds back into a profile or a prediction.

    python benchmarks/step_breakdown.py --device cuda --config centre --config tables_128
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

import torch

from calibrate.clock import WallClock
from dlrmsim.validate.configs import default_grid
from dlrmsim.validate.measure import PartClock, StepSetup, build_step

WARMUP_STEPS = 5  # count; the first steps pay for the allocator and library handles


def _phased_step(setup: StepSetup) -> dict[str, float]:
    """`Dlrm.step` on the first batch, timed part by part (calibrate.dlrm.PARTS, seconds)."""
    clock = PartClock(setup.sync)
    setup.step(0, clock.lap)
    return clock.spent


def _median_time(fn: Callable[[], object], sync: Callable[[], None], repeats: int) -> float:
    clock = WallClock(sync)

    def call() -> None:
        fn()

    return statistics.median(clock.time(call) for _ in range(repeats))


def breakdown(name: str, device: torch.device, steps: int) -> None:
    config = {c.name: c for c in default_grid()}[name]
    setup = build_step(config, device)
    for _ in range(WARMUP_STEPS):
        setup.step()
    whole = _median_time(setup.step, setup.sync, steps)
    phases = [_phased_step(setup) for _ in range(steps)]
    tables = len(setup.model.tables)
    print(f"\n== {name}: {tables} tables, batch {config.batch_size}, {device} ==")
    print(f"whole step (median of {steps}): {whole * 1e3:8.3f} ms")
    total = 0.0
    for phase in phases[0]:
        value = statistics.median(p[phase] for p in phases)
        total += value
        print(f"  {phase:40} {value * 1e3:8.3f} ms")
    print(f"  {'sum of parts':40} {total * 1e3:8.3f} ms")

    table, idx, sync = setup.model.tables[0], setup.batches[0][0], setup.sync
    pooled = table.forward(idx)
    grad = torch.randn_like(pooled)
    fwd = _median_time(lambda: table.forward(idx), sync, steps)
    upd = _median_time(lambda: table.backward_update(idx, grad), sync, steps)
    print(f"one table alone: forward {fwd * 1e6:7.1f} us, backward+update {upd * 1e6:7.1f} us;"
          f" x {tables} tables = {(fwd + upd) * tables * 1e3:.3f} ms")

    activities = [torch.profiler.ProfilerActivity.CPU]
    with torch.profiler.profile(activities=activities) as prof:
        for _ in range(3):
            setup.step()
    print("torch.profiler, 3 steps, by self CPU time:")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=18,
                                    max_name_column_width=38))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--config", action="append", default=None,
                        help="a default-grid configuration name (repeatable; default centre)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    for name in args.config or ["centre"]:
        breakdown(name, torch.device(args.device), args.steps)


if __name__ == "__main__":
    main()

"""Does calibration's way of timing a kernel read the same as a wall clock, at the same moment?

Alternates, in one process: the rowwise-Adagrad embedding update of the validation grid's centre
table timed as calibration times it (`time_kernel` with the CUDA event clock on a GPU), the same
kernel timed with a synchronized wall clock, and the centre configuration's whole training step.
If the two kernel readings agree while the step drifts, the host's speed moved; if the event
clock reads low throughout, calibration under-reads launch-bound kernels. Prints a row per round.

    python benchmarks/timing_method_check.py --device cuda --rounds 8
"""

from __future__ import annotations

import argparse
import statistics

import torch

from calibrate.clock import CudaEventClock, WallClock
from calibrate.kernels.embedding import EmbeddingKernel
from calibrate.measure import time_kernel
from calibrate.settings import mode_settings
from dlrmsim.validate.configs import default_grid
from dlrmsim.validate.measure import build_step

FLUSH_BYTES = 1e8  # bytes rotated through between calls: above the H100's 50 MB L2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    device = torch.device(args.device)
    config = {c.name: c for c in default_grid()}["centre"]
    table = config.model.tables[0]
    params = {"rows": float(table.rows), "dim": float(table.dim),
              "pooling": float(table.pooling.mean_lookups), "batch": float(config.batch_size),
              "zipf_s": float(table.popularity.zipf_s)}
    policy = mode_settings(device.type, quick=False).policy
    kernel = EmbeddingKernel(params, "rowwise_adagrad", device, 0, FLUSH_BYTES)
    setup = build_step(config, device)
    event_clock = CudaEventClock() if device.type == "cuda" else WallClock()
    wall_clock = WallClock(setup.sync)
    for _ in range(5):
        setup.step()
    print(f"centre table {params}, {len(config.model.tables)} tables; times in microseconds")
    print("round  update(event clock)  update(wall clock)  step(ms)  step/16 tables")
    for round_ in range(args.rounds):
        event = time_kernel(kernel, event_clock, policy)[1].median_s
        wall = time_kernel(kernel, wall_clock, policy)[1].median_s
        step = statistics.median(wall_clock.time(setup.step) for _ in range(20))
        print(f"{round_:5d}  {event * 1e6:19.1f}  {wall * 1e6:18.1f}  {step * 1e3:8.3f}  "
              f"{step / len(config.model.tables) * 1e6:14.1f}")


if __name__ == "__main__":
    main()

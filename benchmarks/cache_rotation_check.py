"""How much does an embedding kernel's time depend on how much memory rotates between calls?

Calibration times each embedding call on a different copy of the table, cycling through copies
that together exceed `cache_flush_bytes` (twice the last-level cache, capped: 256 MiB here), so
that caches do not hold the point's working set. A training step instead cycles through all of
its tables. This prints the forward and the row-wise Adagrad update of validation-grid tables
timed as calibration times them (one thread, the full CPU policy, median of 3) for several
rotation sizes, from none to several times the last-level cache.

    python benchmarks/cache_rotation_check.py [--device cpu]
"""

from __future__ import annotations

import argparse

import torch

from calibrate.clock import CudaEventClock, WallClock
from calibrate.kernels.embedding import EmbeddingKernel
from calibrate.measure import time_kernel
from calibrate.settings import mode_settings

MIB = 2**20
ROTATIONS_BYTES = (1.0, 256 * MIB, 1024 * MIB, 3072 * MIB)  # 1 byte: a single table copy
TABLES = (  # the centre of the validation grid, its 900k-row and its 128-wide variants
    {"rows": 120000.0, "dim": 48.0, "pooling": 12.0, "batch": 384.0, "zipf_s": 1.05},
    {"rows": 900000.0, "dim": 48.0, "pooling": 12.0, "batch": 384.0, "zipf_s": 1.05},
    {"rows": 120000.0, "dim": 128.0, "pooling": 12.0, "batch": 384.0, "zipf_s": 1.05},
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(1)
    policy = mode_settings(device.type, quick=False).policy
    clock = CudaEventClock() if device.type == "cuda" else WallClock()
    print("table (rows x dim), op: median us per call at each rotation size")
    for params in TABLES:
        for direction in ("forward", "rowwise_adagrad"):
            cells = []
            for rotation in ROTATIONS_BYTES:
                kernel = EmbeddingKernel(dict(params), direction, device, 0, rotation)
                medians = sorted(time_kernel(kernel, clock, policy)[1].median_s
                                 for _ in range(3))
                cells.append(f"{rotation / MIB:6.0f} MiB {medians[1] * 1e6:8.1f}")
                del kernel
            print(f"{int(params['rows']):7d} x {int(params['dim']):3d} {direction:16}"
                  + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()

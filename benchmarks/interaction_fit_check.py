"""Does the profile's interaction fit match the kernel timed alone at the validation grid's shapes?

For the validation grid's centre (batch 384, dimension 48) and its table counts, times the dot
interaction's forward and backward exactly as calibration does (calibrate.kernels.interaction,
the host's flush-size rotation) and prints the median beside what the profile's fitted cost
model says for the same shape. Nothing here feeds a profile or sim/: it tells whether a fit is
off where the end-to-end steps are validated, without looking at those steps.

    python benchmarks/interaction_fit_check.py --profile profiles/cpu-vm-amd-epyc-full.json
"""

from __future__ import annotations

import argparse
import statistics

import torch

from calibrate.clock import WallClock
from calibrate.host import flush_bytes
from calibrate.kernels.interaction import InteractionKernel
from dlrmsim.validate.configs import AXES, CENTRE
from sim.profile import load_profile

SLOTS = 5  # calls per timed round (count)
ROUNDS = 20  # timed rounds per figure (count)


def measured_s(params: dict[str, float], direction: str) -> float:
    """Median seconds per call over ROUNDS rounds of SLOTS calls, after one warm-up round."""
    kernel = InteractionKernel(params, direction, torch.device("cpu"), 0, flush_bytes())
    clock = WallClock(lambda: None)
    rounds = []
    try:
        for r in range(ROUNDS + 1):
            kernel.prepare(SLOTS)

            def calls() -> None:
                for slot in range(SLOTS):
                    kernel.run(slot)

            seconds = clock.time(calls) / SLOTS
            if r:  # the first round warms up
                rounds.append(seconds)
    finally:
        kernel.close()
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", required=True)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    profile = load_profile(args.profile)
    tables = sorted({CENTRE["tables"], *AXES["tables"]})
    print(f"profile {args.profile}; batch {CENTRE['batch']}, dim {CENTRE['dim']}, "
          f"{args.threads} thread(s); ms per call")
    for direction in ("forward", "backward"):
        for count in tables:
            params = {"batch": CENTRE["batch"], "features": count + 1, "dim": CENTRE["dim"]}
            alone = measured_s(params, direction)
            fitted = profile.seconds(f"interaction_{direction}", **params)
            print(f"interaction_{direction:8s} tables {count:3d}: timed alone {alone * 1e3:8.3f}"
                  f"  profile {fitted * 1e3:8.3f}  ({(fitted - alone) / alone:+.0%})")


if __name__ == "__main__":
    main()

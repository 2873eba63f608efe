"""Benchmark: the Zipf sampler's cost per draw with its head guide and without (the exact path
alone, which draws the same ranks), and the share of draws the guide settles.

Tables of M3's sizes (Acun et al. Table II as drawn in presets/models/m3_prod.yaml) at the presets'
s = 1.05. Each figure is the least CPU time of --repeats runs, guided and exact interleaved, so that
the development VM's swings in speed touch both alike. Run: python benchmarks/bench_zipf_sampler.py
[--draws N] [--repeats R].
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from traces.zipf import ZipfSampler

ROWS = (129, 611, 20_086, 200_860, 4_286_752, 12_525_234)  # rows of some of M3's tables
ZIPF_S = 1.05  # the presets' exponent (presets/models/*.yaml)


def seconds_per_draw(sampler: ZipfSampler, draws: int, fast: bool) -> float:
    rng = np.random.default_rng(0)
    start = time.process_time()
    sampler.sample(rng, draws, fast=fast)
    return (time.process_time() - start) / draws


def guided_share(sampler: ZipfSampler, draws: int) -> float:
    guide = sampler._guide
    if guide is None:
        return 0.0
    u = np.random.default_rng(1).uniform(sampler._lo, sampler._hi, draws)
    return float(np.mean(guide.ranks[guide.cell(u)] >= 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=int, default=500_000, help="draws per run")
    parser.add_argument("--repeats", type=int, default=15, help="runs of each; the least counts")
    args = parser.parse_args()
    print(f"Zipf s = {ZIPF_S}, {args.draws:,} draws a run, least CPU time of {args.repeats} runs:")
    print(f"{'rows':>12s} {'exact ns/draw':>14s} {'guided ns/draw':>15s} {'speed-up':>9s} "
          f"{'guided share':>13s}")
    for rows in ROWS:
        sampler = ZipfSampler(rows, ZIPF_S)
        exact, guided = [], []
        for _ in range(args.repeats):
            exact.append(seconds_per_draw(sampler, args.draws, fast=False))
            guided.append(seconds_per_draw(sampler, args.draws, fast=True))
        best_exact, best_guided = min(exact) * 1e9, min(guided) * 1e9
        print(f"{rows:12,d} {best_exact:14.1f} {best_guided:15.1f} "
              f"{best_exact / best_guided:8.2f}x {guided_share(sampler, args.draws):12.1%}")


if __name__ == "__main__":
    main()

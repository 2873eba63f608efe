"""Does timing MLP layers one at a time, as calibration does, add up to the MLP in training?

For the validation grid's centre configuration's bottom and top MLPs, prints in microseconds:
- each layer's forward under `torch.no_grad()` (calibration's `mlp_forward`) and with autograd
  recording the graph (what a training step does), summed over the layers;
- each layer's backward as its own `.backward()` call (calibration's `mlp_backward`), summed,
  against one `.backward()` through the whole MLP (one autograd-engine run, as in a step).
Nothing here feeds a profile; it tells whether the per-layer method under- or over-reads.

    python benchmarks/autograd_overhead_check.py --device cuda
"""

from __future__ import annotations

import argparse
import itertools
import statistics
from collections.abc import Callable

import torch

from calibrate.clock import WallClock
from calibrate.kernels.mlp import MlpLayer
from dlrmsim.validate.configs import default_grid
from dlrmsim.validate.measure import device_sync

REPEATS = 200  # timed calls per figure (count)


def _median_us(fn: Callable[[], object], sync: Callable[[], None]) -> float:
    for _ in range(10):  # warm-up
        fn()
    clock = WallClock(sync)

    def call() -> None:
        fn()

    return statistics.median(clock.time(call) for _ in range(REPEATS)) * 1e6


def check(label: str, widths: tuple[int, ...], batch: int, device: torch.device) -> None:
    sync = device_sync(device)
    layers = [MlpLayer(a, b).to(device) for a, b in itertools.pairwise(widths)]
    inputs = [torch.randn(batch, a, device=device, requires_grad=True) for a in widths[:-1]]
    grads = [torch.randn(batch, b, device=device) for b in widths[1:]]

    def no_grad_forward(layer: MlpLayer, x: torch.Tensor) -> None:
        with torch.no_grad():
            layer(x)

    fwd_no_grad = sum(_median_us(lambda lx=(layer, x): no_grad_forward(*lx), sync)
                      for layer, x in zip(layers, inputs, strict=True))
    fwd_grad = sum(_median_us(lambda lx=(layer, x): lx[0](lx[1]), sync)
                   for layer, x in zip(layers, inputs, strict=True))

    def one_layer_backward(layer: MlpLayer, x: torch.Tensor, g: torch.Tensor) -> None:
        layer(x).backward(g)  # forward included: subtracted below with fwd_grad

    per_layer = sum(_median_us(lambda a=(layer, x, g): one_layer_backward(*a), sync)
                    for layer, x, g in zip(layers, inputs, grads, strict=True)) - fwd_grad
    model = torch.nn.Sequential(*layers)
    whole_fwd = _median_us(lambda: model(inputs[0]), sync)
    whole = _median_us(lambda: model(inputs[0]).backward(grads[-1]), sync) - whole_fwd
    print(f"{label} {widths}, batch {batch}: forward no_grad {fwd_no_grad:7.1f}  with graph "
          f"{fwd_grad:7.1f}  whole-MLP forward {whole_fwd:7.1f} | backward per layer "
          f"{per_layer:7.1f}  whole MLP {whole:7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    config = {c.name: c for c in default_grid()}["centre"]
    model, batch = config.model, config.batch_size
    dim = model.tables[0].dim
    features = len(model.tables) + 1
    check("bottom", (model.dense_features, *model.bottom_mlp, dim), batch, device)
    check("top", (dim + features * (features - 1) // 2, *model.top_mlp, 1), batch, device)


if __name__ == "__main__":
    main()

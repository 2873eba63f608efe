"""The parts of a training step around the kernels: the dense optimizer's step over the MLP
parameters, and the loss (binary cross-entropy on the logits, forward and backward).

A DLRM step (calibrate/dlrm.py) runs both once per iteration. For small models their cost is
mostly fixed dispatch (one optimizer update per parameter tensor, a handful of elementwise
operators for the loss): on the development VM the loss took 34 us at batch 64 and the step
over 8 tensors of 1000 values 30 us, next to the 1.6-2.0 ms step of the smallest validation
model."""

from __future__ import annotations

import torch

from calibrate.kernels.rotation import rotation_copies

LEARNING_RATE = 0.01  # any small value; the timing does not depend on it
FP32_BYTES = 4  # bytes per float32 element (IEEE 754 binary32)
MAX_SETS = 4096  # copies of a parameter set (count): enough to flush even for 1e3 elements


def optimizer_sets(elements: float, flush_bytes: float) -> int:
    """Copies of a set of `elements` weights and gradients (fp32) that exceed `flush_bytes`."""
    return rotation_copies(2 * elements * FP32_BYTES, flush_bytes, max_copies=MAX_SETS)


class OptimizerStepKernel:
    """Calibration kernel for `dense_optimizer_step`: torch.optim.SGD's step (the dense
    optimizer of calibrate/dlrm.py) over `tensors` fp32 parameters of `elements` elements in
    all, with gradients in place. Calls cycle through copies of the parameter set that together
    exceed `flush_bytes`, without the usual cap of 16 copies: in a DLRM step the embedding
    updates run between the backward and this step and stream far more than the cache through
    it, so the dense weights and gradients come from memory (on the development VM one set of
    173k parameters in 8 tensors took 0.07 ms warm, 0.21 ms rotated out of cache).
    Raises ValueError for a non-positive size."""

    def __init__(self, params: dict[str, float], direction: str, device: torch.device,
                 seed: int, flush_bytes: float) -> None:
        tensors, elements = int(params["tensors"]), int(params["elements"])
        if tensors < 1 or elements < tensors:
            raise ValueError(f"need 1 <= tensors <= elements, got {tensors}, {elements}")
        generator = torch.Generator().manual_seed(seed)
        sizes = [elements // tensors + (1 if i < elements % tensors else 0) for i in range(tensors)]
        copies = optimizer_sets(elements, flush_bytes)
        self.optimizers = [self._optimizer(sizes, generator, device) for _ in range(copies)]
        self.calls = 0

    @staticmethod
    def _optimizer(sizes: list[int], generator: torch.Generator, device: torch.device
                   ) -> torch.optim.SGD:
        weights = [torch.randn(n, generator=generator).to(device).requires_grad_() for n in sizes]
        for weight in weights:
            weight.grad = torch.randn(weight.shape, generator=generator).to(device)
        return torch.optim.SGD(weights, lr=LEARNING_RATE)

    def prepare(self, slots: int) -> None:
        """Nothing to prepare: each call updates one set of parameters with its gradients."""

    def run(self, slot: int) -> None:
        self.optimizers[self.calls % len(self.optimizers)].step()
        self.calls += 1

    def close(self) -> None:
        self.optimizers.clear()


class LossKernel:
    """Calibration kernel for `loss`: BCEWithLogits on [batch] logits (squeezed from
    [batch, 1], as the top MLP's output is), forward and backward to the logits."""

    def __init__(self, params: dict[str, float], direction: str, device: torch.device,
                 seed: int, flush_bytes: float) -> None:
        self.batch = int(params["batch"])
        if self.batch < 1:
            raise ValueError(f"batch must be >= 1, got {self.batch}")
        generator = torch.Generator().manual_seed(seed)
        self.device = device
        self.labels = torch.randint(0, 2, (self.batch,), generator=generator).float().to(device)
        self.loss = torch.nn.BCEWithLogitsLoss()
        self.logits: list[torch.Tensor] = []

    def prepare(self, slots: int) -> None:
        self.logits = [torch.randn(self.batch, 1, device=self.device, requires_grad=True)
                       for _ in range(slots)]

    def run(self, slot: int) -> None:
        self.loss(self.logits[slot].squeeze(1), self.labels).backward()

    def close(self) -> None:
        self.logits.clear()

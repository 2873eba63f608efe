"""DLRM's dot-product feature interaction and the calibration kernel that times its forward or
backward pass."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from calibrate.kernels.rotation import rotation_copies

FP32_BYTES = 4  # bytes per float32 element (IEEE 754 binary32)
DIRECTIONS = ("forward", "backward")


def dot_interaction(dense: torch.Tensor, sparse: torch.Tensor | Sequence[torch.Tensor]
                    ) -> torch.Tensor:
    """DLRM's "dot" interaction: stack the dense vector ([batch, dim]) with the pooled embeddings
    ([batch, tables, dim], or one [batch, dim] tensor per table), take all pairwise dot products,
    keep the strict lower triangle, and concatenate it after the dense vector:
    [batch, dim + features * (features - 1) / 2] where features = tables + 1.

    Either form is stacked by one concatenation (as DLRM's reference code does with its list),
    so a training step's cost matches the one calibration times. Raises ValueError on
    mismatched shapes."""
    if isinstance(sparse, torch.Tensor):
        if dense.dim() != 2 or sparse.dim() != 3 or sparse.shape[::2] != dense.shape:
            raise ValueError(f"need dense [B, D] and sparse [B, T, D], got {dense.shape}, "
                             f"{sparse.shape}")
        parts = [dense.unsqueeze(1), sparse]
    else:
        if dense.dim() != 2 or not sparse or any(p.shape != dense.shape for p in sparse):
            raise ValueError(f"need dense [B, D] and at least one pooled [B, D], got {dense.shape}"
                             f" and {[tuple(p.shape) for p in sparse]}")
        parts = [dense.unsqueeze(1), *(p.unsqueeze(1) for p in sparse)]
    stacked = torch.cat(parts, dim=1)
    features = stacked.shape[1]
    products = torch.bmm(stacked, stacked.transpose(1, 2))
    rows, cols = torch.tril_indices(features, features, offset=-1, device=dense.device)
    return torch.cat([dense, products[:, rows, cols]], dim=1)


def interaction_bytes(batch: float, features: float, dim: float) -> float:
    """Bytes of the inputs and of the pairwise-product matrix of one call (fp32)."""
    return FP32_BYTES * batch * (features * dim + features * features)


class InteractionKernel:
    """Calibration kernel for `interaction_forward` / `interaction_backward` with
    features = tables + 1; the forward a backward call needs runs in `prepare`, untimed.

    Raises ValueError for an unknown direction or fewer than 2 features.
    """

    def __init__(
        self,
        params: dict[str, float],
        direction: str,
        device: torch.device,
        seed: int,
        flush_bytes: float,
    ) -> None:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        self.batch, self.features, self.dim = (
            int(params["batch"]), int(params["features"]), int(params["dim"]))
        if self.features < 2:
            raise ValueError(f"features must be >= 2, got {self.features}")
        self.direction = direction
        self.device = device
        self.generator = torch.Generator().manual_seed(seed)
        copies = rotation_copies(interaction_bytes(self.batch, self.features, self.dim),
                                 flush_bytes, max_copies=8)
        self.pool = [self._random((self.batch, self.features, self.dim)) for _ in range(copies)]
        out_width = self.dim + self.features * (self.features - 1) // 2
        self.grad_out = self._random((self.batch, out_width))
        self.calls = 0
        self.args: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.outputs: list[torch.Tensor] = []

    def _random(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randn(shape, generator=self.generator).to(self.device)

    def prepare(self, slots: int) -> None:
        # Both directions' inputs require grad: in training they are the bottom MLP's output
        # and the pooled embeddings, so the forward records the graph too.
        backward = self.direction == "backward"
        self.args = []
        for _ in range(slots):
            block = self.pool[self.calls % len(self.pool)].detach().requires_grad_(True)
            self.calls += 1
            self.args.append((block[:, 0], block[:, 1:]))
        if backward:
            self.outputs = [dot_interaction(dense, sparse) for dense, sparse in self.args]

    def run(self, slot: int) -> None:
        if self.direction == "forward":
            dot_interaction(*self.args[slot])
        else:
            self.outputs[slot].backward(self.grad_out)

    def close(self) -> None:
        self.pool.clear()
        self.args.clear()
        self.outputs.clear()

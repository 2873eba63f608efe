"""One fp32 embedding table with sum pooling, and its backward fused with a sparse optimizer
update (SGD, or row-wise Adagrad as FBGEMM's EXACT_ROWWISE_ADAGRAD defines it), plus the
calibration kernel that times them over fresh indices and rotated table copies."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from calibrate.kernels.indices import IndexSampler
from calibrate.kernels.rotation import rotation_copies

FP32_BYTES = 4  # bytes per float32 element (IEEE 754 binary32)
OPTIMIZERS = ("sgd", "rowwise_adagrad")
LEARNING_RATE = 0.01  # any small value; the timing does not depend on it
ADAGRAD_EPS = 1e-8  # FBGEMM's default eps for row-wise Adagrad (split_table_batched_embeddings_ops_training)


class EmbeddingBagTable:
    """A `rows` x `dim` fp32 table with sum-pooled lookups over fixed-length bags and an in-place
    sparse update of the rows a batch touched.

    `init` is "uniform" (U(-1/sqrt(dim), 1/sqrt(dim)), for training) or "constant" (for
    timing only). Raises ValueError for a non-positive size or an optimizer not in OPTIMIZERS.
    """

    def __init__(
        self,
        rows: int,
        dim: int,
        optimizer: str,
        device: torch.device,
        generator: torch.Generator | None = None,  # on `device`
        init: str = "uniform",
    ) -> None:
        if rows < 1 or dim < 1:
            raise ValueError(f"rows and dim must be >= 1, got rows={rows}, dim={dim}")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
        self.optimizer = optimizer
        bound = 1.0 / dim**0.5
        self.weight = torch.empty(rows, dim, device=device)
        if init == "uniform":
            self.weight.uniform_(-bound, bound, generator=generator)
        else:  # values do not change fp32 gather/scatter cost; a fill is ~4x faster to build
            self.weight.fill_(bound / 2)
        self.state = torch.zeros(rows, device=device) if optimizer == "rowwise_adagrad" else None

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        """Sum of the rows named in each bag; `indices` is [batch, pooling], result [batch, dim]."""
        return F.embedding_bag(indices, self.weight, mode="sum")

    def backward_update(self, indices: torch.Tensor, grad_out: torch.Tensor) -> None:
        """Apply the optimizer to the rows of `indices` given the gradient of the pooled output
        (`grad_out`, [batch, dim]); every lookup receives its bag's gradient."""
        pooling = indices.shape[1]
        flat = indices.reshape(-1)
        values = grad_out.repeat_interleave(pooling, dim=0)
        if self.state is None:
            self.weight.index_add_(0, flat, values, alpha=-LEARNING_RATE)
            return
        unique, inverse = torch.unique(flat, return_inverse=True)
        summed = torch.zeros(unique.numel(), values.shape[1], device=values.device)
        summed.index_add_(0, inverse, values)
        state = self.state.index_select(0, unique) + summed.pow(2).mean(dim=1)
        self.state.index_copy_(0, unique, state)
        scale = -LEARNING_RATE / (state.sqrt() + ADAGRAD_EPS)
        self.weight.index_add_(0, unique, summed * scale.unsqueeze(1))


def table_bytes(rows: float, dim: float) -> float:
    """Bytes of one fp32 table."""
    return rows * dim * FP32_BYTES


class EmbeddingKernel:
    """Calibration kernel: forward ("forward") or backward plus update ("sgd",
    "rowwise_adagrad") of one table per call, cycling through enough table copies to exceed
    `flush_bytes` (bytes), on fresh indices drawn for every call.

    Raises ValueError for an unknown direction or bad sizes.
    """

    def __init__(
        self,
        params: dict[str, float],
        direction: str,
        device: torch.device,
        seed: int,
        flush_bytes: float,
        max_copies: int = 16,
    ) -> None:
        if direction not in ("forward", *OPTIMIZERS):
            raise ValueError(f"direction must be 'forward' or one of {OPTIMIZERS}")
        rows, dim = int(params["rows"]), int(params["dim"])
        self.batch, self.pooling = int(params["batch"]), int(params["pooling"])
        self.direction = direction
        generator = torch.Generator().manual_seed(seed)
        device_generator = torch.Generator(device=device).manual_seed(seed)
        optimizer = "sgd" if direction == "forward" else direction
        copies = rotation_copies(table_bytes(rows, dim), flush_bytes, max_copies)
        self.tables = [
            EmbeddingBagTable(rows, dim, optimizer, device, init="constant")
            for _ in range(copies)
        ]
        self.sampler = IndexSampler(rows, float(params["zipf_s"]), device_generator, device)
        self.grad_out = torch.randn(self.batch, dim, generator=generator).to(device)
        self.inputs: list[torch.Tensor] = []
        self.calls = 0
        self._unique, self._prepared = 0, 0

    def prepare(self, slots: int) -> None:
        lookups = self.batch * self.pooling
        drawn = self.sampler.draw(lookups * slots)
        self.inputs = list(drawn.view(slots, self.batch, self.pooling).unbind(0))
        # Distinct rows drive the update's cost (one read-modify-write per row) and the cache
        # hits of the gather; the simulator knows them per batch from the trace.
        self._unique += sum(int(torch.unique(x).numel()) for x in self.inputs)
        self._prepared += slots

    def observed_params(self) -> dict[str, float]:
        """Mean distinct rows per call over every input prepared so far."""
        return {"unique_rows": self._unique / max(1, self._prepared)}

    def run(self, slot: int) -> None:
        table = self.tables[self.calls % len(self.tables)]
        self.calls += 1
        if self.direction == "forward":
            table.forward(self.inputs[slot])
        else:
            table.backward_update(self.inputs[slot], self.grad_out)

    def close(self) -> None:
        self.tables.clear()
        self.inputs.clear()

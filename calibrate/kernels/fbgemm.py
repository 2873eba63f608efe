"""FBGEMM's batched embedding kernel (SplitTableBatchedEmbeddingBagsCodegen) when the optional
`fbgemm_gpu` package is installed: `tables` equal tables per call, fp32, sum pooling, backward
fused with SGD or row-wise Adagrad. Nothing here is needed when FBGEMM is absent."""

from __future__ import annotations

import importlib
from typing import Any

import torch

from calibrate.kernels.indices import IndexSampler
from calibrate.kernels.rotation import rotation_copies

FP32_BYTES = 4  # bytes per float32 element (IEEE 754 binary32)
LEARNING_RATE = 0.01  # any small value; the timing does not depend on it
DIRECTIONS = ("forward", "sgd", "rowwise_adagrad")


def fbgemm_version() -> str | None:
    """The installed fbgemm_gpu version, or None when it is absent or does not load."""
    try:
        module = importlib.import_module("fbgemm_gpu")
    except Exception:  # a broken install (ABI mismatch) must not stop calibration
        return None
    return str(getattr(module, "__version__", "unknown"))


def _fbgemm_names() -> tuple[Any, Any, Any, Any]:
    training = importlib.import_module("fbgemm_gpu.split_table_batched_embeddings_ops_training")
    common = importlib.import_module("fbgemm_gpu.split_table_batched_embeddings_ops_common")
    configs = importlib.import_module("fbgemm_gpu.split_embedding_configs")
    return (training.SplitTableBatchedEmbeddingBagsCodegen, training.ComputeDevice,
            common.EmbeddingLocation, configs.EmbOptimType)


def build_batched_tables(
    tables: int, rows: int, dim: int, optimizer: str, device: torch.device
) -> torch.nn.Module:
    """FBGEMM's batched module for `tables` tables of `rows` x `dim` with a fused optimizer
    ("sgd" or "rowwise_adagrad"). Raises ImportError without fbgemm_gpu."""
    codegen, compute, location, optim = _fbgemm_names()
    on_gpu = device.type == "cuda"
    spec = (rows, dim, location.DEVICE if on_gpu else location.HOST,
            compute.CUDA if on_gpu else compute.CPU)
    optim_type = optim.EXACT_SGD if optimizer == "sgd" else optim.EXACT_ROWWISE_ADAGRAD
    module = codegen([spec] * tables, optimizer=optim_type, learning_rate=LEARNING_RATE)
    return module.to(device) if on_gpu else module


class FbgemmKernel:
    """Calibration kernel for `fbgemm_embedding_forward` / `_backward_sgd` /
    `_backward_rowwise_adagrad`: one call covers all `tables` tables; the forward a backward call
    needs runs in `prepare`, untimed. Raises ValueError for an unknown direction, ImportError
    without fbgemm_gpu."""

    def __init__(
        self, params: dict[str, float], direction: str, device: torch.device, seed: int,
        flush_bytes: float,
    ) -> None:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        self.tables, rows, dim = int(params["tables"]), int(params["rows"]), int(params["dim"])
        self.batch, self.pooling = int(params["batch"]), int(params["pooling"])
        self.direction, self.device = direction, device
        generator = torch.Generator().manual_seed(seed)
        device_generator = torch.Generator(device=device).manual_seed(seed)
        optimizer = "sgd" if direction == "forward" else direction
        copies = rotation_copies(self.tables * rows * dim * FP32_BYTES, flush_bytes, max_copies=4)
        self.modules = [build_batched_tables(self.tables, rows, dim, optimizer, device)
                        for _ in range(copies)]
        self.sampler = IndexSampler(rows, float(params["zipf_s"]), device_generator, device)
        lookups = self.tables * self.batch * self.pooling
        self.offsets = torch.arange(0, lookups + 1, self.pooling, device=device)
        self.grad_out = torch.randn(self.batch, self.tables * dim, generator=generator).to(device)
        self.inputs: list[torch.Tensor] = []
        self.outputs: list[torch.Tensor] = []
        self.calls = 0

    def _module(self) -> torch.nn.Module:
        module = self.modules[self.calls % len(self.modules)]
        self.calls += 1
        return module

    def prepare(self, slots: int) -> None:
        lookups = self.tables * self.batch * self.pooling
        self.inputs = list(self.sampler.draw(lookups * slots).view(slots, lookups).unbind(0))
        if self.direction != "forward":
            self.outputs = [self._module()(idx, self.offsets) for idx in self.inputs]

    def run(self, slot: int) -> None:
        if self.direction == "forward":
            with torch.no_grad():
                self._module()(self.inputs[slot], self.offsets)
        else:
            self.outputs[slot].backward(self.grad_out)

    def close(self) -> None:
        self.modules.clear()
        self.inputs.clear()
        self.outputs.clear()

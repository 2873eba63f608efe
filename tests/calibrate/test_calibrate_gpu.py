"""CUDA paths: run only where CUDA is present."""

from __future__ import annotations

import pytest
import torch

from calibrate.clock import CudaEventClock
from calibrate.device import resolve_device
from calibrate.kernels.embedding import EmbeddingKernel
from calibrate.kernels.memory import MemoryKernel
from calibrate.measure import time_kernel
from calibrate.runner import RunOptions, calibrate
from calibrate.types import TimingPolicy

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]
POLICY = TimingPolicy(warmup_samples=1, repeats=3, retries=0, min_sample_s=0.0)


def test_auto_picks_cuda():
    assert resolve_device("auto").type == "cuda"


def test_event_clock_times_a_device_kernel():
    device = resolve_device("cuda")
    kernel = EmbeddingKernel({"rows": 100000, "dim": 64, "pooling": 16, "batch": 2048,
                              "zipf_s": 1.05}, "rowwise_adagrad", device, 0, 1e8)
    samples, summary, _, _, _ = time_kernel(kernel, CudaEventClock(), POLICY)
    assert summary.median_s > 0 and len(samples) == 3


@pytest.mark.parametrize("op", ["device_copy", "h2d_pinned", "h2d_pageable", "d2h_pinned",
                                "d2h_pageable"])
def test_memory_and_pcie_kernels(op):
    kernel = MemoryKernel(op, {"bytes": 1 << 20}, resolve_device("cuda"), 1 << 24)
    _, summary, _, _, _ = time_kernel(kernel, CudaEventClock(), POLICY)
    assert summary.median_s > 0


def test_tiny_cuda_calibration(tmp_path):
    ops = ("embedding_forward", "mlp_forward", "h2d_pinned", "device_copy")
    _, profile = calibrate(RunOptions(device="cuda", quick=True, out=tmp_path / "g.json",
                                      quiet=True, ops=ops, budget_scale=0.1))
    assert profile["device"] == "cuda" and profile["host"]["gpu_name"]
    assert set(profile["cost_models"]) == set(ops)
    assert "h2d_pinned" in profile["bandwidths_bytes_per_s"]

"""Memory-bandwidth kernels: copy, read and write of `bytes` on the host or the device, and
copies between host (pinned or pageable) and device, each over a rotating window of an arena
larger than the last-level cache."""

from __future__ import annotations

import torch

from calibrate.kernels.rotation import ArenaCursor

FP32_BYTES = 4  # bytes per float32 element (IEEE 754 binary32)
HOST_OPS = ("host_copy", "host_read", "host_write")
DEVICE_OPS = ("device_copy",)
PCIE_OPS = ("h2d_pinned", "h2d_pageable", "d2h_pinned", "d2h_pageable")


def elements_for(nbytes: float) -> int:
    """Float32 elements holding `nbytes` bytes (at least one)."""
    return max(1, int(nbytes) // FP32_BYTES)


class _Window:
    """A tensor arena and the cursor that picks the next window of it."""

    def __init__(self, size: int, flush_bytes: float, device: torch.device, pinned: bool) -> None:
        arena = max(size, elements_for(flush_bytes))
        self.tensor = torch.empty(arena, device=device, pin_memory=pinned)
        self.tensor.fill_(1.0)  # touch every page now, so first-touch faults are not timed
        self.cursor = ArenaCursor(size, arena, FP32_BYTES)

    def next(self) -> torch.Tensor:
        offset = self.cursor.next()
        return self.tensor[offset : offset + self.cursor.size]


class MemoryKernel:
    """Calibration kernel for one of HOST_OPS, DEVICE_OPS or PCIE_OPS at `params["bytes"]`.
    Copies move `bytes` from one buffer to another; read sums `bytes`; write fills `bytes`.

    Raises ValueError for an unknown op; RuntimeError (from torch) if CUDA is needed and absent.
    """

    def __init__(
        self, op: str, params: dict[str, float], device: torch.device, flush_bytes: float
    ) -> None:
        size = elements_for(params["bytes"])
        cpu, cuda = torch.device("cpu"), torch.device("cuda", device.index or 0)
        if op in HOST_OPS:
            src_dev, dst_dev, pinned = cpu, cpu, False
        elif op in DEVICE_OPS:
            src_dev, dst_dev, pinned = cuda, cuda, False
        elif op in PCIE_OPS:
            pinned = op.endswith("_pinned")
            src_dev, dst_dev = (cpu, cuda) if op.startswith("h2d") else (cuda, cpu)
        else:
            raise ValueError(f"unknown memory op {op!r}")
        self.op = op
        self.src = _Window(size, flush_bytes, src_dev, pinned and src_dev.type == "cpu")
        needs_dst = op not in ("host_read", "host_write")
        self.dst = (
            _Window(size, flush_bytes, dst_dev, pinned and dst_dev.type == "cpu")
            if needs_dst else None
        )
        self.non_blocking = pinned
        self.windows: list[tuple[torch.Tensor, torch.Tensor | None]] = []

    def prepare(self, slots: int) -> None:
        self.windows = [
            (self.src.next(), self.dst.next() if self.dst else None) for _ in range(slots)
        ]

    def run(self, slot: int) -> None:
        src, dst = self.windows[slot]
        if dst is not None:
            dst.copy_(src, non_blocking=self.non_blocking)
        elif self.op == "host_read":
            src.sum()
        else:
            src.fill_(2.0)

    def close(self) -> None:
        self.windows.clear()

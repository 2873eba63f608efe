"""The few free parameters of the analytic cost model that no datasheet fixes.

Each default states its source. A platform preset may override any of them under `efficiency:`
and must then give its own source.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.specs import checks
from sim.specs.checks import SpecError


@dataclass(frozen=True)
class EfficiencySpec:
    """Fractions of datasheet rates that real kernels reach, per-op overheads, usable memory.

    Raises SpecError on a bad field.
    """

    # Dense GEMM on CPU at DLRM sizes reaches roughly half of AVX-512 peak (MKL-DNN sgemm
    # benchmarks reach 60-80% at large square sizes; skinny DLRM layers less). Free parameter.
    cpu_compute_efficiency: float = 0.5
    # V100 sgemm reaches ~70% of 15.7 TFLOP/s at large sizes (cuBLAS); DLRM layers are smaller.
    gpu_compute_efficiency: float = 0.6
    # STREAM triad reaches ~70-80% of theoretical DRAM bandwidth on Skylake-SP servers.
    cpu_stream_efficiency: float = 0.75
    # STREAM-like kernels reach ~90% of V100 HBM2 bandwidth (Jia et al., "Dissecting the
    # NVIDIA Volta GPU architecture via microbenchmarking", 2018: ~850 of 900 GB/s).
    gpu_stream_efficiency: float = 0.9
    # Random row gathers (embedding lookups) reach a lower share of peak than streams, since
    # each row is a few cache lines with no prefetch. Free parameter, order of magnitude from
    # Ke et al., "RecNMP" (ISCA 2020), which measures ~30-40% of peak for SparseLengthsSum.
    cpu_gather_efficiency: float = 0.35
    gpu_gather_efficiency: float = 0.6
    # One core cannot saturate a socket: ~12 GB/s per Skylake-SP core (single-thread STREAM,
    # McCalpin's STREAM results for Xeon Scalable), so few threads are latency-bound.
    core_mem_bw_bytes_per_s: float = 12e9
    # Fixed cost per framework operator (sim/costs/ops.py counts them per kernel). CPU: ~10 us
    # of PyTorch/Caffe2 operator dispatch. GPU: the eager framework's host-side cost per
    # operator (Python, dispatcher, autograd record, cudaLaunchKernel ~5 us by itself): ~10 us
    # per operator for PyTorch 1.x eager (order of magnitude; not fitted to any figure). Small
    # DLRM kernels finish faster than that, so the host's issue rate paces the GPU.
    cpu_op_overhead_s: float = 10e-6
    gpu_op_overhead_s: float = 10e-6
    # CUDA launches are asynchronous: the host issues the next operators while the GPU runs
    # this one, so a GPU kernel takes max(its roofline, its operators' dispatch), not the sum.
    # Except where the host must wait for the GPU: a sparse embedding gradient is coalesced
    # (torch.Tensor.coalesce on CUDA reads the unique-row count back to size its output), so
    # each table's backward and update stays dispatch + kernel. False: every GPU kernel pays
    # the sum (a host that synchronizes after each operator). CPU operators always pay the sum,
    # as the same cores dispatch and compute. Not fitted to any figure.
    gpu_async_dispatch: bool = True
    # Last-level cache a table can stay in: Xeon Gold 6138 27.5 MB L3 per socket (Intel ARK);
    # V100 6 MB L2 (NVIDIA Volta whitepaper). Tables on one processor share it evenly.
    cpu_cache_bytes: float = 27.5e6
    gpu_cache_bytes: float = 6e6
    # GPU-to-GPU traffic staged through host memory (no NVLink, GPUs under different PCIe
    # switches) reaches this share of the switch uplink's rate, and the two directions share it:
    # CPUs handle the mixed reads and writes of such traffic poorly. Measured, NCCL 2.4.8 shared-
    # memory transport between two V100-era GPUs on PCIe Gen3 x16 (github.com/NVIDIA/nccl issue
    # 384): one-way broadcast 10.31 GB/s = 0.65 of 15.75 GB/s; all-reduce and all-gather, which
    # send both ways, 3.9 and 3.2 GB/s (this model, sharing 0.65 both ways: 5.1 each way).
    host_staged_efficiency: float = 0.65
    # Share of HBM for embedding tables after the CUDA context, activations and allocator
    # slack (free parameter; ~1-3 GB of a 32 GB V100 goes to the rest).
    hbm_usable_fraction: float = 0.9
    # Share of host DRAM for embedding tables after the OS, input buffers and framework.
    dram_usable_fraction: float = 0.85

    def __post_init__(self) -> None:
        for name in ("cpu_compute_efficiency", "gpu_compute_efficiency", "cpu_stream_efficiency",
                     "gpu_stream_efficiency", "cpu_gather_efficiency", "gpu_gather_efficiency",
                     "host_staged_efficiency", "hbm_usable_fraction", "dram_usable_fraction"):
            value = getattr(self, name)
            checks.fraction("EfficiencySpec", name, value)
            checks.positive("EfficiencySpec", name, value)
        for name in ("core_mem_bw_bytes_per_s", "cpu_cache_bytes", "gpu_cache_bytes"):
            checks.positive("EfficiencySpec", name, getattr(self, name))
        checks.non_negative("EfficiencySpec", "cpu_op_overhead_s", self.cpu_op_overhead_s)
        checks.non_negative("EfficiencySpec", "gpu_op_overhead_s", self.gpu_op_overhead_s)
        if not isinstance(self.gpu_async_dispatch, bool):
            raise SpecError("EfficiencySpec", "gpu_async_dispatch", self.gpu_async_dispatch,
                            "true or false")

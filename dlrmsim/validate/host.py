"""The platform of the host that validation runs on, as a ServerSpec the simulator can take:
one CPU trainer with its tables in local memory, or one GPU with its tables in GPU memory.

Two views of the same machine: with a profile, its kernels cost what calibration measured
(CalibratedCosts); without, the analytic model uses nominal datasheet-style rates read off the
CPU (clock, vector width) or looked up for the GPU by name, so that the table can show what
calibration buys.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from calibrate.host import cpu_model
from sim.profile import Profile
from sim.specs import CpuSocketSpec, GpuSpec, LinkSpec, PcieSwitchSpec, ServerSpec

# fp32 FLOP per cycle per core: FMA units x lanes x 2 (Intel 64 and IA-32 Optimization Reference
# Manual: server cores with AVX-512 have two 512-bit FMA ports; AVX2 cores two 256-bit ports).
FLOPS_PER_CYCLE = {"avx512f": 2 * 16 * 2, "avx2": 2 * 8 * 2, "sse2": 2 * 4 * 2}
# Nominal socket memory bandwidth (bytes/s) by memory generation: 8 x DDR5-4800 channels =
# 307 GB/s (Intel Xeon 4th gen, Sapphire Rapids, datasheet), 6 x DDR4-2933 = 141 GB/s (2nd gen).
DDR5_SOCKET_BW_BYTES_PER_S = 307e9
DDR4_SOCKET_BW_BYTES_PER_S = 141e9
# Nominal (HBM bytes/s, fp32 FLOP/s) of GPUs by a part of the name torch reports, from NVIDIA's
# datasheets (SXM parts): H200 4.8 TB/s, 67 TFLOP/s; H100 3.35 TB/s, 67 TFLOP/s; A100 80GB
# 2.04 TB/s, 19.5 TFLOP/s; V100 0.9 TB/s, 15.7 TFLOP/s. An unknown GPU gets the A100's.
GPU_NOMINAL = {"H200": (4.8e12, 67e12), "H100": (3.35e12, 67e12), "A100": (2.04e12, 19.5e12),
               "V100": (0.9e12, 15.7e12)}
UNKNOWN_GPU = "A100"
# Host-to-GPU bandwidth (bytes/s) when the profile did not measure it: PCIe 4.0 x16, 31.5 GB/s
# per direction (PCI-SIG), at the ~80% that DMA copies reach.
NOMINAL_H2D_BYTES_PER_S = 25e9
# Power plays no part in validation (it predicts step time); a nominal figure keeps the spec valid.
NOMINAL_POWER_W = 200.0  # W, order of one server socket's TDP; unused by validation


@dataclass(frozen=True)
class HostFacts:
    """What the host says about itself: model name, clock (Hz), ISA flags, memory (bytes)."""

    hostname: str
    cpu_model: str
    clock_hz: float
    flags: frozenset[str]
    mem_total_bytes: int


def read_host_facts() -> HostFacts:
    cpuinfo = _read("/proc/cpuinfo")
    mhz = re.search(r"^cpu MHz\s*:\s*([\d.]+)$", cpuinfo, re.MULTILINE)
    flags = re.search(r"^flags\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    mem = re.search(r"^MemTotal:\s*(\d+) kB", _read("/proc/meminfo"), re.MULTILINE)
    return HostFacts(
        hostname=socket.gethostname(),
        cpu_model=cpu_model(),  # the same reading calibrate records in its profiles
        clock_hz=float(mhz.group(1)) * 1e6 if mhz else 2.0e9,  # 2 GHz if the kernel hides it
        flags=frozenset(flags.group(1).split()) if flags else frozenset(),
        mem_total_bytes=int(mem.group(1)) * 1024 if mem else 16 * 2**30,
    )


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def nominal_core_flops_per_s(facts: HostFacts) -> float:
    width = next((f for f in FLOPS_PER_CYCLE if f in facts.flags), "sse2")
    return facts.clock_hz * FLOPS_PER_CYCLE[width]


def nominal_socket_bw_bytes_per_s(facts: HostFacts) -> float:
    # AMX and AVX512-FP16 arrive with DDR5 platforms (Sapphire Rapids and later).
    ddr5 = bool({"amx_tile", "avx512_fp16"} & facts.flags)
    return DDR5_SOCKET_BW_BYTES_PER_S if ddr5 else DDR4_SOCKET_BW_BYTES_PER_S


def host_platform(threads: int, facts: HostFacts | None = None) -> ServerSpec:
    """This host as one socket of `threads` cores (the threads the step and profile use)."""
    facts = facts or read_host_facts()
    socket_spec = CpuSocketSpec(
        name=facts.cpu_model or "host",
        cores=threads,
        core_flops_per_s=nominal_core_flops_per_s(facts),
        mem_bw_bytes_per_s=nominal_socket_bw_bytes_per_s(facts),
        mem_capacity_bytes=facts.mem_total_bytes,
    )
    return ServerSpec(name="this_host", sockets=(socket_spec,), power_w=NOMINAL_POWER_W,
                      description=f"the validation host ({facts.cpu_model}, {threads} threads)")


@dataclass(frozen=True)
class GpuFacts:
    """The GPU validation runs on: torch's device name and its memory (bytes)."""

    name: str
    memory_bytes: int


def read_gpu_facts() -> GpuFacts:
    """GPU 0 as torch sees it. Raises RuntimeError (from torch) without CUDA."""
    import torch

    props = torch.cuda.get_device_properties(0)
    return GpuFacts(props.name, int(props.total_memory))


def gpu_host_platform(threads: int, gpu: GpuFacts, profile: Profile | None = None,
                      facts: HostFacts | None = None) -> ServerSpec:
    """This host's CPU socket plus one GPU behind one PCIe link, whose bandwidth is the
    profile's measured pinned host-to-GPU copy when there is one."""
    host = host_platform(threads, facts)
    hbm_bw, flops = GPU_NOMINAL[next((k for k in GPU_NOMINAL if k in gpu.name.upper()),
                                     UNKNOWN_GPU)]
    measured = profile.bandwidths_bytes_per_s.get("h2d_pinned") if profile else None
    link = LinkSpec(bw_bytes_per_s=float(measured or NOMINAL_H2D_BYTES_PER_S))
    return ServerSpec(
        name="this_host_gpu", sockets=host.sockets, power_w=NOMINAL_POWER_W,
        gpus=(GpuSpec(gpu.name, gpu.memory_bytes, hbm_bw, flops),),
        pcie_switches=(PcieSwitchSpec(socket=0, gpus=(0,), uplink=link, downlink=link),),
        description=f"the validation host's GPU ({gpu.name}) with {threads} host threads")


def profile_threads(profile: Profile) -> int:
    return int(profile.host.get("torch_threads") or os.cpu_count() or 1)


def other_host_warning(profile: Profile, facts: HostFacts) -> str | None:
    """A warning naming both hosts when the profile was measured elsewhere, else None."""
    theirs = (str(profile.host.get("hostname", "?")), str(profile.host.get("cpu_model", "?")))
    ours = (facts.hostname, facts.cpu_model)
    if theirs[1] == ours[1] and int(profile.host.get("cpu_cores") or 0) == (os.cpu_count() or 0):
        return None
    return (f"warning: profile {profile.path} was measured on {theirs[0]} ({theirs[1]}, "
            f"{profile.host.get('cpu_cores')} cores) but this is {ours[0]} ({ours[1]}, "
            f"{os.cpu_count()} cores); predictions use the other host's kernel costs")

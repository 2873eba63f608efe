"""The host fingerprint recorded in a profile, and the machine facts planning needs."""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
from pathlib import Path
from typing import Any

import torch

from calibrate.kernels.fbgemm import fbgemm_version

FALLBACK_LLC_BYTES = 32 * 1024 * 1024  # bytes; a typical server L3 when sysfs does not say
# Virtual machines often report the whole socket's L3 (hundreds of MB); a process on a few
# cores never owns more than a share of it, so rotation only needs to exceed this much.
MAX_LLC_BYTES = 128 * 1024 * 1024  # bytes
FLUSH_FACTOR = 2  # rotate through twice the last-level cache (dimensionless)
# The working-set ops rotate through this many times the flush size (dimensionless): 16 x 256 MiB
# = 4 GiB on the development VM, where an embedding call kept slowing down as the rotation grew
# past its 480 MiB L3, up to 1 GiB for a 23 MB table and past 2.8 GB for a 173 MB one
# (benchmarks/cache_rotation_check.py; profiles/README.md, session 3). A training step cycles
# through all of its tables, gigabytes in the larger validation configurations.
COLD_ROTATION_FACTOR = 16


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else platform.processor()."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else (platform.processor() or "unknown")


def last_level_cache_bytes() -> int:
    """Size of CPU 0's largest cache (bytes) from sysfs, capped at MAX_LLC_BYTES."""
    sizes = []
    for path in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        match = re.fullmatch(r"(\d+)([KMG]?)", path.read_text().strip())
        if match:
            scale = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[match.group(2)]
            sizes.append(int(match.group(1)) * scale)
    return min(max(sizes, default=FALLBACK_LLC_BYTES), MAX_LLC_BYTES)


def gpu_l2_cache_bytes(device: torch.device) -> int:
    """The L2 cache of CUDA `device` (bytes); 0 when this torch does not report it."""
    return int(getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 0) or 0)


def flush_bytes(gpu_l2_bytes: int = 0) -> int:
    """Bytes to rotate through so that caches do not hold a point's working set: twice the
    larger of the CPU's last-level cache and, in a CUDA run, the GPU's L2 (`gpu_l2_bytes`),
    which caches the device kernels' tables and buffers (50 MB on an H100, more than the
    32 MiB last-level cache some VMs report)."""
    return FLUSH_FACTOR * max(last_level_cache_bytes(), gpu_l2_bytes)


def available_memory_bytes() -> int:
    """MemAvailable from /proc/meminfo (bytes), else physical pages times page size."""
    try:
        match = re.search(r"^MemAvailable:\s*(\d+) kB", Path("/proc/meminfo").read_text(),
                          re.MULTILINE)
        if match:
            return int(match.group(1)) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def gpu_driver() -> str | None:
    """The NVIDIA driver version from nvidia-smi or /proc, None when neither says."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        return out.splitlines()[0].strip() or None
    except (OSError, subprocess.SubprocessError, IndexError):
        pass
    try:
        match = re.search(r"Kernel Module\s+([\d.]+)",
                          Path("/proc/driver/nvidia/version").read_text())
    except OSError:
        return None
    return match.group(1) if match else None


def fingerprint(device: torch.device, use_fbgemm: bool) -> dict[str, Any]:
    """The profile's `host` record."""
    on_gpu = device.type == "cuda"
    return {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda if on_gpu else None,
        "gpu_name": torch.cuda.get_device_name(device) if on_gpu else None,
        "gpu_driver": gpu_driver() if on_gpu else None,
        "gpu_count": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "torch_threads": torch.get_num_threads(),
        "fbgemm_version": fbgemm_version() if use_fbgemm else None,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "last_level_cache_bytes": last_level_cache_bytes(),
        "available_memory_bytes": available_memory_bytes(),
    }

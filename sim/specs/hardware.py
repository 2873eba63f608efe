"""Specs of the machines: CPU sockets, GPUs, links, NICs, PCIe switches and whole servers."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.specs import checks
from sim.specs.checks import SpecError
from sim.specs.efficiency import EfficiencySpec


@dataclass(frozen=True)
class CpuSocketSpec:
    """One CPU socket: cores, peak compute per core, memory bandwidth and capacity.

    Raises SpecError on a bad field.
    """

    name: str
    cores: int
    core_flops_per_s: float
    mem_bw_bytes_per_s: float
    mem_capacity_bytes: int

    def __post_init__(self) -> None:
        checks.non_empty_name("CpuSocketSpec", "name", self.name)
        checks.positive_int("CpuSocketSpec", "cores", self.cores)
        checks.positive("CpuSocketSpec", "core_flops_per_s", self.core_flops_per_s)
        checks.positive("CpuSocketSpec", "mem_bw_bytes_per_s", self.mem_bw_bytes_per_s)
        checks.positive_int("CpuSocketSpec", "mem_capacity_bytes", self.mem_capacity_bytes)


@dataclass(frozen=True)
class GpuSpec:
    """One GPU: HBM capacity and bandwidth, and peak compute rate for the model's precision.

    Raises SpecError on a bad field.
    """

    name: str
    hbm_capacity_bytes: int
    hbm_bw_bytes_per_s: float
    peak_flops_per_s: float

    def __post_init__(self) -> None:
        checks.non_empty_name("GpuSpec", "name", self.name)
        checks.positive_int("GpuSpec", "hbm_capacity_bytes", self.hbm_capacity_bytes)
        checks.positive("GpuSpec", "hbm_bw_bytes_per_s", self.hbm_bw_bytes_per_s)
        checks.positive("GpuSpec", "peak_flops_per_s", self.peak_flops_per_s)


@dataclass(frozen=True)
class LinkSpec:
    """A point-to-point link: bandwidth per direction and one-way latency.

    Raises SpecError on a bad field.
    """

    bw_bytes_per_s: float
    latency_s: float = 0.0

    def __post_init__(self) -> None:
        checks.positive("LinkSpec", "bw_bytes_per_s", self.bw_bytes_per_s)
        checks.non_negative("LinkSpec", "latency_s", self.latency_s)


@dataclass(frozen=True)
class NicSpec:
    """A network interface, attached to a socket directly or through a PCIe switch.

    Raises SpecError on a bad field.
    """

    link: LinkSpec
    socket: int = 0

    def __post_init__(self) -> None:
        checks.non_negative_int("NicSpec", "socket", self.socket)


@dataclass(frozen=True)
class PcieSwitchSpec:
    """A PCIe switch (or any host attachment, e.g. NVLink-C2C) joining GPUs and NICs to a socket.

    `uplink` joins the switch to its socket; `downlink` joins each device to the switch.
    Raises SpecError on a bad field.
    """

    socket: int
    gpus: tuple[int, ...]
    uplink: LinkSpec
    downlink: LinkSpec
    nics: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        checks.non_negative_int("PcieSwitchSpec", "socket", self.socket)
        for field_name in ("gpus", "nics"):
            value = getattr(self, field_name)
            if not isinstance(value, tuple):
                raise SpecError("PcieSwitchSpec", field_name, value, "a list of indices")
            for index in value:
                checks.non_negative_int("PcieSwitchSpec", field_name, index)


@dataclass(frozen=True)
class ServerSpec:
    """A server: sockets, GPUs, the links among them, NICs, and power under training load.

    `nvlink_links[i][j]` counts the NVLink links between GPUs i and j (symmetric, zero diagonal;
    empty when the server has no GPU-to-GPU links); each link carries `nvlink`. Every GPU sits on
    exactly one PCIe switch. `estimate` marks hypothetical platforms whose figures are not from
    the paper. `efficiency` holds the analytic cost model's free parameters for this platform.
    Raises SpecError on a bad or inconsistent field.
    """

    name: str
    sockets: tuple[CpuSocketSpec, ...]
    power_w: float
    inter_socket: LinkSpec | None = None
    gpus: tuple[GpuSpec, ...] = ()
    nvlink: LinkSpec | None = None
    nvlink_links: tuple[tuple[int, ...], ...] = ()
    pcie_switches: tuple[PcieSwitchSpec, ...] = ()
    nics: tuple[NicSpec, ...] = ()
    efficiency: EfficiencySpec = field(default_factory=EfficiencySpec)
    estimate: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        checks.non_empty_name("ServerSpec", "name", self.name)
        if not isinstance(self.sockets, tuple) or not self.sockets:
            raise SpecError("ServerSpec", "sockets", self.sockets, "at least one socket")
        checks.positive("ServerSpec", "power_w", self.power_w)
        if len(self.sockets) > 1 and self.inter_socket is None:
            raise SpecError("ServerSpec", "inter_socket", None, "a link when there are 2+ sockets")
        self._check_nvlink()
        self._check_switches()
        for i, nic in enumerate(self.nics):
            if nic.socket >= len(self.sockets):
                raise SpecError("ServerSpec", f"nics[{i}].socket", nic.socket,
                                f"a socket index below {len(self.sockets)}")

    def _check_nvlink(self) -> None:
        n = len(self.gpus)
        links = self.nvlink_links
        if not links:
            return
        if len(links) != n or any(len(row) != n for row in links):
            raise SpecError("ServerSpec", "nvlink_links", links, f"a {n} x {n} matrix (one per GPU)")
        for i in range(n):
            for j in range(n):
                count = links[i][j]
                checks.non_negative_int("ServerSpec", f"nvlink_links[{i}][{j}]", count)
                if i == j and count:
                    raise SpecError("ServerSpec", f"nvlink_links[{i}][{i}]", count, "0 (no self link)")
                if count != links[j][i]:
                    raise SpecError("ServerSpec", f"nvlink_links[{i}][{j}]", count,
                                    f"equal to nvlink_links[{j}][{i}] = {links[j][i]} (symmetric)")
        if any(any(row) for row in links) and self.nvlink is None:
            raise SpecError("ServerSpec", "nvlink", None, "a link spec when nvlink_links has links")

    def _check_switches(self) -> None:
        seen: dict[int, int] = {}
        on_switch: set[int] = set()
        for s, switch in enumerate(self.pcie_switches):
            if switch.socket >= len(self.sockets):
                raise SpecError("ServerSpec", f"pcie_switches[{s}].socket", switch.socket,
                                f"a socket index below {len(self.sockets)}")
            for gpu in switch.gpus:
                if gpu >= len(self.gpus) or gpu in seen:
                    raise SpecError("ServerSpec", f"pcie_switches[{s}].gpus", switch.gpus,
                                    f"distinct GPU indices below {len(self.gpus)}, each on one switch")
                seen[gpu] = s
            for nic in switch.nics:
                if nic >= len(self.nics) or nic in on_switch:
                    raise SpecError("ServerSpec", f"pcie_switches[{s}].nics", switch.nics,
                                    f"distinct NIC indices below {len(self.nics)}, each on one "
                                    "switch")
                if self.nics[nic].socket != switch.socket:
                    raise SpecError("ServerSpec", f"nics[{nic}].socket", self.nics[nic].socket,
                                    f"{switch.socket}, the socket of its PCIe switch "
                                    f"pcie_switches[{s}]")
                on_switch.add(nic)
        if self.gpus and len(seen) != len(self.gpus):
            missing = sorted(set(range(len(self.gpus))) - set(seen))
            raise SpecError("ServerSpec", "pcie_switches", missing,
                            "every GPU on a switch (these GPUs are on none)")

    # Derived figures -------------------------------------------------------------------------
    @property
    def cores(self) -> int:
        return sum(s.cores for s in self.sockets)

    @property
    def mem_capacity_bytes(self) -> int:
        return sum(s.mem_capacity_bytes for s in self.sockets)

    @property
    def mem_bw_bytes_per_s(self) -> float:
        return sum(s.mem_bw_bytes_per_s for s in self.sockets)

    @property
    def hbm_capacity_bytes(self) -> int:
        return sum(g.hbm_capacity_bytes for g in self.gpus)

    @property
    def network_bw_bytes_per_s(self) -> float:
        return sum(n.link.bw_bytes_per_s for n in self.nics)

    @property
    def has_gpu_links(self) -> bool:
        return any(any(row) for row in self.nvlink_links)

    def socket_nics(self, socket: int) -> tuple[int, ...]:
        """The NICs that may carry a socket's messages: those on it, else all (none without
        NICs)."""
        local = tuple(k for k, nic in enumerate(self.nics) if nic.socket == socket)
        return local or tuple(range(len(self.nics)))

    def gpu_switch(self, gpu: int) -> int:
        """Index of the PCIe switch that serves `gpu`."""
        for s, switch in enumerate(self.pcie_switches):
            if gpu in switch.gpus:
                return s
        raise IndexError(f"GPU {gpu} is on no PCIe switch of {self.name}")

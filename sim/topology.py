"""A server spec becomes channels (cores, memory, GPUs, HBM, NVLink, PCIe, sockets' links, NICs)
and routes between any two of its endpoints; servers meet through a non-blocking network fabric.

Endpoints are `("host", socket)` and `("gpu", index)`. Routes, by the paths the hardware offers:
- GPU to GPU over NVLink when the pair has links (capacity = link count x per-link rate);
  otherwise peer-to-peer through their PCIe switch when they share one; otherwise up through
  both switches and a buffer in the receiver's host memory (written, then read back out: two
  bytes of memory traffic per byte), crossing the inter-socket link when the switches hang off
  different sockets. Such staged traffic also crosses a staging channel per switch (kind
  "host_staged", not a PCIe link of its own), shared by both directions at a share of the
  uplink (EfficiencySpec.host_staged_efficiency): measured, host-staged GPU traffic does not
  run full duplex. A server with no GPU-to-GPU links (the Zion prototype) thus sends all GPU
  traffic through PCIe and host memory.
- Host to GPU: host memory (read once), the inter-socket link if the GPU's switch is on another
  socket, the switch's uplink and the GPU's downlink; GPU to host the same way back (written
  once). Host to host: read on one socket's memory, across the link, written on the other's.
- Server to server: the sender's host memory to its NIC, the fabric, the receiver's NIC to its
  host memory; a GPU's bytes are staged through a buffer in host memory on the NIC's socket
  (written and read back out, as between GPUs). The fabric itself never limits (a
  full-bisection switch, as the paper's setups assume); the NICs do.
PCIe and NIC channels are per direction, as the links are full duplex.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.costs.base import COPY_TRAFFIC_PER_BYTE
from sim.engine import Channel
from sim.specs import ServerSpec

Endpoint = tuple[str, int]  # ("host", socket) or ("gpu", index)
# A GPU is one channel of 1 GPU-second per second: concurrent kernels share it.
GPU_SECONDS_PER_S = 1.0


@dataclass(frozen=True)
class Route:
    """The channels a transfer crosses, the sum of their one-way latencies, and the bytes each
    channel carries per byte moved (`per_byte`, in the channels' order; empty: one each).

    A channel appears once in a route, as in a flow (the engine refuses one twice): a buffer
    the bytes are written into and read back out of is one memory channel that carries two
    bytes per byte. Raises ValueError when `per_byte` is neither empty nor one per channel.
    """

    channels: tuple[Channel, ...]
    latency_s: float = 0.0
    per_byte: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.per_byte and len(self.per_byte) != len(self.channels):
            raise ValueError(f"Route: per_byte needs one factor per channel, got "
                             f"{len(self.per_byte)} for {len(self.channels)}")

    def factors(self) -> tuple[float, ...]:
        """Bytes each channel carries per byte moved, in the channels' order."""
        return self.per_byte or (1.0,) * len(self.channels)

    def __add__(self, other: Route) -> Route:
        per_byte = self.factors() + other.factors() if self.per_byte or other.per_byte else ()
        return Route(self.channels + other.channels, self.latency_s + other.latency_s, per_byte)

    def demands(self, nbytes: float) -> list[tuple[Channel, float]]:
        # 1.0 x nbytes is nbytes exactly: routes without factors give the same amounts as ever.
        return [(c, f * nbytes) for c, f in zip(self.channels, self.factors(), strict=True)]


@dataclass(eq=False)
class ServerResources:
    """The channels of one server of a cluster, named `<server>.<part>`, and its routes.

    Raises ValueError for an endpoint the server does not have.
    """

    name: str
    role: str
    spec: ServerSpec
    cpu: list[Channel] = field(default_factory=list)
    mem: list[Channel] = field(default_factory=list)
    gpu: list[Channel] = field(default_factory=list)
    hbm: list[Channel] = field(default_factory=list)
    nic_tx: list[Channel] = field(default_factory=list)
    nic_rx: list[Channel] = field(default_factory=list)
    _links: dict[str, Channel] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, name: str, role: str, spec: ServerSpec) -> ServerResources:
        res = cls(name, role, spec)
        for s, sock in enumerate(spec.sockets):
            res.cpu.append(Channel(f"{name}.cpu{s}", float(sock.cores), "cpu", name))
            res.mem.append(Channel(f"{name}.mem{s}", sock.mem_bw_bytes_per_s, "memory_bw", name))
        for g, gpu in enumerate(spec.gpus):
            res.gpu.append(Channel(f"{name}.gpu{g}", GPU_SECONDS_PER_S, "gpu", name))
            res.hbm.append(Channel(f"{name}.hbm{g}", gpu.hbm_bw_bytes_per_s, "hbm", name))
        for k, nic in enumerate(spec.nics):
            res.nic_tx.append(Channel(f"{name}.nic{k}.tx", nic.link.bw_bytes_per_s, "network", name))
            res.nic_rx.append(Channel(f"{name}.nic{k}.rx", nic.link.bw_bytes_per_s, "network", name))
        # Every link a route can cross, made now rather than on first use: a role's busy
        # fraction of a class averages over all its servers' links of that class, the idle ones
        # too, and a class a server has is reported even when nothing crossed it.
        ends = [*(("host", s) for s in range(len(spec.sockets))),
                *(("gpu", g) for g in range(len(spec.gpus)))]
        for src in ends:
            for dst in ends:
                res.route(src, dst)
        return res

    def channels(self) -> list[Channel]:
        """Every channel of the server, in a stable order."""
        fixed = [*self.cpu, *self.mem, *self.gpu, *self.hbm, *self.nic_tx, *self.nic_rx]
        return fixed + [self._links[k] for k in sorted(self._links)]

    # Links, made by `build` through the routes -----------------------------------------------
    def _link(self, key: str, capacity: float, kind: str) -> Channel:
        if key not in self._links:
            self._links[key] = Channel(f"{self.name}.{key}", capacity, kind, self.name)
        return self._links[key]

    def _xsock(self, a: int, b: int) -> Route:
        if a == b:
            return Route(())
        link = self.spec.inter_socket
        assert link is not None  # ServerSpec requires it with 2+ sockets
        return Route((self._link(f"upi{a}-{b}", link.bw_bytes_per_s, "inter_socket"),),
                     link.latency_s)

    def _nvlink(self, a: int, b: int) -> Route | None:
        links = self.spec.nvlink_links
        if not links or not links[a][b] or self.spec.nvlink is None:
            return None
        rate = links[a][b] * self.spec.nvlink.bw_bytes_per_s
        return Route((self._link(f"nvlink{a}-{b}", rate, "nvlink"),), self.spec.nvlink.latency_s)

    def _switch_hops(self, gpu: int, toward_gpu: bool) -> tuple[int, Route]:
        """(socket, route) between a GPU and its switch's socket, in the given direction."""
        s = self.spec.gpu_switch(gpu)
        switch = self.spec.pcie_switches[s]
        way = "h2d" if toward_gpu else "d2h"
        up = self._link(f"pcie_sw{s}.up.{way}", switch.uplink.bw_bytes_per_s, "pcie")
        down = self._link(f"pcie_gpu{gpu}.{way}", switch.downlink.bw_bytes_per_s, "pcie")
        hops = (up, down) if toward_gpu else (down, up)
        return switch.socket, Route(hops, switch.uplink.latency_s + switch.downlink.latency_s)

    # Routes ------------------------------------------------------------------------------
    def route(self, src: Endpoint, dst: Endpoint) -> Route:
        """The path from `src` to `dst` inside this server."""
        self._check(src)
        self._check(dst)
        if src == dst:
            return Route(())
        if src[0] == "gpu" and dst[0] == "gpu":
            return self._gpu_to_gpu(src[1], dst[1])
        if src[0] == "host" and dst[0] == "host":  # read on one socket, written on the other
            return (Route((self.mem[src[1]],)) + self._xsock(src[1], dst[1])
                    + Route((self.mem[dst[1]],)))
        if src[0] == "host":
            sock, hops = self._switch_hops(dst[1], toward_gpu=True)
            return Route((self.mem[src[1]],)) + self._xsock(src[1], sock) + hops
        sock, hops = self._switch_hops(src[1], toward_gpu=False)
        return hops + self._xsock(sock, dst[1]) + Route((self.mem[dst[1]],))

    def _gpu_to_gpu(self, a: int, b: int) -> Route:
        direct = self._nvlink(a, b)
        if direct is not None:
            return direct
        sa, sb = self.spec.gpu_switch(a), self.spec.gpu_switch(b)
        if sa == sb:  # peer to peer inside the switch, no uplink
            switch = self.spec.pcie_switches[sa]
            bw, lat = switch.downlink.bw_bytes_per_s, switch.downlink.latency_s
            return Route((self._link(f"pcie_gpu{a}.d2h", bw, "pcie"),
                          self._link(f"pcie_gpu{b}.h2d", bw, "pcie")), 2 * lat)
        sock_a, up = self._switch_hops(a, toward_gpu=False)
        sock_b, down = self._switch_hops(b, toward_gpu=True)
        staged = Route((self._staging(sa), self._staging(sb)))
        # The buffer is the receiver's: NCCL's shared-memory transport allocates it in the
        # receiving rank's segment (shmRecvSetup in NVIDIA/nccl src/transport/shm.cc; later
        # releases keep that as the default, NCCL_SHM_LOCALITY=2). The sending GPU writes across
        # the inter-socket link, the receiving GPU reads it from its own socket's memory.
        return up + staged + self._xsock(sock_a, sock_b) + self._bounce(sock_b) + down

    def _staging(self, switch: int) -> Channel:
        """What a switch's uplink passes of GPU-to-GPU traffic staged through host memory,
        both directions together (EfficiencySpec.host_staged_efficiency). Its own kind: the
        bytes also cross the uplinks, so averaging it with the PCIe links would count them
        twice, on a channel that is no link."""
        rate = (self.spec.pcie_switches[switch].uplink.bw_bytes_per_s
                * self.spec.efficiency.host_staged_efficiency)
        return self._link(f"pcie_sw{switch}.staged", rate, "host_staged")

    def _bounce(self, socket: int) -> Route:
        """A buffer in a socket's memory that the bytes are written into and read back out of:
        a copy's memory traffic per byte (COPY_TRAFFIC_PER_BYTE)."""
        return Route((self.mem[socket],), per_byte=(COPY_TRAFFIC_PER_BYTE,))

    def nic_for(self, endpoint: Endpoint, spread: int = 0) -> int:
        """The NIC that serves an endpoint: the `spread`-th (cyclically) of its nic_pool."""
        pool = self.nic_pool(endpoint)
        return pool[spread % len(pool)]

    def nic_pool(self, endpoint: Endpoint) -> tuple[int, ...]:
        """The NICs that may serve an endpoint: those on the GPU's switch, else those on its
        socket (the GPU's switch's socket for a GPU), else all."""
        if not self.spec.nics:
            raise ValueError(f"{self.spec.name} has no NIC; a job that crosses servers needs one")
        if endpoint[0] == "gpu":
            on_switch = self.spec.pcie_switches[self.spec.gpu_switch(endpoint[1])].nics
            if on_switch:
                return tuple(on_switch)
            socket = self.spec.pcie_switches[self.spec.gpu_switch(endpoint[1])].socket
        else:
            socket = endpoint[1]
        return self.spec.socket_nics(socket)

    def to_nic(self, endpoint: Endpoint, nic: int, *, sending: bool) -> Route:
        """Host memory (on the NIC's side of the sockets) to the NIC's wire, or back."""
        self._check(endpoint)
        spec = self.spec.nics[nic]
        host_socket = endpoint[1] if endpoint[0] == "host" else spec.socket
        wire = self.nic_tx[nic] if sending else self.nic_rx[nic]
        # The inter-socket link is full duplex (a channel per direction): cross it the way the
        # bytes go, from memory toward the NIC when sending, from the NIC toward memory when not.
        inner = (Route((self.mem[host_socket],)) + self._xsock(host_socket, spec.socket)
                 if sending else
                 self._xsock(spec.socket, host_socket) + Route((self.mem[host_socket],)))
        if endpoint[0] == "gpu":  # staged through host memory (no GPUDirect in the paper's setups)
            sock, hops = self._switch_hops(endpoint[1], toward_gpu=not sending)
            inner = (hops + self._xsock(sock, spec.socket) + self._bounce(spec.socket)
                     if sending else
                     self._bounce(spec.socket) + self._xsock(spec.socket, sock) + hops)
        # A NIC behind a PCIe switch (Big Basin's, Zion's) reaches host memory over the switch's
        # uplink, which it shares with the switch's GPUs.
        inner = (inner + self._nic_switch_hop(nic, sending) if sending
                 else self._nic_switch_hop(nic, sending) + inner)
        # The link's latency is the network's one-way latency (the presets' sources say so):
        # a message pays it once, on the way out, not again at the receiving NIC.
        return (inner + Route((wire,), spec.link.latency_s) if sending
                else Route((wire,)) + inner)

    def _nic_switch_hop(self, nic: int, sending: bool) -> Route:
        """The switch uplink between host memory and a NIC on a PCIe switch (none for a NIC on
        the socket itself), in the direction the bytes go."""
        for s, switch in enumerate(self.spec.pcie_switches):
            if nic in switch.nics:
                way = "h2d" if sending else "d2h"
                up = self._link(f"pcie_sw{s}.up.{way}", switch.uplink.bw_bytes_per_s, "pcie")
                return Route((up,), switch.uplink.latency_s)
        return Route(())

    def _check(self, endpoint: Endpoint) -> None:
        kind, index = endpoint
        count = {"host": len(self.spec.sockets), "gpu": len(self.spec.gpus)}.get(kind, 0)
        if not 0 <= index < count:
            raise ValueError(f"{self.name} has no endpoint {endpoint}")


def network_route(src: ServerResources, src_end: Endpoint, dst: ServerResources,
                  dst_end: Endpoint, spread: int = 0, *, src_nic: int | None = None,
                  dst_nic: int | None = None) -> Route:
    """From an endpoint of one server to one of another, NIC to NIC through the fabric; each
    side's NIC is the one given, else nic_for(endpoint, spread)."""
    tx = src.nic_for(src_end, spread) if src_nic is None else src_nic
    rx = dst.nic_for(dst_end, spread) if dst_nic is None else dst_nic
    return src.to_nic(src_end, tx, sending=True) + dst.to_nic(dst_end, rx, sending=False)


def route_between(src: ServerResources, src_end: Endpoint, dst: ServerResources,
                  dst_end: Endpoint, spread: int = 0) -> Route:
    """Inside one server, or across the network between two."""
    if src is dst:
        return src.route(src_end, dst_end)
    return network_route(src, src_end, dst, dst_end, spread)

"""A channel (a shared capacity), its virtual clock, and the flows that cross it: the state
`FluidNetwork` (sim/engine/fluid.py, whose docstring explains the method) keeps per channel and
per flow."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import simpy


@dataclass(eq=False)
class Channel:
    """A shared capacity: `capacity` units per second divided equally among active flows.

    `kind` is the resource class used in reports (cpu, memory_bw, network, pcie, nvlink, gpu,
    hbm, inter_socket, host_staged) and `owner` the server that holds it. A channel serves one `FluidNetwork`.
    Raises ValueError on capacity <= 0.
    """

    name: str
    capacity: float
    kind: str
    owner: str = ""
    # Units delivered so far (bytes, core-seconds, GPU-seconds): up to date for finished flows,
    # and for active ones as of the last `settle` (each flow is credited once, when it ends).
    units: float = 0.0
    busy_s: float = 0.0  # time with at least one active flow
    # Active flows by id, with each one's amount here (its weight on this channel).
    flows: dict[int, tuple[Flow, float]] = field(default_factory=dict, repr=False)
    _busy_since: float = field(default=0.0, repr=False)
    _sharing: Sharing = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.capacity, int | float) and math.isfinite(self.capacity)
                and self.capacity > 0):
            raise ValueError(f"Channel {self.name}: capacity must be a finite number > 0, "
                             f"got {self.capacity!r}")
        self._sharing = Sharing(self)


class Sharing:
    """A channel's virtual clock and the flows it binds (see the module's docstring)."""

    __slots__ = (
        "binders",
        "cap_floor",
        "capped_peak",
        "channel",
        "key",
        "members",
        "peak",
        "reach",
        "tags",
        "version",
        "vtime",
        "vtime_at",
    )

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.key = -1  # a serial number in its network, given at first use
        self.vtime = 0.0  # units delivered to each flow here, as of `vtime_at`
        self.vtime_at = 0.0
        self.members: dict[int, Flow] = {}  # flows bound here, by id
        self.tags: list[tuple[float, int, int]] = []  # (virtual finish, flow id, version)
        # Other channels of the bound flows: key -> [sharing, flows, max weight there / here].
        self.reach: dict[int, list[Any]] = {}
        self.binders: dict[int, Sharing] = {}  # channels binding some flow that crosses this
        self.peak = 0.0  # >= rate x weight here of every active flow not bound here
        self.capped_peak = 0.0  # >= max_rate x weight here of every flow held by its cap
        self.cap_floor = math.inf  # <= max_rate x weight here of every bound flow
        self.version = 0  # of this channel's entry in the event heap

    def share(self) -> float:
        """Units per second each flow here may take: capacity over the active flows."""
        return self.channel.capacity / len(self.channel.flows)

    def vtime_now(self, now: float) -> float:
        """The virtual clock at `now`, the flow count unchanged since `vtime_at`."""
        count = len(self.channel.flows)
        if not count:
            return self.vtime
        return self.vtime + self.channel.capacity / count * (now - self.vtime_at)

    def catch_up(self, now: float) -> None:
        """Bring the clock to `now`; call before the flow count changes."""
        self.vtime = self.vtime_now(now)
        self.vtime_at = now


class Flow:
    """One transfer or kernel: its amount per channel, its cap, and where its rate comes from."""

    __slots__ = (
        "clock",
        "credited",
        "demands",
        "event",
        "fid",
        "max_rate",
        "tag",
        "version",
        "weight",
    )

    def __init__(self, fid: int, demands: tuple[tuple[Channel, float], ...], max_rate: float,
                 event: simpy.Event) -> None:
        self.fid = fid
        self.demands = demands
        self.max_rate = max_rate
        self.event = event
        self.clock: Sharing | None = None  # the binding channel; None: held by max_rate
        self.weight = 0.0  # the amount on the binding channel
        self.tag = 0.0  # finish: on the binding channel's clock, or in seconds if capped
        self.credited = 0.0  # fraction of the flow already added to its channels' units
        self.version = 0  # of its entries in the heaps; a rebinding makes old ones stale

    def rate(self) -> float:
        """Fraction of the flow per second now."""
        clock = self.clock
        if clock is None:
            return self.max_rate
        channel = clock.channel
        return channel.capacity / (len(channel.flows) * self.weight)

    def credit(self, fraction: float) -> None:
        """Add the flow's progress up to `fraction` (of 1) to its channels' units."""
        step = fraction - self.credited
        if step > 0:
            for channel, weight in self.demands:
                channel.units += weight * step
            self.credited = fraction

    def tightest(self) -> tuple[Sharing | None, float]:
        """The channel that sets the flow's rate and the flow's weight there, or (None, 0)
        when its cap does. Ties keep the current binding: a move needs a strictly lower rate."""
        best, best_weight = self.clock, self.weight
        rate = self.rate()
        if self.max_rate < rate:
            best, best_weight, rate = None, 0.0, self.max_rate
        for channel, weight in self.demands:
            share = channel.capacity / (len(channel.flows) * weight)
            if share < rate:
                best, best_weight, rate = channel._sharing, weight, share
        return best, best_weight

    def remaining(self, now: float) -> float:
        """Fraction of the flow still to move at `now`."""
        clock = self.clock
        if clock is None:
            return max(0.0, (self.tag - now) * self.max_rate)
        return max(0.0, (self.tag - clock.vtime_now(now)) / self.weight)

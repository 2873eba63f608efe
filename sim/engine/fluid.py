"""Processor sharing of links, memory channels, cores and GPU time among concurrent flows.

A `Channel` is a shared capacity in units per second: bytes/s for links and memory, core-seconds
per second for a CPU socket, GPU-seconds per second for a GPU. A flow is one transfer or kernel;
it asks each channel on its route for an amount (its weight there) and finishes when all of them
are delivered together. Its progress rate (fraction of the flow per second) is

    rate = min(max_rate, min over its channels c of capacity_c / (n_c * weight_c))

where n_c counts the flows active on c: every channel splits its capacity equally among its flows
and a flow moves at its tightest share. This is the equal-share approximation of max-min
fairness: exact for one flow alone (weight / capacity) and for equal flows (n times as long),
never over capacity, but it does not hand a flow's unused share to the others (progressive
filling would). The win is locality: a flow arriving or leaving changes the rates only of the
flows that share a channel with it, so the work per event is small and the event count per
iteration grows with the flows, not with their product.

Updates are incremental and give the same rates, bit for bit, as recomputing every neighbour's
minimum: an arrival can only lower shares (a neighbour's rate falls to its new share there), a
departure raises only the flows that the channel held (their rate equalled their old share
there), and a channel whose equal share stays above every flow's demand rate is not scanned.
What remains per event is proportional to the flows held by the channels that changed: the
exact cost of processor sharing, which re-times every flow whose share moved.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import simpy

# A finish time within this relative distance of the clock counts as now: rates and remainders
# are floats, and a flow must not linger for a 1e-18 s crumb.
_REL_EPS = 1e-12
# Margins of the per-channel filter below, far above float rounding (1e-16) so that it never
# skips a channel where the full test would act.
_ABOVE, _BELOW = 1.0 + 1e-9, 1.0 - 1e-9


@dataclass(eq=False)
class Channel:
    """A shared capacity: `capacity` units per second divided equally among active flows.

    `kind` is the resource class used in reports (cpu, memory_bw, network, pcie, nvlink, gpu,
    inter_socket) and `owner` the server that holds it. Raises ValueError on capacity <= 0.
    """

    name: str
    capacity: float
    kind: str
    owner: str = ""
    # Units delivered so far (bytes, core-seconds, GPU-seconds): up to date for finished flows,
    # and for active ones as of the last `settle` (crediting every rate change would cost a
    # pass over the flow's channels each time, the hot path of a busy channel).
    units: float = 0.0
    busy_s: float = 0.0  # time with at least one active flow
    # Active flows by id, with each one's amount here (its weight on this channel).
    flows: dict[int, tuple[_Flow, float]] = field(default_factory=dict, repr=False)
    _busy_since: float = field(default=0.0, repr=False)
    # An upper bound of rate x weight (units per second) over the active flows. When the equal
    # share capacity / n is above it, no flow here is held by this channel, so a change of n
    # changes no rate: the scan of the channel's flows can be skipped.
    _peak: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.capacity, int | float) and math.isfinite(self.capacity)
                and self.capacity > 0):
            raise ValueError(f"Channel {self.name}: capacity must be a finite number > 0, "
                             f"got {self.capacity!r}")


@dataclass(eq=False)
class _Flow:
    fid: int
    demands: tuple[tuple[Channel, float], ...]
    max_rate: float
    event: simpy.Event
    remaining: float = 1.0  # fraction of the flow still to move
    rate: float = 0.0
    since: float = 0.0  # clock of the last update of `remaining`
    credited: float = 0.0  # fraction of the flow already added to its channels' units
    version: int = 0


class FluidNetwork:
    """Runs flows over channels in a SimPy environment; `transfer` returns an event to yield.

    Raises ValueError for a negative amount or a channel listed twice in one flow.
    """

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self._flows: dict[int, _Flow] = {}
        self._heap: list[tuple[float, int, int]] = []  # (finish time, flow id, version)
        self._next_id = 0
        self._wake_at = math.inf
        # Only the latest wake-up counts: an earlier one superseded by a sooner finish still
        # fires, and must not start a second chain of wake-ups (each would re-arm itself).
        self._wake: simpy.Event | None = None
        self.flows_started = 0
        self.wakeups = 0

    # Public ------------------------------------------------------------------------------
    def transfer(self, demands: Sequence[tuple[Channel, float]], *,
                 max_rate: float = math.inf) -> simpy.Event:
        """Start a flow now; the event fires when every channel has delivered its amount.

        `max_rate` bounds progress (flows per second): a kernel of t seconds alone passes
        1 / t, so that it never runs faster than it would on an idle machine.
        """
        live = self._check(demands)
        event = self.env.event()
        if not live:
            event.succeed()
            return event
        if max_rate <= 0:
            raise ValueError(f"max_rate must be > 0, got {max_rate!r}")
        flow = _Flow(self._next_id, live, max_rate, event, since=self.env.now)
        self._next_id += 1
        self.flows_started += 1
        self._flows[flow.fid] = flow
        for channel, weight in live:
            if not channel.flows:
                channel._busy_since = self.env.now
            channel.flows[flow.fid] = (flow, weight)
        self._arrived(flow)
        return event

    def run_for(self, seconds: float, max_rate_channel: Channel, units: float = 1.0
                ) -> simpy.Event:
        """A task of `seconds` alone that holds `units` of one channel (e.g. cores) meanwhile."""
        if seconds <= 0:
            return self.transfer(())
        return self.transfer(((max_rate_channel, units * seconds),), max_rate=1.0 / seconds)

    def settle(self) -> None:
        """Bring every channel's delivered units and busy time up to the clock (for reports)."""
        now = self.env.now
        for flow in self._flows.values():
            self._advance(flow, now)
            self._credit(flow, 1.0 - flow.remaining)
        for channel in self._channels():
            if channel.flows:
                channel.busy_s += now - channel._busy_since
                channel._busy_since = now

    @property
    def active_flows(self) -> int:
        return len(self._flows)

    # Internals ---------------------------------------------------------------------------
    @staticmethod
    def _check(demands: Sequence[tuple[Channel, float]]) -> tuple[tuple[Channel, float], ...]:
        for channel, amount in demands:
            if not 0 <= amount < math.inf:  # also refuses NaN
                raise ValueError(f"flow amount on {channel.name} must be finite and >= 0, "
                                 f"got {amount!r}")
        if len({id(channel) for channel, _ in demands}) < len(demands):
            names = [channel.name for channel, _ in demands]
            twice = next(n for n in names if names.count(n) > 1)
            raise ValueError(f"channel {twice} appears twice in one flow; sum its amounts")
        return tuple((channel, float(amount)) for channel, amount in demands if amount > 0)

    def _channels(self) -> list[Channel]:
        found: dict[int, Channel] = {}
        for flow in self._flows.values():
            for channel, _ in flow.demands:
                found[id(channel)] = channel
        return list(found.values())

    @staticmethod
    def _advance(flow: _Flow, now: float) -> None:
        elapsed = now - flow.since
        if elapsed > 0 and flow.rate > 0:
            flow.remaining -= min(flow.remaining, flow.rate * elapsed)
        flow.since = now

    @staticmethod
    def _credit(flow: _Flow, fraction: float) -> None:
        """Add the flow's progress up to `fraction` (of 1) to its channels' units."""
        step = fraction - flow.credited
        if step > 0:
            for channel, weight in flow.demands:
                channel.units += weight * step
            flow.credited = fraction

    @staticmethod
    def _share(flow: _Flow) -> float:
        """The flow's rate from scratch: its tightest equal share, or its cap."""
        rate = flow.max_rate
        for channel, weight in flow.demands:
            share = channel.capacity / (len(channel.flows) * weight)
            if share < rate:
                rate = share
        return rate

    def _set_rate(self, flow: _Flow, rate: float, now: float) -> None:
        if rate == flow.rate:  # its finish time in the heap still holds
            return
        self._advance(flow, now)
        flow.rate = rate
        flow.version += 1
        heapq.heappush(self._heap, (now + flow.remaining / rate, flow.fid, flow.version))

    def _arrived(self, new: _Flow) -> None:
        """Rates after `new` joined its channels. Only the shares on those channels shrank, so
        a neighbour's rate can only fall, to its new share there: no full recomputation. The
        result equals recomputing every neighbour's minimum, bit for bit (min is exact)."""
        lowered: dict[int, float] = {}
        others: dict[int, _Flow] = {}
        for channel, _ in new.demands:
            flows = channel.flows
            count, capacity = len(flows), channel.capacity
            if capacity / count > channel._peak * _ABOVE:
                continue
            peak = 0.0
            for fid, (other, weight) in flows.items():
                share = capacity / (count * weight)
                rate = other.rate
                if share < rate:
                    rate = share
                    if share < lowered.get(fid, math.inf):
                        lowered[fid] = share
                        others[fid] = other
                peak = max(peak, rate * weight)
            channel._peak = peak  # rates only fall here: still a bound, and a tight one
        now = self.env.now
        for fid, share in lowered.items():
            self._set_rate(others[fid], share, now)
        self._set_rate(new, self._share(new), now)
        self._raise_peaks(new)
        self._schedule()

    @staticmethod
    def _raise_peaks(flow: _Flow) -> None:
        for channel, weight in flow.demands:
            if flow.rate * weight > channel._peak:
                channel._peak = flow.rate * weight

    def _departed(self, counts: list[tuple[Channel, int]], now: float) -> None:
        """Rates after flows left; `counts` holds each channel they left with its flow count
        before. A neighbour speeds up only if one of those channels bound it (its rate equals
        its old share there), so only such flows are recomputed."""
        raised: dict[int, _Flow] = {}
        for channel, before in counts:
            capacity = channel.capacity
            if channel._peak < capacity / before * _BELOW:  # it held none of them
                continue
            for fid, (other, weight) in channel.flows.items():
                if fid not in raised and other.rate >= capacity / (before * weight):
                    raised[fid] = other
        for other in raised.values():
            rate = self._share(other)
            if rate != other.rate:  # then higher: its peaks must follow
                self._set_rate(other, rate, now)
                self._raise_peaks(other)
        self._schedule()

    def _schedule(self) -> None:
        while self._heap and self._stale(self._heap[0]):
            heapq.heappop(self._heap)
        if not self._heap:
            return
        when = self._heap[0][0]
        if when < self._wake_at:
            self._wake_at = when
            wake = self.env.timeout(max(0.0, when - self.env.now))
            wake.callbacks.append(self._on_wake)
            self._wake = wake

    def _stale(self, entry: tuple[float, int, int]) -> bool:
        flow = self._flows.get(entry[1])
        return flow is None or flow.version != entry[2]

    def _on_wake(self, event: simpy.Event) -> None:
        if event is not self._wake:
            return
        self.wakeups += 1
        now = self.env.now
        self._wake_at = math.inf
        self._wake = None
        finished: list[_Flow] = []
        while self._heap and (self._stale(self._heap[0])
                              or self._heap[0][0] <= now + _REL_EPS * max(1.0, now)):
            entry = heapq.heappop(self._heap)
            if not self._stale(entry):
                finished.append(self._flows[entry[1]])
        counts: dict[int, tuple[Channel, int]] = {}
        for flow in finished:
            for channel, _ in flow.demands:
                counts.setdefault(id(channel), (channel, len(channel.flows)))
        for flow in finished:
            self._finish(flow, now)
        self._departed(list(counts.values()), now)
        for flow in finished:
            flow.event.succeed()

    def _finish(self, flow: _Flow, now: float) -> None:
        self._credit(flow, 1.0)  # all of it: no float crumb is lost to rounding
        for channel, _ in flow.demands:
            del channel.flows[flow.fid]
            if not channel.flows:
                channel.busy_s += now - channel._busy_since
                channel._peak = 0.0
        flow.remaining = 0.0
        del self._flows[flow.fid]

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
filling would).

Virtual time keeps the cost of an event independent of how crowded a channel is. Each flow is
*bound* to the channel that sets its rate (or to its own `max_rate`). All flows bound to a
channel move the same units per second there, capacity / n, so the channel keeps one virtual
clock, the units delivered to each of its flows so far, and each bound flow finishes when that
clock reaches its tag. A flow arriving or leaving changes n on its channels; the flows bound
there slow down or speed up with the clock, untouched, and only the channel's next finish is
re-timed. What still needs a look at single flows is a change of binding:
- an arrival lowers a channel's share, and a flow bound elsewhere may now be held here. Each
  channel keeps an upper bound (`peak`) of what the flows it does not bind ask of it per second;
  while its share stays above, none can be, and its flows are not scanned. Below it, a tighter
  bound comes from the channels that bind those flows (their shares now, their `reach` ratios
  below) before any flow is looked at;
- a departure raises a channel's share, and a flow bound here may now be held by another of its
  channels or by its cap. Each channel keeps, for the other channels its bound flows cross, the
  largest ratio of their weights there to here (`reach`), and the smallest cap of a bound flow
  (`cap_floor`); while the raised share stays below them, no flow moves.
The bounds are loose only upward (or downward for `cap_floor`), so a filter never skips a flow
that the full test would move; a scan re-tightens them. Rates are exactly the formula above;
finish times agree with a full recomputation at every event to float rounding.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

import simpy

from sim.engine.channel import Channel, Flow, Sharing

# A finish time within this relative distance of the clock counts as now: rates and remainders
# are floats, and a flow must not linger for a 1e-18 s crumb.
_REL_EPS = 1e-12
# Margins of the filters, far above float rounding (1e-16) so that they never skip a channel
# where the full test would act.
_ABOVE, _BELOW = 1.0 + 1e-9, 1.0 - 1e-9

# An entry of the network's event heap: (time, key, version, flow or channel). Flows have even
# keys and channels odd ones, so that no two live entries compare past the version.
_Entry = tuple[float, int, int, "Flow | Sharing"]


class FluidNetwork:
    """Runs flows over channels in a SimPy environment; `transfer` returns an event to yield.

    Raises ValueError for a negative amount or a channel listed twice in one flow.
    """

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self._flows: dict[int, Flow] = {}
        self._heap: list[_Entry] = []
        self._next_id = 0
        self._next_channel = 0
        self._wake_at = math.inf
        # Only the latest wake-up counts: an earlier one superseded by a sooner finish still
        # fires, and must not start a second chain of wake-ups (each would re-arm itself).
        self._wake: simpy.Event | None = None
        self.flows_started = 0
        self.demands_started = 0  # (flow, channel) pairs: the size of the work given
        self.wakeups = 0
        # The engine's per-flow work: flows looked at by a scan, and flows moved to another
        # binding. Processor sharing re-times every flow whose share moved at each event;
        # here a scan happens only when a binding may change (tests hold it to that).
        self.flows_scanned = 0
        self.rebinds = 0

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
        flow = Flow(self._next_id, live, max_rate, event)
        self._next_id += 1
        self.flows_started += 1
        self.demands_started += len(live)
        self._flows[flow.fid] = flow
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
            flow.credit(1.0 - flow.remaining(now))
        for channel in self._channels():
            if channel.flows:
                channel.busy_s += now - channel._busy_since
                channel._busy_since = now

    @property
    def active_flows(self) -> int:
        return len(self._flows)

    # Checks and bookkeeping --------------------------------------------------------------
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

    # Binding -----------------------------------------------------------------------------
    def _bind(self, flow: Flow, clock: Sharing | None, weight_here: float, now: float,
              remaining: float, dirty: dict[int, Sharing]) -> None:
        """Bind the flow to `clock` (where its amount is `weight_here`), or to its cap."""
        flow.version += 1
        flow.clock = clock
        if clock is None:
            flow.tag = now + remaining / flow.max_rate
            heapq.heappush(self._heap, (flow.tag, 2 * flow.fid, flow.version, flow))
            for channel, weight in flow.demands:
                sharing = channel._sharing
                load = flow.max_rate * weight
                if load > sharing.peak:
                    sharing.peak = load
                if load > sharing.capped_peak:
                    sharing.capped_peak = load
            return
        here = clock.channel
        flow.weight = weight_here
        flow.tag = clock.vtime_now(now) + remaining * weight_here
        clock.members[flow.fid] = flow
        heapq.heappush(clock.tags, (flow.tag, flow.fid, flow.version))
        rate = flow.rate()
        for channel, weight in flow.demands:
            if channel is here:
                continue
            other = channel._sharing
            entry = clock.reach.get(other.key)
            ratio = weight / weight_here
            if entry is None:
                clock.reach[other.key] = [other, 1, ratio]
                other.binders[clock.key] = clock
            else:
                entry[1] += 1
                if ratio > entry[2]:
                    entry[2] = ratio
            if rate * weight > other.peak:
                other.peak = rate * weight
        if flow.max_rate * weight_here < clock.cap_floor:
            clock.cap_floor = flow.max_rate * weight_here
        dirty[clock.key] = clock

    @staticmethod
    def _unbind(flow: Flow, dirty: dict[int, Sharing]) -> None:
        flow.version += 1  # its heap entries go stale
        clock = flow.clock
        if clock is None:
            return
        del clock.members[flow.fid]
        for channel, _ in flow.demands:
            other = channel._sharing
            if other is clock:
                continue
            entry = clock.reach[other.key]
            entry[1] -= 1
            if not entry[1]:
                del clock.reach[other.key]
                del other.binders[clock.key]
        if not clock.members:
            clock.tags.clear()
            clock.cap_floor = math.inf
        flow.clock = None
        dirty[clock.key] = clock

    def _rebind(self, flow: Flow, clock: Sharing | None, weight_here: float, now: float,
                dirty: dict[int, Sharing]) -> None:
        remaining = flow.remaining(now)
        self._unbind(flow, dirty)
        self._bind(flow, clock, weight_here, now, remaining, dirty)
        self.rebinds += 1

    # Arrival -----------------------------------------------------------------------------
    def _arrived(self, new: Flow) -> None:
        """Rates after `new` joined its channels: their shares fell. Flows bound there slow
        with the clocks; a flow bound elsewhere moves here if this share is now its tightest."""
        now = self.env.now
        for channel, weight in new.demands:
            sharing = channel._sharing
            if sharing.key < 0:
                sharing.key = self._next_channel
                self._next_channel += 1
            flows = channel.flows
            if flows:  # catch_up, inlined: this loop is the engine's hottest
                sharing.vtime += channel.capacity / len(flows) * (now - sharing.vtime_at)
            else:  # idle until now: _finish reset its clock and bounds
                channel._busy_since = now
            sharing.vtime_at = now
            flows[new.fid] = (new, weight)
        dirty: dict[int, Sharing] = {}
        for channel, _ in new.demands:
            sharing = channel._sharing
            if sharing.members:
                dirty[sharing.key] = sharing  # its bound flows slowed down: re-time its finish
            share = channel.capacity / len(channel.flows)
            if share < sharing.peak * _ABOVE and share < self._load_bound(sharing) * _ABOVE:
                self._pull(sharing, new, now, dirty)
        self._bind(new, *new.tightest(), now, 1.0, dirty)
        self._settle_dirty(dirty, now)

    @staticmethod
    def _load_bound(sharing: Sharing) -> float:
        """A bound of what the flows not bound here ask of this channel per second, from the
        channels that bind them (their shares now, their weight ratios) and the capped flows:
        tighter than `peak`, which only rises between scans, and it replaces it."""
        bound = sharing.capped_peak
        key = sharing.key
        for binder in sharing.binders.values():
            load = binder.channel.capacity / len(binder.channel.flows) * binder.reach[key][2]
            if load > bound:
                bound = load
        sharing.peak = bound
        return bound

    def _pull(self, sharing: Sharing, new: Flow, now: float,
              dirty: dict[int, Sharing]) -> None:
        """Bind here the flows whose tightest share this channel now is; re-tighten `peak`
        and the weight ratios that the binding channels keep for this one."""
        channel = sharing.channel
        count, capacity = len(channel.flows), channel.capacity
        self.flows_scanned += count - 1
        peak = capped_peak = 0.0
        ratios: dict[int, float] = {}
        for other, weight in channel.flows.values():
            if other is new or other.clock is sharing:
                continue
            rate = other.rate()
            share = capacity / (count * weight)
            if share < rate:
                self._rebind(other, sharing, weight, now, dirty)
                continue
            if rate * weight > peak:
                peak = rate * weight
            clock = other.clock
            if clock is None:
                capped_peak = max(capped_peak, rate * weight)
            else:
                ratio = weight / other.weight
                if ratio > ratios.get(clock.key, 0.0):
                    ratios[clock.key] = ratio
        sharing.peak, sharing.capped_peak = peak, capped_peak
        for key, binder in sharing.binders.items():
            if key in ratios:
                binder.reach[sharing.key][2] = ratios[key]

    # Departure ---------------------------------------------------------------------------
    def _push(self, sharing: Sharing, now: float, dirty: dict[int, Sharing]) -> None:
        """After flows left, this channel's share rose: a flow bound here moves to another of
        its channels, or to its cap, if that is now tighter. Filters first, then a scan."""
        share = sharing.share()
        scan = share > sharing.cap_floor * _BELOW
        for other, _, ratio in sharing.reach.values():
            load = share * ratio  # the most a bound flow now asks per second there
            if load > other.peak:
                other.peak = load
            if not scan and load > other.share() * _BELOW:
                scan = True
        if not scan:
            return
        self.flows_scanned += len(sharing.members)
        for flow in list(sharing.members.values()):
            clock, weight = flow.tightest()
            if clock is not sharing:
                self._rebind(flow, clock, weight, now, dirty)
        self._retighten(sharing)

    @staticmethod
    def _retighten(sharing: Sharing) -> None:
        """Exact weight ratios and cap floor over the flows still bound here."""
        here = sharing.channel
        ratios: dict[int, float] = {}
        floor = math.inf
        for flow in sharing.members.values():
            floor = min(floor, flow.max_rate * flow.weight)
            for channel, weight in flow.demands:
                if channel is not here:
                    key = channel._sharing.key
                    ratio = weight / flow.weight
                    if ratio > ratios.get(key, 0.0):
                        ratios[key] = ratio
        sharing.cap_floor = floor
        for key, entry in sharing.reach.items():
            entry[2] = ratios[key]

    def _on_wake(self, event: simpy.Event) -> None:
        if event is not self._wake:
            return
        self.wakeups += 1
        now = self.env.now
        self._wake_at = math.inf
        self._wake = None
        slack_s = _REL_EPS * max(1.0, now)
        dirty: dict[int, Sharing] = {}
        finished = self._due(now, slack_s, dirty)
        left: dict[int, Sharing] = {}
        for flow in finished:
            for channel, _ in flow.demands:
                sharing = channel._sharing
                if sharing.key not in left:
                    left[sharing.key] = sharing
                    if sharing.members:  # else no tag reads the clock
                        sharing.catch_up(now)  # at the old count
        for flow in finished:
            self._finish(flow, now, dirty)
        for sharing in left.values():
            if sharing.members:
                dirty[sharing.key] = sharing  # its bound flows sped up: re-time its finish
                self._push(sharing, now, dirty)
        self._settle_dirty(dirty, now)
        for flow in finished:
            flow.event.succeed()

    def _due(self, now: float, slack_s: float, dirty: dict[int, Sharing]) -> list[Flow]:
        """The flows that finish now, in order of arrival."""
        heap = self._heap
        finished: list[Flow] = []
        while heap and (self._stale(heap[0]) or heap[0][0] <= now + slack_s):
            entry = heapq.heappop(heap)
            if self._stale(entry):
                continue
            owner = entry[3]
            if isinstance(owner, Flow):
                finished.append(owner)
                continue
            dirty[owner.key] = owner  # its entry is spent: it gets a new one
            limit = owner.vtime_now(now) + owner.share() * slack_s
            tags = owner.tags
            while tags and (self._stale_tag(owner, tags[0]) or tags[0][0] <= limit):
                _, fid, version = heapq.heappop(tags)
                flow = owner.members.get(fid)
                if flow is not None and flow.version == version:
                    finished.append(flow)
        finished.sort(key=lambda flow: flow.fid)
        return finished

    def _finish(self, flow: Flow, now: float, dirty: dict[int, Sharing]) -> None:
        flow.credit(1.0)  # all of it: no float crumb is lost to rounding
        self._unbind(flow, dirty)
        for channel, _ in flow.demands:
            del channel.flows[flow.fid]
            if not channel.flows:
                channel.busy_s += now - channel._busy_since
                # Idle: restart its clock (no flow is bound here, so no tag reads it) and its
                # bounds. Its tags and cap floor were cleared when its last member left.
                sharing = channel._sharing
                sharing.vtime = sharing.peak = sharing.capped_peak = 0.0
        del self._flows[flow.fid]

    # The event heap ----------------------------------------------------------------------
    def _settle_dirty(self, dirty: dict[int, Sharing], now: float) -> None:
        """Re-time the next finish of every channel whose clock or bound flows changed."""
        for sharing in dirty.values():
            sharing.version += 1
            tags = sharing.tags
            while tags and self._stale_tag(sharing, tags[0]):
                heapq.heappop(tags)
            if tags and sharing.channel.flows:
                when = now + (tags[0][0] - sharing.vtime_now(now)) / sharing.share()
                heapq.heappush(self._heap, (when, 2 * sharing.key + 1, sharing.version, sharing))
        self._schedule()

    @staticmethod
    def _stale_tag(sharing: Sharing, entry: tuple[float, int, int]) -> bool:
        flow = sharing.members.get(entry[1])
        return flow is None or flow.version != entry[2]

    @staticmethod
    def _stale(entry: _Entry) -> bool:
        # A flow's version moves whenever it is bound, unbound or finished, a channel's
        # whenever its next finish is re-timed: an entry of either is live while it matches.
        return entry[3].version != entry[2]

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

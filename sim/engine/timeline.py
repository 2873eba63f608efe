"""A recorder of spans on the simulated clock, written as a Chrome / Perfetto trace.

Recording is off unless asked for, so a run pays nothing for it by default.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from sim.errors import DlrmsimInputError


@dataclass
class Timeline:
    """Spans (server, lane, name, start, end) in simulated seconds; `enabled` False records none.

    `write` raises DlrmsimInputError when the file cannot be written.
    """

    enabled: bool = False
    spans: list[tuple[str, str, str, float, float]] = field(default_factory=list)

    def span(self, server: str, lane: str, name: str, start_s: float, end_s: float) -> None:
        if self.enabled:
            self.spans.append((server, lane, name, start_s, end_s))

    def to_chrome(self) -> dict[str, object]:
        """The trace-event JSON object: one process per server, one thread per lane."""
        pids: dict[str, int] = {}
        tids: dict[tuple[str, str], int] = {}
        events: list[dict[str, object]] = []
        for server, lane, name, start, end in self.spans:
            pid = pids.setdefault(server, len(pids))
            tid = tids.setdefault((server, lane), len(tids))
            events.append({"name": name, "ph": "X", "pid": pid, "tid": tid,
                           "ts": start * 1e6, "dur": (end - start) * 1e6})
        for server, pid in pids.items():
            events.append({"name": "process_name", "ph": "M", "pid": pid,
                           "args": {"name": server}})
        for (server, lane), tid in tids.items():
            events.append({"name": "thread_name", "ph": "M", "pid": pids[server], "tid": tid,
                           "args": {"name": lane}})
        return {"traceEvents": events, "displayTimeUnit": "ms"}

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the trace whole or not at all (a temporary file renamed into place), so that
        an interrupted write leaves no half file, and an earlier trace there stays whole."""
        from traces.atomic import atomic_write_text  # sim/ needs traces/ only when it writes
        from traces.errors import TraceError

        try:
            atomic_write_text(path, json.dumps(self.to_chrome()))
        except TraceError as err:
            raise DlrmsimInputError(f"cannot write the Chrome trace: {err}; check the "
                                    "folder") from err

"""Starting the worker processes (collective ranks, the loopback TCP sink) so that Ctrl-C is the
parent's alone: a terminal sends SIGINT to the whole process group, and each spawned child
printed its own KeyboardInterrupt traceback before the parent's "interrupted". The parent stops
its children when it unwinds (terminate, or closing the sink's pipe)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable
from typing import Any


def start_ignoring_sigint(processes: Iterable[Any]) -> None:
    """Start `processes` (spawned) with SIGINT ignored in them from their first instruction: an
    ignored signal stays ignored across exec, and Python installs its KeyboardInterrupt handler
    only where SIGINT is at its default. A Ctrl-C during the milliseconds of the starts is lost;
    the next one stops the run. Only the main thread may change handlers: elsewhere the children
    start as they are."""
    if threading.current_thread() is not threading.main_thread():
        for process in processes:
            process.start()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for process in processes:
            process.start()
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)

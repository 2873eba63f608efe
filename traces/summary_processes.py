"""Counting a model's lookups in several processes: each process owns the streams of a group of
tables and draws their batches when asked. Every table has its own random stream, so the counts
do not depend on how the tables are grouped: same seed, same numbers.

The processes are forked, so that they start from the parent's streams where they stand (no
pickling, no re-import); where fork is unsafe or missing (another thread running, a daemonic
process, a platform without fork) nothing is forked and the caller counts alone.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from traces.generator import TableStream

Counts = tuple[np.ndarray, np.ndarray]  # lookups and distinct rows, int64 [batches, tables]
CountFn = Callable[[Sequence[TableStream], int, int], Counts]
JOIN_TIMEOUT_S = 5.0  # seconds a worker gets to exit once told to, before it is terminated


def available_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether forking now is safe: fork exists, this process may have children, and no other
    thread runs (a fork copies locks other threads may hold)."""
    return ("fork" in multiprocessing.get_all_start_methods()
            and not multiprocessing.current_process().daemon
            and threading.active_count() == 1)


def table_groups(expected_lookups: Sequence[float], count: int) -> list[list[int]]:
    """Table indices split into at most `count` groups of about equal expected lookups per
    batch (largest first onto the lightest group), each group in table order."""
    groups: list[list[int]] = [[] for _ in range(count)]
    totals = [0.0] * count
    for t in sorted(range(len(expected_lookups)), key=lambda t: (-expected_lookups[t], t)):
        g = min(range(count), key=lambda g: (totals[g], g))
        groups[g].append(t)
        totals[g] += expected_lookups[t]
    return [sorted(g) for g in groups if g]


class GroupWorker:
    """A forked process that counts the next batches of its streams when asked."""

    def __init__(self, streams: Sequence[TableStream], count: CountFn) -> None:
        context = multiprocessing.get_context("fork")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, streams, count), daemon=True)
        self._process.start()
        child.close()
        self._asked = 0  # requests whose answer has not been taken

    def ask(self, batches: int, batch_size: int) -> None:
        self._conn.send((batches, batch_size))
        self._asked += 1

    def answer(self) -> Counts:
        reply = self._conn.recv()
        self._asked -= 1
        if isinstance(reply, BaseException):
            raise reply
        counts: Counts = reply
        return counts

    def close(self) -> list[TableStream] | None:
        """Tell the worker to exit and wait for it. Returns its streams as they stand, so that
        the caller can go on drawing where the worker stopped; None if the worker has gone, was
        closed before, or still owes an answer (the caller's round was interrupted: the worker
        is stopped at once, and its streams are past what the caller counted)."""
        if self._conn.closed:
            return None
        streams = None
        if self._asked:
            self._process.terminate()
        else:
            with contextlib.suppress(OSError, EOFError):  # it has gone already
                self._conn.send(None)
                streams = self._conn.recv()
        self._process.join(JOIN_TIMEOUT_S)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
        self._conn.close()
        return streams


def _serve(conn: Connection, streams: Sequence[TableStream], count: CountFn) -> None:
    # Ctrl-C reaches the whole process group: the parent handles it and stops the workers,
    # which would otherwise die with a traceback each. They stop at once when terminated.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while (request := conn.recv()) is not None:
        batches, batch_size = request
        reply: Any
        try:
            reply = count(streams, batches, batch_size)
        except Exception as err:  # the parent raises it
            reply = err
        conn.send(reply)
    conn.send(list(streams))  # handed back on close
    conn.close()

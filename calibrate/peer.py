"""The network peer: parse `HOST:PORT`, check it answers, or start a loopback sink."""

from __future__ import annotations

import multiprocessing as mp
from dataclasses import dataclass
from typing import Any

from calibrate.errors import CalibrationError
from calibrate.kernels.children import start_ignoring_sigint
from calibrate.kernels.network import CONNECT_TIMEOUT_S, TcpSender, serve_loopback

SINK_START_TIMEOUT_S = 30.0  # seconds for the loopback sink process to report its port


def parse_peer(text: str) -> tuple[str, int]:
    """(host, port) from "HOST:PORT" (IPv6 as "[::1]:PORT"). Raises CalibrationError."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CalibrationError(f"--peer must look like HOST:PORT, got {text!r}")
    return host, int(port)


@dataclass
class PeerLink:
    """A connection to a sink (a remote `python -m calibrate serve`, or a loopback sink in a
    child process, so that it does not share this interpreter's lock with the sender), opened
    lazily and reused by every `network_tcp` point."""

    host: str
    port: int
    label: str
    process: Any = None
    pipe: Any = None  # the sink child exits when this end closes
    sender: TcpSender | None = None

    def connect(self) -> TcpSender:
        if self.sender is None:
            self.sender = TcpSender(self.host, self.port)
        return self.sender

    def close(self) -> None:
        if self.sender is not None:
            self.sender.close()
        if self.pipe is not None:
            self.pipe.close()
        if self.process is not None:
            self.process.terminate()
            self.process.join(timeout=10)


def _loopback() -> PeerLink:
    context = mp.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=serve_loopback, args=(child,), daemon=True)
    start_ignoring_sigint([process])
    if not parent.poll(SINK_START_TIMEOUT_S):
        process.terminate()
        raise CalibrationError("the loopback TCP sink did not start")
    return PeerLink("127.0.0.1", int(parent.recv()), "loopback (separate process)",
                    process=process, pipe=parent)


def open_peer(peer: str | None) -> PeerLink:
    """Check the peer answers a zero-byte message, or start a loopback sink when `peer` is None.

    Raises CalibrationError when the peer cannot be reached or answers wrongly.
    """
    if peer is None:
        return _loopback()
    host, port = parse_peer(peer)
    link = PeerLink(host, port, peer)
    try:
        link.connect().send(memoryview(b""))
    except OSError as err:
        link.close()
        raise CalibrationError(
            f"peer {peer} does not answer within {CONNECT_TIMEOUT_S:g} s ({err}); start "
            f"`python -m calibrate serve --port {port}` there") from err
    return link

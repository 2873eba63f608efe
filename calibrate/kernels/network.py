"""TCP transfers: a sink server that reads length-prefixed messages and acknowledges each with
one byte, a sender, and the calibration kernel that times one message plus its acknowledgement.

`network_tcp` at `bytes` = B is the time to send B bytes one way and receive the 1-byte
acknowledgement: one-way transfer plus one round trip of latency.
"""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import struct
import threading
from typing import Any

_HEADER = struct.Struct("!Q")  # message length in bytes, network byte order
_ACK = b"\x06"
_CHUNK_BYTES = 4 << 20  # receive buffer (bytes): large enough that syscall overhead is small
CONNECT_TIMEOUT_S = 5.0  # seconds to wait for a peer before declaring it unreachable


class _SinkHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        # A sender that goes away mid-message (Ctrl-C, a killed calibration) resets the
        # connection: for a sink that is the end of the conversation, not an error. Raised,
        # socketserver printed its traceback, over the interrupted command's own last line.
        with contextlib.suppress(ConnectionError):
            self._swallow(self.request)

    @staticmethod
    def _swallow(sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = bytearray(_CHUNK_BYTES)
        view = memoryview(buffer)
        while True:
            header = _recv_exact(sock, _HEADER.size)
            if header is None:
                return
            (remaining,) = _HEADER.unpack(header)
            while remaining:
                got = sock.recv_into(view, min(remaining, _CHUNK_BYTES))
                if got == 0:
                    return
                remaining -= got
            sock.sendall(_ACK)


def _recv_exact(sock: socket.socket, count: int) -> bytes | None:
    data = b""
    while len(data) < count:
        part = sock.recv(count - len(data))
        if not part:
            return None
        data += part
    return data


class SinkServer(socketserver.ThreadingTCPServer):
    """A TCP server that swallows length-prefixed messages and acknowledges each. Port 0 picks a
    free port (see `port`). Raises OSError if the address cannot be bound."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int) -> None:
        super().__init__((host, port), _SinkHandler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start_background(self) -> SinkServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def serve_loopback(conn: Any) -> None:
    """Entry point of a child process: serve on a free loopback port, report it on `conn`,
    and exit as soon as `conn` closes, so that a killed parent leaves no orphan behind."""
    server = SinkServer("127.0.0.1", 0)
    conn.send(server.port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with contextlib.suppress(EOFError):
        conn.recv()
    os._exit(0)


class TcpSender:
    """A connection to a sink server. Raises OSError if the peer cannot be reached or answers
    wrongly."""

    def __init__(self, host: str, port: int, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, payload: memoryview) -> None:
        """Send one message and wait for its acknowledgement."""
        self.sock.sendall(_HEADER.pack(len(payload)))
        if len(payload):
            self.sock.sendall(payload)
        if _recv_exact(self.sock, 1) != _ACK:
            raise OSError("peer closed the connection or sent a wrong acknowledgement")

    def close(self) -> None:
        self.sock.close()


class TcpKernel:
    """Calibration kernel for `network_tcp` at `params["bytes"]`, over an open `TcpSender`,
    sending successive windows of a payload arena."""

    def __init__(self, params: dict[str, float], sender: TcpSender, arena_bytes: int) -> None:
        self.size = max(1, int(params["bytes"]))
        self.sender = sender
        self.arena = memoryview(bytearray(max(self.size, arena_bytes)))
        self.offset = 0

    def prepare(self, slots: int) -> None:
        pass

    def run(self, slot: int) -> None:
        if self.offset + self.size > len(self.arena):
            self.offset = 0
        self.sender.send(self.arena[self.offset : self.offset + self.size])
        self.offset += self.size

    def close(self) -> None:
        self.arena.release()

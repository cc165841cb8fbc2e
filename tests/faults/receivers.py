"""Misbehaving webhook receivers on 127.0.0.1: one that hangs, one that trickles, one that answers 500.

A raw ``socketserver`` rather than Flask, because the point is bytes on the wire: the trickler sends its
answer one byte every ``interval`` seconds (headers first, so a per-read timeout never fires), the hanger
reads the request and never answers, the failing one answers ``500`` at once. ``good`` answers 200.
Every request's ``Idempotency-Key`` and arrival time are recorded.
"""

from __future__ import annotations

import socketserver
import threading
import time
from types import TracebackType
from typing import Self

ANSWER_200 = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
ANSWER_500 = (b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
              b"Connection: close\r\n\r\n{}")


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        owner = self.server.owner
        headers: dict[str, str] = {}
        self.rfile.readline()
        while (line := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        self.rfile.read(int(headers.get("content-length") or 0))
        with owner.lock:
            owner.arrivals.append((time.monotonic(), headers.get("idempotency-key", "")))
        if owner.mode == "hang":
            owner.release.wait(owner.hold)
            return
        answer = ANSWER_500 if owner.mode == "500" else ANSWER_200
        if owner.mode == "trickle":
            for index in range(len(answer)):
                if owner.release.wait(owner.interval):
                    return
                try:
                    self.wfile.write(answer[index:index + 1])
                    self.wfile.flush()
                except OSError:  # the client gave up: what the deadline is for
                    with owner.lock:
                        owner.cut_off += 1
                    return
            return
        self.wfile.write(answer)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: BadReceiver


class BadReceiver:
    """``mode``: ``good``, ``hang``, ``trickle`` (one byte per ``interval`` s) or ``500``."""

    def __init__(self, mode: str, interval: float = 0.5, hold: float = 120.0) -> None:
        self.mode, self.interval, self.hold = mode, interval, hold
        self.lock = threading.Lock()
        self.arrivals: list[tuple[float, str]] = []
        self.cut_off = 0
        self.release = threading.Event()
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.owner = self
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def keys(self) -> list[str]:
        with self.lock:
            return [key for _, key in self.arrivals]

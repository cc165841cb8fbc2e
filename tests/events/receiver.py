"""A webhook receiver on 127.0.0.1 for tests: scripted answers, records every request, dedupes on
``Idempotency-Key`` the way an idempotent receiver does (``accepted`` holds each key once).

It is a ``LocalServer`` like the vendor doubles (tests/platforms/fakes/server.py); request bodies are
recorded as the bytes that were signed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, Response, g, request

from tests.platforms.fakes.server import LocalServer


class Receiver(LocalServer):
    def __init__(self, script: list[tuple[int, dict[str, str]]] | None = None,
                 block: threading.Event | None = None, block_at: int = 1, delay: float = 0.0) -> None:
        self.script = list(script or [])  # answers for the first requests, then 200
        self.accepted: dict[str, bytes] = {}
        self.duplicates = 0
        self.block = block  # request number ``block_at`` is accepted, then hangs until ``block`` is set
        self.block_at = block_at
        self.delay = delay  # seconds each answer takes (a slow receiver)
        self.arrived = threading.Event()
        self.delivered = threading.Condition()
        super().__init__()

    def request_body(self) -> Any:
        return request.get_data()

    def routes(self, app: Flask) -> None:
        @app.post("/", defaults={"path": ""})
        @app.post("/<path:path>")
        def deliver(path: str) -> Response:
            with self.lock:
                number = self.requests.index(g.recorded) + 1
                status, headers = self.script.pop(0) if self.script else (200, {})
                if status == 200:  # processed (and deduplicated) before answering, like a real receiver
                    key = request.headers.get("Idempotency-Key") or ""
                    if key in self.accepted:
                        self.duplicates += 1
                    else:
                        self.accepted[key] = g.recorded["body"]
            with self.delivered:
                self.delivered.notify_all()
            if self.delay:
                time.sleep(self.delay)
            if number == self.block_at:
                self.arrived.set()
                if self.block is not None:
                    self.block.wait(60)
            payload = '{"error":"try later"}' if status != 200 else "{}"
            return Response(payload, status=status, headers=headers, content_type="application/json")

    def wait(self, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The requests so far, once ``count`` have arrived (or after ``timeout`` seconds)."""
        with self.delivered:
            self.delivered.wait_for(lambda: len(self.requests) >= count, timeout=timeout)
        return list(self.requests)

    def stop(self) -> None:
        if self.block is not None:
            self.block.set()
        super().stop()


@contextmanager
def running(receiver: Receiver) -> Iterator[Receiver]:
    with receiver:
        yield receiver

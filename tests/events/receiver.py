"""A webhook receiver on 127.0.0.1 for tests: scripted answers, records every request, dedupes on
``Idempotency-Key`` the way an idempotent receiver does (``accepted`` holds each key once)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self, script: list[tuple[int, dict[str, str]]] | None = None,
                 block: threading.Event | None = None, block_at: int = 1, delay: float = 0.0) -> None:
        self.script = list(script or [])  # answers for the first requests, then 200
        self.requests: list[dict[str, Any]] = []
        self.accepted: dict[str, bytes] = {}
        self.duplicates = 0
        self.block = block  # request number ``block_at`` is accepted, then hangs until ``block`` is set
        self.block_at = block_at
        self.delay = delay  # seconds each answer takes (a slow receiver)
        self.lock = threading.Lock()
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
                    number = len(receiver.requests)
                    status, headers = receiver.script.pop(0) if receiver.script else (200, {})
                    if status == 200:  # processed (and deduplicated) before answering, like a real receiver
                        key = self.headers.get("Idempotency-Key") or ""
                        if key in receiver.accepted:
                            receiver.duplicates += 1
                        else:
                            receiver.accepted[key] = body
                if receiver.delay:
                    time.sleep(receiver.delay)
                if number == receiver.block_at:
                    receiver.arrived.set()
                    if receiver.block is not None:
                        receiver.block.wait(60)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                payload = b'{"error":"try later"}' if status != 200 else b"{}"
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def running(receiver: Receiver) -> Iterator[Receiver]:
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        if receiver.block is not None:
            receiver.block.set()
        receiver.server.shutdown()
        receiver.server.server_close()

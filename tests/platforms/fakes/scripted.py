"""A vendor stand-in on 127.0.0.1: answers from a script, records requests, can be slow."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any


@contextmanager
def vendor(script: list[tuple[int, dict[str, str], bytes]], delay: float = 0.0) -> Iterator[dict[str, Any]]:
    state: dict[str, Any] = {"requests": [], "script": list(script)}

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state["requests"].append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                      "body": body})
            status, headers, payload = state["script"].pop(0) if state["script"] else (200, {}, b"{}")
            if delay:
                time.sleep(delay)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            try:
                self.wfile.write(payload)
            except OSError:
                pass

        do_GET = do_POST = do_PUT = do_PATCH = _any  # noqa: N815 - http.server naming

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()

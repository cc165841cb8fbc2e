"""A vendor stand-in that answers from a script: (status, headers, body) per request, then 200 ``{}``.

For tests of the sender and the delivery machinery, where no vendor's semantics matter; ``delay`` makes
every answer slow (read timeouts). Requests are recorded with their raw body bytes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, Response, request

from tests.platforms.fakes.server import LocalServer

Answer = tuple[int, dict[str, str], bytes]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


class ScriptedVendor(LocalServer):
    def __init__(self, script: list[Answer], delay: float = 0.0) -> None:
        self.script = list(script)
        self.delay = delay
        super().__init__()

    def request_body(self) -> Any:
        return request.get_data()

    def routes(self, app: Flask) -> None:
        @app.route("/", defaults={"path": ""}, methods=METHODS)
        @app.route("/<path:path>", methods=METHODS)
        def answer(path: str) -> Response:
            with self.lock:
                status, headers, payload = self.script.pop(0) if self.script else (200, {}, b"{}")
            if self.delay:
                time.sleep(self.delay)
            return Response(payload, status=status, headers=headers)


@contextmanager
def vendor(script: list[Answer], delay: float = 0.0) -> Iterator[dict[str, Any]]:
    """The running stand-in as ``{"url": ..., "requests": [...]}``."""
    with ScriptedVendor(script, delay) as double:
        yield {"url": double.url, "requests": double.requests}

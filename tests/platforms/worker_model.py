"""Test-only stand-ins for the shared sender and outbox worker, for direct ``deliver`` calls.

``OneShotHttp`` does one attempt and classifies like the documented ``HttpSender`` (429/5xx/connection ->
``RetryableError`` with Retry-After, other 4xx -> ``PermanentError``). ``retrying`` plays the worker: it
calls ``deliver`` again after a ``RetryableError``, a bounded number of times.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from connector.platforms.errors import PermanentError, RetryableError

__all__ = ["OneShotHttp", "PermanentError", "RetryableError", "retrying"]


class OneShotHttp:
    """One HTTP attempt per call, never leaving 127.0.0.1."""

    def __init__(self) -> None:
        self.session = requests.Session()
        self.attempts = 0

    def send(self, method: str, url: str, **kw: Any) -> requests.Response:
        assert url.startswith("http://127.0.0.1:"), f"test tried to leave 127.0.0.1: {url}"
        self.attempts += 1
        try:
            resp = self.session.request(method, url, timeout=10, **kw)
        except requests.ConnectionError as exc:
            raise RetryableError(f"connection error: {exc}") from exc
        if 200 <= resp.status_code < 300:
            return resp
        if resp.status_code == 429 or resp.status_code >= 500:
            ra = resp.headers.get("Retry-After")
            raise RetryableError(f"HTTP {resp.status_code}", retry_after=float(ra) if ra else None)
        raise PermanentError(f"HTTP {resp.status_code}: {resp.text[:300]}")


def retrying(deliver: Callable[[], dict[str, Any]], max_attempts: int = 6) -> tuple[dict[str, Any], list[Any]]:
    """Run ``deliver`` like the outbox worker does: again after each RetryableError. Returns the result
    and the ``retry_after`` of every failed attempt."""
    seen: list[Any] = []
    for attempt in range(1, max_attempts + 1):
        try:
            return deliver(), seen
        except RetryableError as exc:
            seen.append(getattr(exc, "retry_after", None))
            if attempt == max_attempts:
                raise
    raise AssertionError("unreachable")

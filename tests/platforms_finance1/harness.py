"""Test-only stand-ins for the shared sender and outbox worker (issue 8, being built by "E").

``OneShotHttp`` does one attempt and classifies like the documented ``HttpSender`` (429/5xx/connection ->
``RetryableError`` with Retry-After, other 4xx -> ``PermanentError``). ``retrying`` plays the worker: it
calls ``deliver`` again after a ``RetryableError``, a bounded number of times. Once
``connector.platforms.errors`` exists its classes are used; until then stand-ins are installed under that name.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

import requests

try:
    from connector.platforms.errors import PermanentError, RetryableError
except ImportError:  # until E's errors.py lands
    class RetryableError(Exception):  # type: ignore[no-redef]
        def __init__(self, message: str, retry_after: float | None = None) -> None:
            super().__init__(message)
            self.retry_after = retry_after

    class PermanentError(Exception):  # type: ignore[no-redef]
        pass

    _mod = types.ModuleType("connector.platforms.errors")
    _mod.RetryableError = RetryableError  # type: ignore[attr-defined]
    _mod.PermanentError = PermanentError  # type: ignore[attr-defined]
    sys.modules["connector.platforms.errors"] = _mod


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

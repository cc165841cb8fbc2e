"""Stand-ins for the shared machinery (issue 8) while it has not landed: TEST-ONLY.

``OneShotHttp`` does one HTTP attempt and classifies the answer the way the shared sender is documented
to (429/5xx/connection -> RetryableError with Retry-After, other 4xx -> PermanentError); it has no retry
loop. ``Outbox`` models the outbox worker: it redelivers an event after a RetryableError (bounded) and
records the delivery key once delivered, in a database, so a "restarted worker" (a new Outbox on the same
file) does not deliver twice. When connector.platforms.{sender,dispatch} land, the e2e tests switch to them.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

import requests
from sqlalchemy import Column, Engine, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError

try:  # the real classes once issue 8 lands
    from connector.platforms.errors import PermanentError, RetryableError
    MACHINERY = True
except ImportError:  # pragma: no cover - only until connector/platforms/errors.py exists
    MACHINERY = False

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


_meta = MetaData()
_delivered = Table("test_outbox_delivered", _meta, Column("key", String(300), primary_key=True),
                   Column("ref", String(300)))


class Outbox:
    def __init__(self, engine: Engine, max_attempts: int = 5) -> None:
        self.engine = engine
        self.max_attempts = max_attempts
        self.retry_afters: list[float | None] = []
        _meta.create_all(engine)

    def run(self, key: str, deliver: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with self.engine.connect() as conn:
            if conn.execute(select(_delivered.c.ref).where(_delivered.c.key == key)).first():
                return {"status": "already_delivered"}
        for attempt in range(1, self.max_attempts + 1):
            try:
                result = deliver()
            except RetryableError as exc:
                self.retry_afters.append(getattr(exc, "retry_after", None))
                if attempt == self.max_attempts:
                    raise
                continue
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(_delivered).values(key=key, ref=str(result.get("ref"))))
            except IntegrityError:
                pass
            return result
        raise AssertionError("unreachable")

"""The shared sender for the SendGrid, Slack, Jira, Salesforce, Zoho Analytics and Google Sheets end-to-end
tests, plus one TEST-ONLY model.

``OneShotHttp`` is the real ``connector.platforms.sender.HttpSender`` (one attempt, classified: 429/5xx/
connection -> RetryableError with Retry-After, other 4xx -> PermanentError) that refuses to leave 127.0.0.1
and counts attempts. ``Outbox`` is a small model of the outbox worker for tests that drive one adapter call
at a time: it redelivers after a RetryableError (bounded) and records the delivery key in a database, so a
"restarted worker" (a new Outbox on the same file) does not deliver twice. The real worker
(``connector.events.worker``) is exercised with these adapters in tests/platforms/test_real_adapters.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
from sqlalchemy import Column, Engine, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError

from connector.platforms.errors import PermanentError, RetryableError
from connector.platforms.sender import HttpSender

MACHINERY = True
__all__ = ["MACHINERY", "OneShotHttp", "Outbox", "PermanentError", "RetryableError"]


class OneShotHttp(HttpSender):
    def __init__(self) -> None:
        super().__init__(read_timeout=10)
        self.attempts = 0

    def send(self, method: str, url: str, **kw: Any) -> requests.Response:
        assert url.startswith("http://127.0.0.1:"), f"test tried to leave 127.0.0.1: {url}"
        self.attempts += 1
        return super().send(method, url, **kw)


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


def make_http() -> OneShotHttp:
    """The shared sender (one attempt per call, as the worker uses it), confined to 127.0.0.1."""
    return OneShotHttp()

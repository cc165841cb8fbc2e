"""Small models of the outbox worker for tests that call one adapter's ``deliver`` at a time.

``retrying`` calls ``deliver`` again after a ``RetryableError``, a bounded number of times. ``Outbox`` also
records each delivered key in a database, so a "restarted worker" (a new Outbox on the same file) does not
deliver twice. The real worker (``connector.events.worker``) runs the adapters in test_real_adapters.py,
test_finance_worker_e2e.py and test_day_through_outbox.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, Engine, MetaData, String, Table, create_engine, insert, select
from sqlalchemy.exc import IntegrityError

from connector.platforms.errors import RetryableError
from tests.platforms.fakes.http import OneShotHttp


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


def worker(db_url: str) -> tuple[Outbox, OneShotHttp]:
    """A (re)started worker: fresh objects, state only in the database."""
    return Outbox(create_engine(db_url)), OneShotHttp()

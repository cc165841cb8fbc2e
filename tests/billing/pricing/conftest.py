"""Billing automation tests: the real API app on a temp SQLite file (and PostgreSQL via EVBILL_TEST_PG_URL)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from connector.api import create_app
from tests.api.pg import fresh_database, pg_available

KEY = "key-billing-auto"
H = {"X-API-Key": KEY}
TENANT = "BA"


def make_app(url: str) -> Any:
    return create_app({"DATABASE_URL": url, "API_KEYS": {KEY: TENANT}, "TESTING": True})


@pytest.fixture(params=["sqlite", "postgresql"])
def client(request, tmp_path):
    """The API on SQLite, and on a fresh PostgreSQL database when one is reachable."""
    if request.param == "sqlite":
        yield make_app(f"sqlite:///{tmp_path / 'billing.db'}").test_client()
        return
    if not pg_available():
        pytest.skip("PostgreSQL not reachable (EVBILL_TEST_PG_URL); run scripts/setup_system.sh")
    with fresh_database() as url:
        app = make_app(url)
        yield app.test_client()
        app.extensions["evbill.engine"].dispose()


@pytest.fixture
def sqlite_client(tmp_path):
    return make_app(f"sqlite:///{tmp_path / 'billing.db'}").test_client()


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def event(session_id: str, kind: str, at: str, samples: list[list[str]] | None = None, **session: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"event_id": f"{session_id}:{kind}:{at}", "type": kind, "session_id": session_id,
                            "timestamp": at, "session": session}
    if samples:
        body["meter_samples"] = samples
    return body


def send(client: Any, *events: dict[str, Any]) -> list[Any]:
    return [ok(client.post("/v1/sessions/events", json=e, headers=H), 202) for e in events]


def stored_events(client: Any, type_: str) -> list[dict[str, Any]]:
    """Events of the outbox table (what the worker will deliver), oldest first."""
    from connector.storage.tables.outbox import EventRow

    engine = client.application.extensions["evbill.engine"]
    from sqlalchemy.orm import Session

    with Session(engine) as db:
        rows = db.scalars(select(EventRow).where(EventRow.tenant_id == TENANT, EventRow.type == type_)
                          .order_by(EventRow.created_at)).all()
        return [{"id": r.id, "type": r.type, "data": r.data} for r in rows]

"""Billing core tests: the real API app (temp SQLite, and PostgreSQL where marked) driven over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from connector.api import create_app
from tests.api.pg import fresh_database, pg_available

KEY_A, KEY_B = "billing-key-a", "billing-key-b"
A = {"X-API-Key": KEY_A}
B = {"X-API-Key": KEY_B}

# 10 kWh at 0.30 EUR/kWh + 19 % VAT -> 3.00 net, 0.57 VAT, 3.57 gross
TARIFF: dict[str, Any] = {
    "id": "T-EUR", "currency": "EUR",
    "elements": [{"price_components": [{"type": "ENERGY", "price": "0.30", "vat": "19", "step_size": 1},
                                       {"type": "PARKING_TIME", "price": "1.20", "vat": "19", "step_size": 60}]}],
}
TARIFF_CHF: dict[str, Any] = {
    "id": "T-CHF", "currency": "CHF",
    "elements": [{"price_components": [{"type": "ENERGY", "price": "0.45", "vat": "8.1", "step_size": 1},
                                       {"type": "FLAT", "price": "1.00", "vat": "8.1"}]}],
}


def make_app(url: str) -> Any:
    return create_app({"DATABASE_URL": url, "API_KEYS": {KEY_A: "A", KEY_B: "B"}, "TESTING": True,
                       "CREATE_TABLES": True})


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'billing.db'}"
        return
    if not pg_available():
        pytest.skip("PostgreSQL not reachable (EVBILL_TEST_PG_URL)")
    with fresh_database() as url:
        yield url


@pytest.fixture
def app(db_url):
    application = make_app(db_url)
    yield application
    application.extensions["evbill.engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def end_event(session_id: str, *, kwh: str = "10", customer: str | None = None, tariff: str = "T-EUR",
              start: str = "2026-01-13T14:00:00Z", end: str = "2026-01-13T15:00:00Z",
              station: str = "ST-1") -> dict[str, Any]:
    session: dict[str, Any] = {"start": start, "end": end, "energy_kwh": kwh, "tariff_id": tariff,
                               "station_id": station, "time_zone": "Europe/Berlin"}
    if customer:
        session["customer_id"] = customer
    return {"event_id": f"{session_id}:end", "type": "end", "session_id": session_id, "timestamp": end,
            "session": session}


def ingest(client: Any, session_id: str, headers: dict[str, str] = A, **kw: Any) -> dict[str, Any]:
    r = client.post("/v1/sessions/events", json=end_event(session_id, **kw), headers=headers)
    assert r.status_code in (200, 202), r.get_data(as_text=True)
    return r.get_json()


def setup_tenant(client: Any, headers: dict[str, str] = A) -> None:
    for body in (TARIFF, TARIFF_CHF):
        assert client.post("/v1/tariffs", json=body, headers=headers).status_code == 201
    for customer in ({"id": "C-1", "name": "Ada", "email": "ada@example.org", "customer_class": "member"},
                     {"id": "C-PS", "name": "Per Session GmbH", "invoice_per_session": True}):
        r = client.post("/v1/customers", json=customer, headers=headers)
        assert r.status_code == 201, r.get_data(as_text=True)

"""API tests: the real app on a temp SQLite file (and PostgreSQL where marked); two tenants A and B."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from connector.api import create_app
from tests.api.pg import fresh_database, pg_available

KEY_A, KEY_B = "key-tenant-a", "key-tenant-b"
A = {"X-API-Key": KEY_A}
B = {"X-API-Key": KEY_B}

# 10 kWh at 0.30 EUR/kWh + 19 % VAT -> 3.00 net, 0.57 VAT, 3.57 gross
TARIFF: dict[str, Any] = {
    "id": "T-EUR", "currency": "EUR",
    "elements": [{"price_components": [{"type": "ENERGY", "price": "0.30", "vat": "19", "step_size": 1}]}],
}
SESSION: dict[str, Any] = {"id": "S-1", "start": "2026-01-13T14:00:00Z", "end": "2026-01-13T15:00:00Z",
                           "energy_kwh": "10", "time_zone": "Europe/Berlin"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_app(url: str, **extra: Any) -> Any:
    return create_app({"DATABASE_URL": url, "API_KEYS": {KEY_A: "A", KEY_B: "B"}, "TESTING": True, **extra})


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'api.db'}"


@pytest.fixture
def app(sqlite_url):
    return make_app(sqlite_url)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def pg_url():
    if not pg_available():
        pytest.skip("PostgreSQL not reachable (EVBILL_TEST_PG_URL); run scripts/setup_system.sh")
    with fresh_database() as url:
        yield url


def assert_problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["type"]
    assert "Traceback" not in response.get_data(as_text=True)
    if field is not None:
        assert field in [e["field"] for e in body.get("errors", [])], body
    return body

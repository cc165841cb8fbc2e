"""Tenant isolation of the billing automation, and the interim amount used by OCPP 2.0.1 CostUpdated."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from connector.api import create_app
from connector.billing.pricing.interim import interim_cost
from connector.validation import NotFound
from tests.api.conftest import assert_problem
from tests.billing.pricing.conftest import KEY, TENANT, H, event, ok, send

OTHER = {"X-API-Key": "key-other-tenant"}
TARIFF = {"id": "T-ISO", "currency": "EUR", "elements": [{"price_components": [
    {"type": "ENERGY", "price": "0.30", "vat": "19", "step_size": 1}]}]}


@pytest.fixture
def two_tenants(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'iso.db'}", "TESTING": True,
                      "API_KEYS": {KEY: TENANT, "key-other-tenant": "OTHER"}})
    return app.test_client()


def test_promotions_sessions_and_interim_stay_within_the_tenant(two_tenants):
    c = two_tenants
    ok(c.post("/v1/tariffs", json=TARIFF, headers=H), 201)
    send(c, event("S-1", "start", "2026-01-13T14:00:00Z", start="2026-01-13T14:00:00Z", tariff_id="T-ISO"),
         event("S-1", "update", "2026-01-13T14:30:00Z", samples=[["2026-01-13T14:30:00Z", "5"]]))
    ok(c.post("/v1/promotions", json={"code": "MINE", "kind": "fixed", "value": "1"}, headers=H), 201)
    assert ok(c.get("/v1/promotions", headers=OTHER))["items"] == []
    assert_problem(c.post("/v1/promotions/MINE/redemptions", json={"session_id": "S-1"}, headers=OTHER), 404)
    # the same code in another tenant is another promotion
    ok(c.post("/v1/promotions", json={"code": "MINE", "kind": "percent", "value": "5"}, headers=OTHER), 201)
    assert_problem(c.post("/v1/promotions/MINE/redemptions", json={"session_id": "S-1"}, headers=OTHER), 404)
    assert ok(c.post("/v1/billing/interim", json={"as_of": "2026-01-13T14:30:00Z"}, headers=OTHER))["results"] == []
    assert_problem(c.get("/v1/billing/sessions/S-1", headers=OTHER), 404)
    assert ok(c.put("/v1/billing/settings", json={"interim_interval_minutes": 60}, headers=OTHER))
    assert ok(c.get("/v1/billing/settings", headers=H))["interim_interval_minutes"] == 15


def test_interim_cost_for_cost_updated(two_tenants):
    c = two_tenants
    ok(c.post("/v1/tariffs", json=TARIFF, headers=H), 201)
    send(c, event("S-1", "start", "2026-01-13T14:00:00Z", start="2026-01-13T14:00:00Z", tariff_id="T-ISO"),
         event("S-1", "update", "2026-01-13T14:30:00Z", samples=[["2026-01-13T14:30:00Z", "5"]]))
    at = datetime(2026, 1, 13, 14, 30, tzinfo=UTC)
    with Session(c.application.extensions["evbill.engine"]) as db:
        assert interim_cost(db, TENANT, "S-1", at) == Decimal("1.79")  # 5 x 0.30 + 19 % VAT
        with pytest.raises(NotFound):
            interim_cost(db, "OTHER", "S-1", at)
    send(c, event("S-1", "end", "2026-01-13T15:00:00Z", end="2026-01-13T15:00:00Z", energy_kwh="10"))
    with Session(c.application.extensions["evbill.engine"]) as db:
        assert interim_cost(db, TENANT, "S-1", at) is None  # ended: the final bill speaks now

"""Interim billing: one session that cannot be rated is an error row and an anomaly; the others get their
figure. And the sink's running cost (OCPP ``CostUpdated``) is the interim amount, not None."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.orm import Session

from connector.billing.intake import DatabaseSink
from connector.storage.tables.core import SessionRow
from tests.billing.pricing.conftest import TENANT, H, event, ok, send

TARIFF = {"id": "T-INT", "currency": "EUR", "elements": [{"price_components": [
    {"type": "ENERGY", "price": "0.30", "vat": "19", "step_size": 1},
    {"type": "TIME", "price": "1.20", "vat": "19", "step_size": 1}]}]}
AS_OF = "2026-01-13T14:30:00Z"


def _open(client, session_id: str) -> None:
    send(client,
         event(session_id, "start", "2026-01-13T14:00:00Z", start="2026-01-13T14:00:00Z", tariff_id="T-INT"),
         event(session_id, "update", AS_OF, samples=[[AS_OF, "5"]]))


def _corrupt(client, session_id: str) -> None:
    """A stored session whose reading the rating cannot compute (kept from before the input bounds)."""
    engine = client.application.extensions["evbill.engine"]
    with Session(engine) as db:
        row = db.get(SessionRow, (TENANT, session_id))
        document = dict(row.document, meter_samples=[{"timestamp": AS_OF, "energy_kwh": "1e30"}])
        db.execute(update(SessionRow).where(SessionRow.tenant_id == TENANT, SessionRow.session_id == session_id)
                   .values(document=document))
        db.commit()


def test_one_bad_session_does_not_stop_the_run(client):
    ok(client.post("/v1/tariffs", json=TARIFF, headers=H), 201)
    for session_id in ("S-A", "S-BAD", "S-Z"):
        _open(client, session_id)
    _corrupt(client, "S-BAD")
    run = ok(client.post("/v1/billing/interim", json={"as_of": AS_OF}, headers=H))
    by_id = {r["session_id"]: r for r in run["results"]}
    assert run["emitted"] == 2
    # 5 kWh x 0.30 + 0.5 h x 1.20 = 2.10 net + 19 % -> 2.50
    assert (by_id["S-A"]["amount_due"], by_id["S-Z"]["amount_due"]) == ("2.50", "2.50")
    bad = by_id["S-BAD"]
    assert bad["status"] == "error" and bad["error"]["field"].startswith("session")
    [anomaly] = ok(client.get("/v1/anomalies", query_string={"rule": "rating_failure"}, headers=H))["items"]
    assert anomaly["session_id"] == "S-BAD" and anomaly["severity"] == "high"
    # the next forced run reports it again, but the anomaly is recorded once
    again = ok(client.post("/v1/billing/interim", json={"as_of": AS_OF, "force": True}, headers=H))
    assert again["emitted"] == 2
    assert len(ok(client.get("/v1/anomalies", query_string={"rule": "rating_failure"}, headers=H))["items"]) == 1


def test_sink_reports_the_running_cost(client):
    ok(client.post("/v1/tariffs", json=TARIFF, headers=H), 201)
    _open(client, "S-C")
    sink = DatabaseSink(client.application.extensions["evbill.engine"], create_tables=False)
    cost = sink.interim_cost(TENANT, "S-C", datetime(2026, 1, 13, 14, 30, tzinfo=UTC))
    assert cost == Decimal("2.50") and isinstance(cost, Decimal)
    # ended: no running cost
    send(client, event("S-C", "end", "2026-01-13T15:00:00Z", end="2026-01-13T15:00:00Z", energy_kwh="10"))
    assert sink.interim_cost(TENANT, "S-C", datetime(2026, 1, 13, 15, 0, tzinfo=UTC)) is None

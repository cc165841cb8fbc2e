"""Trigger 3 end to end through the API on SQLite and PostgreSQL: sessions billed by the real billing
service, invoices finalized/paid through the API, then POST /v1/reconciliations and the JSON/CSV/XLSX report.

Day 2026-01-13 (Europe/Berlin), 19 % VAT: A1 ST-1 T-A public 10 kWh 3.57 (paid); A2 ST-2 T-B fleet 5 kWh 2.38
(finalized); A3 ST-3 T-A fleet 20 kWh 7.14 (paid); A4 ST-3 unknown tariff (billing refused: unbilled +
rating failure); A5 = A1 again under another id (duplicate, billed 3.57, draft).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from connector.api import create_app
from connector.storage.tables.outbox import EventRow
from tests.api.pg import fresh_database, pg_available

KEY = "key-recon"
H = {"X-API-Key": KEY}
TARIFFS = [
    {"id": "T-A", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.30", "vat": "19", "step_size": 1}]}]},
    {"id": "T-B", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.40", "vat": "19", "step_size": 1}]}]},
]
SESSIONS = {  # id: station, tariff, customer, start, energy
    "A1": ("ST-1", "T-A", "C-PUB", "2026-01-13T09:00:00Z", "10"),
    "A2": ("ST-2", "T-B", "C-FLEET", "2026-01-13T10:00:00Z", "5"),
    "A3": ("ST-3", "T-A", "C-FLEET", "2026-01-13T11:00:00Z", "20"),
    "A4": ("ST-3", "T-MISSING", "C-PUB", "2026-01-13T12:00:00Z", "8"),
    "A5": ("ST-1", "T-A", "C-PUB", "2026-01-13T09:00:00Z", "10"),
}


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    if not pg_available():
        pytest.skip("PostgreSQL not reachable (EVBILL_TEST_PG_URL); run scripts/setup_system.sh")
    with fresh_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def client(request, tmp_path) -> Any:
    url = f"sqlite:///{tmp_path / 'api.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database")
    tenant = f"recon-{uuid.uuid4().hex[:8]}"  # the PostgreSQL database is shared by this module's tests
    app = create_app({"DATABASE_URL": url, "API_KEYS": {KEY: tenant}, "TESTING": True, "CREATE_TABLES": True})
    test_client = app.test_client()
    test_client.tenant = tenant
    return test_client


def _event(session_id: str, kind: str, **session: Any) -> dict[str, Any]:
    return {"event_id": f"{session_id}:{kind}", "type": kind, "session_id": session_id,
            "timestamp": session.get("end") or session.get("start"), "session": session}


def bill_day(client: Any) -> dict[str, str]:
    """Create the tenant's data through the API; returns invoice id per billed session."""
    for tariff in TARIFFS:
        assert client.post("/v1/tariffs", json=tariff, headers=H).status_code == 201
    for customer_id, klass in (("C-PUB", "public"), ("C-FLEET", "fleet")):
        r = client.post("/v1/customers", json={"id": customer_id, "customer_class": klass,
                                               "invoice_per_session": True}, headers=H)
        assert r.status_code == 201, r.text
    invoices = {}
    for session_id, (station, tariff, customer, start, energy) in SESSIONS.items():
        end = f"{start[:11]}{int(start[11:13]) + 1:02d}{start[13:]}"  # one hour
        first = _event(session_id, "start", start=start, station_id=station, tariff_id=tariff,
                       customer_id=customer, time_zone="Europe/Berlin")
        assert client.post("/v1/sessions/events", json=first, headers=H).status_code == 202
        r = client.post("/v1/sessions/events", json=_event(session_id, "end", end=end, energy_kwh=energy), headers=H)
        if tariff == "T-MISSING":  # the end event is kept; billing refuses the session, naming the field
            body = r.get_json()  # 202 + billing_error, or a 422 problem (the sessions route's choice)
            refused = body["billing_error"] if r.status_code == 202 else body["errors"][0]
            assert r.status_code in (202, 422) and refused["field"] == "session.tariff_id", r.text
            assert client.get(f"/v1/sessions/{session_id}", headers=H).get_json()["status"] == "ended"
            continue
        assert r.status_code == 202, r.text
        invoices[session_id] = r.get_json()["billing"]["invoice_id"]
    for session_id, paid in (("A1", True), ("A2", False), ("A3", True)):
        assert client.post(f"/v1/invoices/{invoices[session_id]}/finalize", headers=H).status_code == 200
        if paid:
            r = client.post(f"/v1/invoices/{invoices[session_id]}/mark-paid", headers=H)
            assert r.status_code == 200, r.text
    return invoices


def test_reconciliation_through_the_api(client):
    invoices = bill_day(client)
    assert set(invoices) == {"A1", "A2", "A3", "A5"}
    r = client.post("/v1/reconciliations", json={"kind": "daily", "period": "2026-01-13"}, headers=H)
    assert r.status_code == 201, r.text
    report = r.get_json()
    assert r.headers["Location"].endswith(f"/v1/reconciliations/{report['id']}")
    rows = {(x["station_id"], x["tariff_id"], x["customer_class"]): (x["sessions"], x["expected"], x["billed"],
                                                                       x["paid"]) for x in report["rows"]}
    assert rows == {
        ("ST-1", "T-A", "public"): (2, "7.14", "7.14", "3.57"),
        ("ST-2", "T-B", "fleet"): (1, "2.38", "2.38", "0.00"),
        ("ST-3", "T-A", "fleet"): (1, "7.14", "7.14", "7.14"),
        ("ST-3", "T-MISSING", "public"): (1, "0", "0", "0"),
    }
    summary = report["summary"]
    assert (summary["currency"], summary["expected"], summary["billed"], summary["paid"], summary["difference"]) \
        == ("EUR", "16.66", "16.66", "10.71", "0.00")
    assert summary["exceptions"] == {"duplicate": 1, "rating_failure": 1, "unbilled": 1}

    got = client.get(f"/v1/reconciliations/{report['id']}", headers=H)
    assert got.status_code == 200 and got.get_json() == report

    csv_text = client.get(f"/v1/reconciliations/{report['id']}?format=csv", headers=H)
    assert csv_text.mimetype == "text/csv"
    assert csv_text.get_data(as_text=True).splitlines() == [
        "station_id,tariff_id,customer_class,currency,sessions,energy_kwh,expected,billed,paid,difference,unpaid",
        "ST-1,T-A,public,EUR,2,20.000,7.14,7.14,3.57,0.00,3.57",
        "ST-2,T-B,fleet,EUR,1,5.000,2.38,2.38,0.00,0.00,2.38",
        "ST-3,T-A,fleet,EUR,1,20.000,7.14,7.14,7.14,0.00,0.00",
        "ST-3,T-MISSING,public,,1,8.000,0,0,0,0,0",
    ]

    # stored mode (ratings billing stored, JSON fields read in SQL) gives the same rows on both databases
    with client.application.app_context():
        from connector.api.context import db
        from connector.billing.reconciliation.run import reconcile

        stored = reconcile(db(), client.tenant, "daily", "2026-01-13", mode="stored", emit_events=False)
        db().rollback()
    assert stored["rows"] == report["rows"]

    xlsx = client.get(f"/v1/reconciliations/{report['id']}?format=xlsx", headers=H)
    assert xlsx.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = load_workbook(io.BytesIO(xlsx.data))
    assert book.sheetnames == ["Summary", "Rows", "Exceptions"]
    facts = {row[0]: row[1] for row in book["Summary"].iter_rows(min_row=1, max_row=20, values_only=True) if row[0]}
    assert (facts["Expected"], facts["Billed"], facts["Paid"]) == (16.66, 16.66, 10.71)
    assert len(book["Summary"]._charts) == 1
    assert book["Rows"].max_row == 5 and book["Exceptions"].max_row == 4


def test_anomalies_listed_once_and_rules_per_tenant(client):
    bill_day(client)
    first = client.post("/v1/reconciliations", json={"kind": "daily", "period": "2026-01-13"}, headers=H)
    again = client.post("/v1/reconciliations", json={"kind": "daily", "period": "2026-01-13"}, headers=H)
    assert first.status_code == again.status_code == 201
    items = client.get("/v1/anomalies", headers=H).get_json()["items"]
    # the duplicate was seen at billing time (A5) and by both reconciliations: one anomaly, one event
    assert sorted((a["rule"], a["session_id"]) for a in items) == [
        ("duplicate_session", "A5"), ("rating_failure", "A4"), ("unbilled_session", "A4")]
    assert [a["rule"] for a in client.get("/v1/anomalies?rule=rating_failure", headers=H).get_json()["items"]] \
        == ["rating_failure"]
    with client.application.app_context():  # the app of this client
        from connector.api.context import db

        events = db().scalars(select(EventRow).where(EventRow.type == "billing.anomaly",
                                                     EventRow.tenant_id == client.tenant)).all()
        assert len(events) == 3
    assert client.get("/v1/anomaly-rules", headers=H).get_json()["max_power_kw"] == "400"
    r = client.put("/v1/anomaly-rules", json={"max_session_hours": "0.5", "disabled_rules": ["unbilled_session"]},
                   headers=H)
    assert r.status_code == 200 and r.get_json()["max_session_hours"] == "0.5"
    assert client.get("/v1/anomaly-rules", headers=H).get_json()["disabled_rules"] == ["unbilled_session"]
    bad = client.put("/v1/anomaly-rules", json={"max_power_kw": "-1"}, headers=H)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "max_power_kw"
    assert client.put("/v1/anomaly-rules", json={"nope": 1}, headers=H).status_code == 422
    assert client.get("/v1/anomalies?limit=0", headers=H).status_code == 400


def test_bad_requests_are_problems(client):
    for body, field in (({"kind": "weekly", "period": "2026-01-13"}, "kind"),
                        ({"kind": "daily", "period": "13.01.2026"}, "period"),
                        ({"kind": "monthly", "period": "2026-01", "stations": []}, "stations")):
        r = client.post("/v1/reconciliations", json=body, headers=H)
        assert r.status_code == 422 and r.mimetype == "application/problem+json"
        assert field in [e["field"] for e in r.get_json()["errors"]]
    assert client.get("/v1/reconciliations/rec_nope", headers=H).status_code == 404
    assert client.get("/v1/reconciliations/rec_nope?format=pdf", headers=H).status_code == 400

"""The ingest endpoints inside the real API app (create_app): same tables as POST /v1/sessions/events,
priced and billed by the billing service (stored tariff_id), read back via the API."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from connector.api import create_app
from connector.billing.intake import DatabaseSink
from connector.models.session_event import parse_event
from connector.security import hmac_sign
from tests.ingest.conftest import FLAT_TARIFF
from tests.paths import SHARED

KEY = {"X-API-Key": "key-a"}
CDR = json.loads((SHARED / "ocpi/spec-examples/2.2.1/cdr_example.json").read_text(encoding="utf-8"))


@pytest.fixture
def api(tmp_path):
    url = f"sqlite:///{tmp_path / 'api.db'}"
    app = create_app({"DATABASE_URL": url, "API_KEYS": {"key-a": "A"}, "TESTING": True,
                      "OCPI_TOKENS": {"ocpi-token": "A"}, "CHARGEPOINT_WEBHOOK_SECRET": "cp-secret",
                      "CHARGEPOINT_TENANT_ID": "A", "CHARGEPOINT_SESSION_DEFAULTS": {"tariff_id": "STD"}})
    client = app.test_client()
    for tariff in (FLAT_TARIFF, CDR["tariffs"][0]):
        res = client.post("/v1/tariffs", json=tariff, headers=KEY)
        assert res.status_code == 201, res.json
    return app, client, url


def amount_due(client: Any, session_id: str) -> str:
    res = client.get(f"/v1/sessions/{session_id}", headers=KEY)
    assert res.status_code == 200, res.json
    return res.json["rating"]["invoice"]["amount_due"]


def test_chargepoint_ocpi_and_import_through_the_api(api) -> None:
    _app, client, _url = api
    payload = json.dumps({"sessionID": 7, "startTime": "2026-11-24T10:00:00Z", "endTime": "2026-11-24T10:30:00Z",
                          "Energy": 18.2, "stationID": "1:1"}).encode()
    res = client.post("/v1/ingest/chargepoint/sessions", data=payload,
                      headers={**hmac_sign.sign("cp-secret", None, payload), "Content-Type": "application/json"})
    assert res.status_code == 202, res.json
    assert res.json["total_cost"] == "6.50"
    assert amount_due(client, "CP-7") == "6.50"  # the API reads the session the webhook stored

    auth = {"Authorization": "Token " + base64.b64encode(b"ocpi-token").decode()}
    res = client.post("/ocpi/2.2.1/cdrs", json=CDR, headers=auth)
    assert res.status_code == 201 and res.json["status_code"] == 1000, res.json
    assert res.json["data"]["total_cost"] == "4.40"
    assert amount_due(client, "BE-BEC-12345") == "4.40"
    # OCPI and ChargePoint authenticate themselves; the API key is not what lets them in
    assert client.post("/ocpi/2.2.1/cdrs", json=CDR, headers=KEY).status_code == 401

    res = client.post("/v1/imports", headers=KEY, json={
        "filename": "x.json", "content": json.dumps([{"id": "I-1", "from": "2026-11-24T10:00:00Z",
                                                      "to": "2026-11-24T11:00:00Z", "kwh": "10"}]),
        "mapping": {"source": "acme", "fields": {"session_id": "id", "start": "from", "end": "to",
                                                 "energy_kwh": "kwh"}, "defaults": {"tariff_id": "STD"}}})
    assert res.status_code == 200 and res.json["accepted"] == 1, res.json
    assert amount_due(client, "I-1") == "3.57"
    assert client.post("/v1/imports", json={"content": ""}).status_code == 401  # imports need an API key


def test_one_session_from_several_sources(api) -> None:
    """A start from a charger (pipeline) and the end through POST /v1/sessions/events: one session."""
    _app, client, url = api
    sink = DatabaseSink.from_url(url)
    sink.ingest("A", parse_event({"event_id": "ocpp:1", "type": "start", "session_id": "MIX-1", "source": "ocpp16",
                                  "timestamp": "2026-11-24T10:00:00Z",
                                  "session": {"start": "2026-11-24T10:00:00Z", "tariff_id": "STD"}}))
    res = client.post("/v1/sessions/events", headers=KEY, json={
        "event_id": "flow:1", "type": "end", "session_id": "MIX-1", "timestamp": "2026-11-24T11:00:00Z",
        "source": "power_automate", "session": {"end": "2026-11-24T11:00:00Z", "energy_kwh": "10"}})
    assert res.status_code == 202, res.json
    assert amount_due(client, "MIX-1") == "3.57"
    again = sink.ingest("A", parse_event({"event_id": "flow:1", "type": "end", "session_id": "MIX-1",
                                          "timestamp": "2026-11-24T11:00:00Z", "session": {}}))
    assert again.status == "duplicate" and str(again.total_cost) == "3.57"
    doc = sink.load_session("A", "MIX-1")
    assert doc["sources"] == ["ocpp16", "power_automate"]


def test_unbillable_end_is_stored_and_reported(api) -> None:
    _app, _client, url = api
    sink = DatabaseSink.from_url(url)
    outcome = sink.ingest("A", parse_event({
        "event_id": "x:1", "type": "end", "session_id": "NO-TARIFF", "timestamp": "2026-11-24T11:00:00Z",
        "session": {"start": "2026-11-24T10:00:00Z", "end": "2026-11-24T11:00:00Z", "energy_kwh": "1"}}))
    assert outcome.status == "accepted" and outcome.total_cost is None
    assert outcome.to_dict()["billing_error"]["field"] == "session.tariff_id"
    assert sink.load_session("A", "NO-TARIFF")["status"] == "ended"


def test_end_events_become_one_invoice_line(api) -> None:
    _app, client, url = api
    sink = DatabaseSink.from_url(url)
    end = parse_event({"event_id": "b:1", "type": "end", "session_id": "BILL-1", "timestamp": "2026-11-24T11:00:00Z",
                       "session": {"start": "2026-11-24T10:00:00Z", "end": "2026-11-24T11:00:00Z",
                                   "energy_kwh": "10", "tariff_id": "STD"}})
    first, again = sink.ingest("A", end), sink.ingest("A", end)
    assert (first.status, again.status) == ("accepted", "duplicate")
    assert str(first.total_cost) == str(again.total_cost) == "3.57"
    invoices = client.get("/v1/invoices", query_string={"session_id": "BILL-1"}, headers=KEY).json["items"]
    lines = [line for inv in invoices for line in inv["lines"] if line.get("session_id") == "BILL-1"]
    assert len(lines) == 1

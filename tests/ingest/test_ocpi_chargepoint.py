"""OCPI 2.2.1 CDR push and the ChargePoint webhook, through the blueprints."""

from __future__ import annotations

import base64
import copy
import json
import time

import pytest

from connector.api.context import SINK_KEY
from connector.models import Tariff
from connector.security import hmac_sign
from tests.ingest.probe import SINKS, billed, build_sink, stored
from tests.paths import SHARED

CDR = json.loads((SHARED / "ocpi/spec-examples/2.2.1/cdr_example.json").read_text(encoding="utf-8"))
AUTH = {"Authorization": "Token " + base64.b64encode(b"ocpi-token-1").decode()}


def _keys(body: dict) -> set[str]:
    return set(body)


@pytest.mark.parametrize("kind", SINKS)
def test_ocpi_cdr_push_priced_once(ingest_app, kind, tmp_path) -> None:
    # the receiver prices with its own tariff table: here the CDR's tariff 12 (TIME 2.00/h, 5-min steps, 10 % VAT)
    sink = build_sink(kind, [Tariff.model_validate(CDR["tariffs"][0])], tmp_path)
    ingest_app.extensions[SINK_KEY] = sink
    client = ingest_app.test_client()
    res = client.post("/ocpi/2.2.1/cdrs", json=CDR, headers=AUTH)
    assert res.status_code == 201, res.json
    assert _keys(res.json) == {"data", "status_code", "status_message", "timestamp"}
    assert res.json["status_code"] == 1000
    assert res.json["data"]["total_cost"] == "4.40"  # 1.973 h → 2 h (step 300 s) × 2.00 + 10 % = CPO's 4.40
    assert res.headers["Location"].endswith("/ocpi/2.2.1/cdrs/BE-BEC-12345")
    session = stored(sink, "t1", "BE-BEC-12345")
    assert session["location_id"] == "LOC1" and session["id_tag"] == "012345678"
    assert session["reported_total_cost"] == {"excl_vat": "4.0", "incl_vat": "4.4"}
    again = client.post("/ocpi/2.2.1/cdrs", json=CDR, headers=AUTH)
    assert again.status_code == 200 and again.json["data"]["status"] == "duplicate"
    put = client.put("/ocpi/2.2.1/cdrs/BE/BEC/12345", json=CDR, headers={"Authorization": "Token ocpi-token-1"})
    assert put.json["data"]["status"] == "duplicate"
    got = client.get("/ocpi/2.2.1/cdrs/BE-BEC-12345", headers=AUTH)
    assert got.json["data"]["end"] == "2015-06-29T23:37:32+00:00"
    assert billed(sink, "t1", "BE-BEC-12345")["total_excl_vat"] == "4.0000"


def test_ocpi_errors_use_the_envelope(ingest_app) -> None:
    client = ingest_app.test_client()
    assert client.post("/ocpi/2.2.1/cdrs", json=CDR).status_code == 401
    wrong = client.post("/ocpi/2.2.1/cdrs", json=CDR, headers={"Authorization": "Token nope"})
    assert wrong.json["status_code"] == 2000
    broken = copy.deepcopy(CDR)
    del broken["end_date_time"]
    res = client.post("/ocpi/2.2.1/cdrs", json=broken, headers=AUTH)
    assert res.status_code == 400
    assert res.json["status_code"] == 2001 and res.json["status_message"].startswith("end_date_time")
    mismatch = client.put("/ocpi/2.2.1/cdrs/BE/BEC/999", json=CDR, headers=AUTH)
    assert mismatch.json["status_code"] == 2001 and "match the URL" in mismatch.json["status_message"]
    not_json = client.post("/ocpi/2.2.1/cdrs", data="x", headers=AUTH)
    assert not_json.json["status_code"] == 2001


CP_PAYLOAD = {"sessionID": 991, "startTime": "2026-11-24T10:00:00Z", "endTime": "2026-11-24T10:30:00Z",
              "Energy": 18.2, "stationID": "1:23456", "portNumber": 2, "userID": None}


def _signed(client, payload, secret="cp-secret", timestamp=None):
    body = json.dumps(payload).encode()
    headers = {**hmac_sign.sign(secret, timestamp, body), "Content-Type": "application/json"}
    return client.post("/v1/ingest/chargepoint/sessions", data=body, headers=headers)


def test_chargepoint_webhook_signed_mapped_and_idempotent(ingest_app, flat_sink) -> None:
    client = ingest_app.test_client()
    res = _signed(client, CP_PAYLOAD)
    assert res.status_code == 202, res.json
    assert res.json["total_cost"] == "6.50" and res.json["session_id"] == "CP-991"
    assert stored(flat_sink, "default", "CP-991")["evse_id"] == "2"
    assert _signed(client, CP_PAYLOAD).json["status"] == "duplicate"
    forged = _signed(client, CP_PAYLOAD, secret="guess")
    assert forged.status_code == 401 and forged.json["errors"][0] == {
        "field": "X-Evbill-Signature", "reason": "does not match the body"}
    replayed = _signed(client, {**CP_PAYLOAD, "sessionID": 990}, timestamp=int(time.time()) - 3600)
    assert replayed.status_code == 401 and replayed.json["errors"][0]["field"] == "X-Evbill-Timestamp"
    bad = _signed(client, {**CP_PAYLOAD, "sessionID": 992, "Energy": "lots"})
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert bad.json["errors"][0]["field"] == "session.energy_kwh"
    missing = _signed(client, {"sessionID": 993, "startTime": "2026-11-24T10:00:00Z"})
    assert missing.json["errors"][0] == {"field": "endTime", "reason": "required"}


def test_chargepoint_configurable_mapping(ingest_app, flat_sink) -> None:
    ingest_app.config["CHARGEPOINT_FIELD_MAPPING"] = {
        "session_id": "session.id", "start": "session.started", "end": "session.ended",
        "energy_kwh": "session.kwh", "station_id": "station.name"}
    res = _signed(ingest_app.test_client(), {
        "session": {"id": "abc", "started": "2026-11-24T10:00:00Z", "ended": "2026-11-24T11:00:00Z", "kwh": "10"},
        "station": {"name": "Lot 4"}})
    assert res.status_code == 202 and res.json["total_cost"] == "3.57"
    assert stored(flat_sink, "default", "CP-abc")["station_id"] == "Lot 4"


def test_chargepoint_corrected_session_is_refused_not_answered_with_the_old_bill(ingest_app, flat_sink) -> None:
    client = ingest_app.test_client()
    first = _signed(client, CP_PAYLOAD)
    assert first.status_code == 202 and first.json["total_cost"] == "6.50"
    again = _signed(client, CP_PAYLOAD)  # the same notification re-sent: its bill, once
    assert again.status_code == 200 and again.json["status"] == "duplicate"
    corrected = _signed(client, {**CP_PAYLOAD, "Energy": 20.0})  # same sessionID, other data
    assert corrected.status_code == 409 and corrected.mimetype == "application/problem+json"
    error = corrected.json["errors"][0]
    assert error["field"] == "session_id" and "credit note" in error["reason"]
    assert stored(flat_sink, "default", "CP-991")["energy_kwh"] == "18.2"  # the billed data is kept

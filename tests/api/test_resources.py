"""Tariffs with versions, customers, session events (idempotent), sessions with interim cost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.conftest import SESSION, TARIFF, A, assert_problem


def test_tariff_versions_pick_the_one_valid_at_session_start(client):
    r = client.post("/v1/tariffs", json=TARIFF, headers=A)
    assert r.status_code == 201 and r.headers["Location"].endswith("/v1/tariffs/T-EUR")
    assert_problem(client.post("/v1/tariffs", json=TARIFF, headers=A), 409, "id")
    v2 = {"effective_at": "2026-02-01T00:00:00Z", "policy": "apply_from_effective_time",
          "tariff": {**TARIFF, "elements": [{"price_components": [{"type": "ENERGY", "price": "0.40", "vat": "19"}]}]}}
    r = client.post("/v1/tariffs/T-EUR/versions", json=v2, headers=A)
    assert r.status_code == 201, r.text
    body = r.get_json()
    assert body["current_version"] == 2 and body["published_version"] == 2
    assert body["versions"] == [
        {"version_no": 1, "policy": None, "effective_at": None, "end_at": "2026-02-01T00:00:00+00:00"},
        {"version_no": 2, "policy": "apply_from_effective_time", "effective_at": "2026-02-01T00:00:00+00:00",
         "end_at": None}]
    january = client.post("/v1/rate", json={"session": SESSION, "tariff_id": "T-EUR"}, headers=A).get_json()
    february = {**SESSION, "start": "2026-02-03T14:00:00Z", "end": "2026-02-03T15:00:00Z"}
    feb = client.post("/v1/rate", json={"session": february, "tariff_id": "T-EUR"}, headers=A).get_json()
    assert january["invoice"]["amount_due"] == "3.57" and feb["invoice"]["amount_due"] == "4.76"
    assert [t["id"] for t in client.get("/v1/tariffs", headers=A).get_json()["items"]] == ["T-EUR"]
    assert client.get("/v1/tariffs/T-EUR", headers=A).get_json()["tariff"]["elements"][0]["price_components"][0][
        "price"] == "0.40"
    assert_problem(client.post("/v1/tariffs/T-EUR/versions", json={**v2, "policy": "whenever"}, headers=A), 422, "policy")
    assert_problem(client.post("/v1/tariffs/T-EUR/versions", json={**v2, "effective_at": "2026-02-01"}, headers=A),
                   422, "effective_at")
    assert_problem(client.post("/v1/tariffs/NOPE/versions", json=v2, headers=A), 404)


def test_customers_crud(client):
    body = {"id": "C-1", "name": "Ada", "email": "ada@example.org", "tax_region": "DE"}
    r = client.post("/v1/customers", json=body, headers=A)
    assert r.status_code == 201
    assert r.get_json() == {"id": "C-1", "customer_class": "public", "tax_region": "DE", "tax_exempt": False,
                            "name": "Ada", "email": "ada@example.org", "locale": "en_US", "invoice_per_session": False}
    assert_problem(client.post("/v1/customers", json=body, headers=A), 409)
    assert_problem(client.post("/v1/customers", json={"id": ""}, headers=A), 422, "id")
    assert_problem(client.post("/v1/customers", json={"id": "C-2", "colour": "red"}, headers=A), 422, "colour")
    r = client.patch("/v1/customers/C-1", json={"customer_class": "fleet", "tax_exempt": True}, headers=A)
    assert r.status_code == 200 and r.get_json()["customer_class"] == "fleet" and r.get_json()["name"] == "Ada"
    assert client.get("/v1/customers/C-1", headers=A).get_json()["tax_exempt"] is True
    assert [c["id"] for c in client.get("/v1/customers", headers=A).get_json()["items"]] == ["C-1"]
    assert_problem(client.patch("/v1/customers/C-1", json={"id": "C-9"}, headers=A), 422, "id")
    assert_problem(client.get("/v1/customers/C-404", headers=A), 404)


def _event(kind: str, **session) -> dict:
    return {"event_id": f"S-9:{kind}", "type": kind, "session_id": "S-9", "timestamp": "2026-01-13T14:00:00Z",
            "session": session}


def test_session_events_idempotent_and_priced_on_end(client):
    client.post("/v1/tariffs", json=TARIFF, headers=A)
    start = _event("start", start="2026-01-13T14:00:00Z", tariff_id="T-EUR", station_id="ST-1")
    r = client.post("/v1/sessions/events", json=start, headers=A)
    assert r.status_code == 202 and r.get_json()["status"] == "accepted"
    assert client.post("/v1/sessions/events", json=start, headers=A).get_json()["status"] == "duplicate"
    open_session = client.get("/v1/sessions/S-9", headers=A).get_json()
    assert open_session["status"] == "active" and open_session["rating"] is None
    assert open_session["interim"]["rating"]["final"] is False  # priced up to now
    end = _event("end", end="2026-01-13T15:00:00Z", energy_kwh="10")
    r = client.post("/v1/sessions/events", json=end, headers=A)
    assert r.status_code == 202, r.text
    assert r.get_json()["rating"]["invoice"]["amount_due"] == "3.57"
    again = client.post("/v1/sessions/events", json=end, headers=A)
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    assert again.get_json()["rating"] == r.get_json()["rating"]
    got = client.get("/v1/sessions/S-9", headers=A).get_json()
    assert got["status"] == "billed" and got["rating"]["invoice"]["gross_total"] == "3.57" and got["interim"] is None
    listed = client.get("/v1/sessions?station_id=ST-1", headers=A).get_json()["items"]
    assert [s["id"] for s in listed] == ["S-9"]
    assert client.get("/v1/sessions?station_id=other", headers=A).get_json()["items"] == []


def test_session_event_errors(client):
    assert_problem(client.post("/v1/sessions/events", json={"type": "start"}, headers=A), 422, "event_id")
    no_start = _event("update", energy_kwh="1")
    assert_problem(client.post("/v1/sessions/events", json=no_start, headers=A), 422, "session.start")
    r = client.post("/v1/sessions/events", json=_event("end", start="2026-01-13T14:00:00Z",
                                                         end="2026-01-13T15:00:00Z", energy_kwh="3"), headers=A)
    assert r.status_code == 202
    assert r.get_json()["billing_error"]["field"] == "session.tariff_id"
    assert_problem(client.get("/v1/sessions/unknown", headers=A), 404)


def test_interim_cost_grows_with_the_clock(client):
    client.post("/v1/tariffs", json={**TARIFF, "elements": [
        {"price_components": [{"type": "TIME", "price": "6.00", "vat": "0"}]}]}, headers=A)
    started = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    event = {"event_id": "open:start", "type": "start", "session_id": "OPEN", "timestamp": started,
             "session": {"start": started, "tariff_id": "T-EUR"}}
    assert client.post("/v1/sessions/events", json=event, headers=A).status_code == 202
    interim = client.get("/v1/sessions/OPEN", headers=A).get_json()["interim"]
    # 6.00 per hour, one hour (plus the test's few milliseconds) -> 6.00
    assert interim["rating"]["invoice"]["net_total"] == "6.00"

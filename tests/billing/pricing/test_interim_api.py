"""Trigger 2 end to end through the API: interim figures on the operator's interval, then the final bill."""

from __future__ import annotations

from tests.billing.pricing.conftest import H, event, ok, send, stored_events

# 0.30 EUR/kWh + 1.20 EUR/h charging, 19 % VAT, no step rounding beyond 1 Wh / 1 s
TARIFF = {"id": "T-INT", "currency": "EUR", "elements": [{"price_components": [
    {"type": "ENERGY", "price": "0.30", "vat": "19", "step_size": 1},
    {"type": "TIME", "price": "1.20", "vat": "19", "step_size": 1}]}]}


def _setup(client):
    ok(client.post("/v1/tariffs", json=TARIFF, headers=H), 201)
    send(client,
         event("S-I", "start", "2026-01-13T14:00:00Z", start="2026-01-13T14:00:00Z", tariff_id="T-INT"),
         event("S-I", "update", "2026-01-13T14:30:00Z", samples=[["2026-01-13T14:30:00Z", "5"]]))


def test_interim_on_interval_then_final_equals_interim_plus_after(client):
    _setup(client)
    first = ok(client.post("/v1/billing/interim", json={"as_of": "2026-01-13T14:30:00Z"}, headers=H))
    assert first["emitted"] == 1
    item = first["results"][0]
    # 5 kWh x 0.30 = 1.50 + 0.5 h x 1.20 = 0.60 -> net 2.10, VAT 0.40 (0.399) -> 2.50
    assert (item["session_id"], item["amount_due"], item["currency"]) == ("S-I", "2.50", "EUR")
    assert item["total_cost"] == {"excl_vat": "2.1000", "incl_vat": "2.4990"}
    # within the default 15-minute interval: nothing is due
    assert ok(client.post("/v1/billing/interim", json={"as_of": "2026-01-13T14:40:00Z"}, headers=H))["emitted"] == 0
    events = stored_events(client, "session.interim")
    assert len(events) == 1 and events[0]["id"] == item["event_id"]
    data = events[0]["data"]
    assert data["as_of"] == "2026-01-13T14:30:00+00:00" and data["session"]["id"] == "S-I"
    assert data["rating"]["final"] is False and data["rating"]["invoice"]["amount_due"] == "2.50"
    stored = ok(client.get("/v1/billing/sessions/S-I", headers=H))["interim"]
    assert (stored["amount_due"], stored["count"]) == ("2.50", 1)

    send(client, event("S-I", "end", "2026-01-13T15:00:00Z", end="2026-01-13T15:00:00Z", energy_kwh="10"))
    final = ok(client.get("/v1/sessions/S-I", headers=H))["rating"]
    # after the interim: 5 kWh x 0.30 + 0.5 h x 1.20 = 2.10 net; 2.10 + 2.10 = 4.20 net, VAT 0.80, 5.00 gross
    assert final["invoice"]["net_total"] == "4.20" and final["invoice"]["amount_due"] == "5.00"
    assert final["total_cost"]["excl_vat"] == "4.2000"
    # ended sessions get no more interim figures
    assert ok(client.post("/v1/billing/interim", json={"as_of": "2026-01-13T16:00:00Z"}, headers=H))["emitted"] == 0


def test_interval_is_per_operator_and_force_overrides(client):
    _setup(client)
    settings = ok(client.put("/v1/billing/settings", json={"interim_interval_minutes": 5}, headers=H))
    assert settings["interim_interval_minutes"] == 5
    assert ok(client.post("/v1/billing/interim", json={"as_of": "2026-01-13T14:30:00Z"}, headers=H))["emitted"] == 1
    assert ok(client.post("/v1/billing/interim", json={"as_of": "2026-01-13T14:34:59Z"}, headers=H))["emitted"] == 0
    later = ok(client.post("/v1/billing/interim", json={"as_of": "2026-01-13T14:35:00Z"}, headers=H))
    # 14:35: energy stays 5 kWh (last sample), time 35 min x 1.20 = 0.70 -> net 2.20, VAT 0.42 -> 2.62
    assert later["emitted"] == 1 and later["results"][0]["amount_due"] == "2.62"
    forced = ok(client.post("/v1/billing/interim", json={"as_of": "2026-01-13T14:36:00Z", "force": True}, headers=H))
    assert forced["emitted"] == 1
    assert ok(client.get("/v1/billing/sessions/S-I", headers=H))["interim"]["count"] == 3
    assert len(stored_events(client, "session.interim")) == 3


def test_interim_input_errors(sqlite_client):
    from tests.api.conftest import assert_problem

    c = sqlite_client
    assert_problem(c.post("/v1/billing/interim", json={"as_of": "yesterday"}, headers=H), 422, "as_of")
    assert_problem(c.post("/v1/billing/interim", json={"as_of": "2026-01-13T14:30:00"}, headers=H), 422, "as_of")
    assert_problem(c.post("/v1/billing/interim", json={"force": "yes"}, headers=H), 422, "force")
    assert_problem(c.put("/v1/billing/settings", json={"interim_interval_minutes": 0}, headers=H), 422,
                   "interim_interval_minutes")
    assert_problem(c.get("/v1/billing/sessions/nope", headers=H), 404)

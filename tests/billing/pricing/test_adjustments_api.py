"""Adjustments engine through the API: class discount, promo code (limits, window, classes), peak and card
surcharges, the monthly-capped government incentive and its report; exact money on the final bills."""

from __future__ import annotations

from tests.api.conftest import assert_problem
from tests.billing.pricing.conftest import H, event, ok, send

TARIFF = {"id": "T-ADJ", "currency": "EUR", "elements": [{"price_components": [
    {"type": "ENERGY", "price": "0.30", "vat": "19", "step_size": 1}]}]}
SETTINGS = {"interim_interval_minutes": 15, "rules": {
    "class_discounts": [{"customer_class": "member", "percent": "10"}],
    "peak_surcharge": {"start_time": "17:00", "end_time": "20:00", "percent": "20"},
    "card_fee": {"fixed": "0.50"},
    "incentive": {"per_kwh": "0.10", "monthly_cap": "1.50"}}}
WELCOME = {"code": "WELCOME", "kind": "fixed", "value": "1.00", "max_uses": 2, "max_uses_per_customer": 1,
           "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2026-02-01T00:00:00Z"}


def _start(client, sid, at, customer, **extra):
    send(client, event(sid, "start", at, start=at, tariff_id="T-ADJ", customer_id=customer, **extra))


def _end(client, sid, at, kwh="10"):
    send(client, event(sid, "end", at, end=at, energy_kwh=kwh))
    return ok(client.get(f"/v1/sessions/{sid}", headers=H))["rating"]["invoice"]


def _setup(client):
    ok(client.post("/v1/tariffs", json=TARIFF, headers=H), 201)
    ok(client.post("/v1/customers", json={"id": "M1", "customer_class": "member"}, headers=H), 201)
    ok(client.post("/v1/customers", json={"id": "P1", "customer_class": "public"}, headers=H), 201)
    assert ok(client.put("/v1/billing/settings", json=SETTINGS, headers=H))["rules"]["card_fee"]["fixed"] == "0.50"
    ok(client.post("/v1/promotions", json=WELCOME, headers=H), 201)


def test_rules_promo_and_capped_incentive_on_final_bills(client):
    _setup(client)
    _start(client, "S1", "2026-01-13T18:00:00Z", "M1", payment_method="card")
    assert ok(client.post("/v1/promotions/WELCOME/redemptions", json={"session_id": "S1"}, headers=H),
              201)["status"] == "redeemed"
    assert ok(client.post("/v1/promotions/WELCOME/redemptions", json={"session_id": "S1"}, headers=H),
              200)["status"] == "already_redeemed"
    inv = _end(client, "S1", "2026-01-13T19:00:00Z")
    # 3.00 energy - 0.30 member 10 % - 1.00 WELCOME + 0.60 peak 20 % on energy + 0.50 card fee = 2.80 net,
    # VAT 0.53 (0.532) -> 3.33 gross; incentive 10 kWh x 0.10 = 1.00 (cap 1.50) -> 2.33 due
    nets = [(ln["kind"], ln["net"]) for ln in inv["lines"]]
    assert nets == [("charge", "3.00"), ("discount", "-0.30"), ("discount", "-1.00"), ("surcharge", "0.60"),
                    ("surcharge", "0.50"), ("incentive", "-1.00")]
    assert (inv["net_total"], inv["tax_total"], inv["gross_total"]) == ("2.80", "0.53", "3.33")
    assert (inv["incentive_total"], inv["amount_due"]) == ("1.00", "2.33")
    # second session of the month: off-peak, no card, no code; only 0.50 of the incentive cap is left
    _start(client, "S2", "2026-01-20T10:00:00Z", "M1")
    inv2 = _end(client, "S2", "2026-01-20T11:00:00Z")
    # 3.00 - 0.30 = 2.70 net, VAT 0.51 (0.513) -> 3.21; incentive min(1.00, 1.50 - 1.00) = 0.50 -> 2.71
    assert (inv2["net_total"], inv2["gross_total"], inv2["incentive_total"], inv2["amount_due"]) == (
        "2.70", "3.21", "0.50", "2.71")
    # next month the cap starts again
    _start(client, "S3", "2026-02-02T10:00:00Z", "M1")
    assert _end(client, "S3", "2026-02-02T11:00:00Z")["incentive_total"] == "1.00"
    report = ok(client.get("/v1/billing/incentives?month=2026-01", headers=H))
    assert report["customers"] == [{"customer_id": "M1", "currency": "EUR", "sessions": 2,
                                    "energy_kwh": "20.0000", "amount": "1.50"}]
    assert report["totals"] == {"EUR": "1.50"}
    assert [s["session_id"] for s in report["sessions"]] == ["S1", "S2"]
    csv_text = client.get("/v1/billing/incentives?month=2026-01&format=csv", headers=H).get_data(as_text=True)
    assert csv_text.splitlines() == ["month,customer_id,currency,sessions,energy_kwh,amount",
                                     "2026-01,M1,EUR,2,20.0000,1.50"]
    assert ok(client.get("/v1/billing/incentives?month=2026-02", headers=H))["totals"] == {"EUR": "1.00"}


def test_interim_applies_the_same_adjustments(client):
    _setup(client)
    _start(client, "S1", "2026-01-13T18:00:00Z", "M1", payment_method="card")
    ok(client.post("/v1/promotions/WELCOME/redemptions", json={"session_id": "S1"}, headers=H), 201)
    send(client, event("S1", "update", "2026-01-13T18:30:00Z", samples=[["2026-01-13T18:30:00Z", "5"]]))
    run = ok(client.post("/v1/billing/interim", json={"as_of": "2026-01-13T18:30:00Z"}, headers=H))
    # 1.50 - 0.15 - 1.00 + 0.30 + 0.50 = 1.15 net, VAT 0.22 -> 1.37; incentive 5 x 0.10 = 0.50 -> 0.87
    assert run["results"][0]["amount_due"] == "0.87"


def test_promotion_limits_window_and_classes(client):
    _setup(client)
    _start(client, "S1", "2026-01-13T10:00:00Z", "M1")
    _start(client, "S2", "2026-01-14T10:00:00Z", "M1")
    _start(client, "S3", "2026-01-15T10:00:00Z", "P1")
    _start(client, "S4", "2026-01-16T10:00:00Z", "P1")
    _start(client, "S5", "2026-03-01T10:00:00Z", "P1")
    ok(client.post("/v1/promotions/WELCOME/redemptions", json={"session_id": "S1"}, headers=H), 201)
    assert_problem(client.post("/v1/promotions/WELCOME/redemptions", json={"session_id": "S2"}, headers=H), 422,
                   "code")  # once per customer
    ok(client.post("/v1/promotions/WELCOME/redemptions", json={"session_id": "S3"}, headers=H), 201)
    body = assert_problem(client.post("/v1/promotions/WELCOME/redemptions", json={"session_id": "S4"}, headers=H),
                          422, "code")
    assert "limit of 2 uses" in body["detail"]
    assert_problem(client.post("/v1/promotions/WELCOME/redemptions", json={"session_id": "S5"}, headers=H), 422,
                   "code")  # outside the validity window
    ok(client.post("/v1/promotions", json={"code": "FLEET50", "kind": "percent", "value": "50",
                                           "customer_classes": ["fleet"]}, headers=H), 201)
    assert_problem(client.post("/v1/promotions/FLEET50/redemptions", json={"session_id": "S4"}, headers=H), 422,
                   "code")  # P1 is public
    assert_problem(client.post("/v1/promotions/FLEET50/redemptions", json={"session_id": "S1"}, headers=H), 409)
    assert_problem(client.post("/v1/promotions/NOPE/redemptions", json={"session_id": "S1"}, headers=H), 404)
    assert_problem(client.post("/v1/promotions/WELCOME/redemptions", json={"session_id": "nope"}, headers=H), 404)
    listed = ok(client.get("/v1/promotions", headers=H))["items"]
    assert [(p["code"], p["uses"], p["value"]) for p in listed] == [("FLEET50", 0, "50"), ("WELCOME", 2, "1.00")]
    # a billed session cannot take a code any more
    _end(client, "S4", "2026-01-16T11:00:00Z")
    ok(client.post("/v1/promotions", json={"code": "LATE", "kind": "fixed", "value": "1"}, headers=H), 201)
    assert_problem(client.post("/v1/promotions/LATE/redemptions", json={"session_id": "S4"}, headers=H), 409)


def test_promotion_and_settings_validation(sqlite_client):
    c = sqlite_client
    ok(c.post("/v1/promotions", json=WELCOME, headers=H), 201)
    assert_problem(c.post("/v1/promotions", json=WELCOME, headers=H), 409)
    assert_problem(c.post("/v1/promotions", json={**WELCOME, "code": "P2", "kind": "percent", "value": "150"},
                          headers=H), 422, "value")
    assert_problem(c.post("/v1/promotions", json={**WELCOME, "code": "bad code"}, headers=H), 422, "code")
    assert_problem(c.post("/v1/promotions", json={**WELCOME, "code": "P3", "valid_until": "2025-01-01T00:00:00Z"},
                          headers=H), 422, "valid_until")
    assert_problem(c.post("/v1/promotions/WELCOME/redemptions", json={}, headers=H), 422, "session_id")
    peak = {"rules": {"peak_surcharge": {"start_time": "17:00", "end_time": "20:00"}}}
    assert_problem(c.put("/v1/billing/settings", json=peak, headers=H), 422)
    assert_problem(c.put("/v1/billing/settings", json={"rules": {"surprise": {}}}, headers=H), 422)
    assert_problem(c.get("/v1/billing/incentives?month=2026-13", headers=H), 422, "month")
    assert_problem(c.get("/v1/billing/incentives", headers=H), 400, "month")

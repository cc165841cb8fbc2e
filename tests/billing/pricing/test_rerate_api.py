"""Trigger 4 end to end through the API: publishing a tariff version re-rates open sessions under the
policy (recorded + ``session.rerated``); billed sessions change only by an explicit correction."""

from __future__ import annotations

from tests.api.conftest import assert_problem
from tests.billing.pricing.conftest import H, event, ok, send, stored_events

# energy only, 19 % VAT: 10 kWh -> 3.00 net, 0.57 VAT, 3.57 gross
V1 = {"id": "T-RR", "currency": "EUR", "elements": [{"price_components": [
    {"type": "ENERGY", "price": "0.30", "vat": "19", "step_size": 1}]}]}
V2 = {"currency": "EUR", "elements": [{"price_components": [
    {"type": "ENERGY", "price": "0.50", "vat": "19", "step_size": 1}]}]}


def _open_session(client, session_id="S-R"):
    send(client,
         event(session_id, "start", "2026-01-13T14:00:00Z", start="2026-01-13T14:00:00Z", tariff_id="T-RR"),
         event(session_id, "update", "2026-01-13T15:00:00Z",
               samples=[["2026-01-13T14:30:00Z", "5"], ["2026-01-13T15:00:00Z", "10"]]))


def _publish(client, policy, effective_at="2026-01-13T14:30:00Z"):
    body = {"effective_at": effective_at, "policy": policy, "tariff": V2}
    return ok(client.post("/v1/tariffs/T-RR/versions", json=body, headers=H), 201)["rerating"]


def test_apply_from_effective_time_splits_open_sessions_and_the_final_bill_follows(client):
    ok(client.post("/v1/tariffs", json=V1, headers=H), 201)
    _open_session(client)
    rerating = _publish(client, "apply_from_effective_time")
    assert (rerating["policy"], rerating["changed"], rerating["unchanged"]) == ("apply_from_effective_time", 1, 0)
    # before: 10 kWh x 0.30 = 3.00 (3.57 gross); after: 5 x 0.30 + 5 x 0.50 = 4.00 net, 0.76 VAT, 4.76 gross
    assert rerating["sessions"][0]["difference"] == {"net": "1.00", "gross": "1.19"}
    events = stored_events(client, "session.rerated")
    assert len(events) == 1
    data = events[0]["data"]
    assert data["policy"] == "apply_from_effective_time" and data["session"]["id"] == "S-R"
    assert data["before"]["invoice"]["gross_total"] == "3.57" and data["after"]["invoice"]["gross_total"] == "4.76"
    assert data["difference"] == {"net": "1.00", "gross": "1.19"}
    history = ok(client.get("/v1/billing/sessions/S-R", headers=H))["rerates"]
    assert [(h["version_no"], h["outcome"], h["difference"]["net"]) for h in history] == [(2, "changed", "1.00")]
    # the interim and the final bill use the same policy as the re-rating
    interim = ok(client.post("/v1/billing/interim", json={"as_of": "2026-01-13T15:00:00Z"}, headers=H))
    assert interim["results"][0]["amount_due"] == "4.76"
    send(client, event("S-R", "end", "2026-01-13T15:00:00Z", end="2026-01-13T15:00:00Z", energy_kwh="10"))
    final = ok(client.get("/v1/sessions/S-R", headers=H))
    assert final["status"] == "billed" and final["rating"]["invoice"]["amount_due"] == "4.76"


def test_a_version_that_leaves_the_bill_as_it_was_is_unchanged(client):
    """Same price from 14:30: the open session is cut into two periods, but its bill differs by 0.00, so the
    re-rating says unchanged and emits no ``session.rerated``."""
    ok(client.post("/v1/tariffs", json=V1, headers=H), 201)
    _open_session(client)
    body = {"effective_at": "2026-01-13T14:30:00Z", "policy": "apply_from_effective_time",
            "tariff": {**V2, "elements": V1["elements"]}}
    rerating = ok(client.post("/v1/tariffs/T-RR/versions", json=body, headers=H), 201)["rerating"]
    assert (rerating["changed"], rerating["unchanged"]) == (0, 1)
    assert (rerating["sessions"][0]["outcome"], rerating["sessions"][0]["difference"]) == (
        "unchanged", {"net": "0.00", "gross": "0.00"})
    assert stored_events(client, "session.rerated") == []


def test_price_lock_keeps_running_sessions_on_the_old_version(client):
    ok(client.post("/v1/tariffs", json=V1, headers=H), 201)
    _open_session(client)
    rerating = _publish(client, "price_lock_at_start")
    assert (rerating["changed"], rerating["unchanged"]) == (0, 1)
    assert rerating["sessions"][0]["difference"] == {"net": "0.00", "gross": "0.00"}
    assert stored_events(client, "session.rerated") == []
    history = ok(client.get("/v1/billing/sessions/S-R", headers=H))["rerates"]
    assert [(h["policy"], h["outcome"]) for h in history] == [("price_lock_at_start", "unchanged")]
    # a session starting after the effective time gets the new price; the locked one keeps 0.30
    send(client, event("S-NEW", "start", "2026-01-13T16:00:00Z", start="2026-01-13T16:00:00Z", tariff_id="T-RR"),
         event("S-NEW", "end", "2026-01-13T17:00:00Z", end="2026-01-13T17:00:00Z", energy_kwh="10"),
         event("S-R", "end", "2026-01-13T15:00:00Z", end="2026-01-13T15:00:00Z", energy_kwh="10"))
    assert ok(client.get("/v1/sessions/S-R", headers=H))["rating"]["invoice"]["amount_due"] == "3.57"
    # 10 x 0.50 = 5.00 net, 0.95 VAT
    assert ok(client.get("/v1/sessions/S-NEW", headers=H))["rating"]["invoice"]["amount_due"] == "5.95"


def test_billed_sessions_change_only_by_an_explicit_correction(client):
    ok(client.post("/v1/tariffs", json=V1, headers=H), 201)
    send(client, event("S-B", "start", "2026-01-13T14:00:00Z", start="2026-01-13T14:00:00Z", tariff_id="T-RR"),
         event("S-B", "end", "2026-01-13T15:00:00Z", end="2026-01-13T15:00:00Z", energy_kwh="10"))
    billed = ok(client.get("/v1/sessions/S-B", headers=H))
    assert billed["status"] == "billed" and billed["rating"]["invoice"]["amount_due"] == "3.57"
    # a version effective before the session started (a wrong price fixed retroactively)
    rerating = _publish(client, "apply_from_effective_time", effective_at="2026-01-13T00:00:00Z")
    assert rerating["sessions"] == []  # closed sessions are never silently changed
    assert ok(client.get("/v1/sessions/S-B", headers=H))["rating"]["invoice"]["amount_due"] == "3.57"
    assert_problem(client.post("/v1/billing/corrections", json={"session_ids": ["S-B"]}, headers=H), 422, "reason")
    assert_problem(client.post("/v1/billing/corrections", json={"session_ids": ["nope"], "reason": "x"}, headers=H),
                   404)
    run = ok(client.post("/v1/billing/corrections", json={"session_ids": ["S-B"], "reason": "energy price was wrong"},
                         headers=H))
    item = run["sessions"][0]
    # 10 kWh x 0.50 = 5.00 net, 5.95 gross: +2.00 net, +2.38 gross
    assert (item["outcome"], item["difference"]) == ("corrected", {"net": "2.00", "gross": "2.38"})
    assert ok(client.get("/v1/sessions/S-B", headers=H))["rating"]["invoice"]["amount_due"] == "5.95"
    assert stored_events(client, "session.rerated")[0]["data"]["policy"] == "correction"
    again = ok(client.post("/v1/billing/corrections", json={"session_ids": ["S-B"], "reason": "again"}, headers=H))
    assert again["sessions"][0]["outcome"] == "unchanged"


def test_correction_of_a_finalized_invoice_is_a_credit_note_plus_new_lines(client):
    ok(client.post("/v1/tariffs", json=V1, headers=H), 201)
    send(client, event("S-F", "start", "2026-01-13T14:00:00Z", start="2026-01-13T14:00:00Z", tariff_id="T-RR"),
         event("S-F", "end", "2026-01-13T15:00:00Z", end="2026-01-13T15:00:00Z", energy_kwh="10"))
    invoice_id = ok(client.get("/v1/invoices", headers=H))["items"][0]["id"]
    ok(client.post(f"/v1/invoices/{invoice_id}/finalize", headers=H))
    _publish(client, "price_lock_at_start", effective_at="2026-01-13T00:00:00Z")
    run = ok(client.post("/v1/billing/corrections", json={"session_ids": ["S-F"], "reason": "retroactive price"},
                         headers=H))
    correction = run["sessions"][0]["correction"]
    note = correction["credit_note"]
    assert note["kind"] == "credit_note" and note["credit_note_of"] == invoice_id
    assert note["gross_total"] == "3.57"  # the old lines credited in full
    assert correction["invoice_id"] != invoice_id and correction["invoice"]["gross_total"] == "5.95"
    assert ok(client.get(f"/v1/invoices/{invoice_id}", headers=H))["gross_total"] == "3.57"  # never edited


def test_open_session_cannot_be_corrected(sqlite_client):
    c = sqlite_client
    ok(c.post("/v1/tariffs", json=V1, headers=H), 201)
    _open_session(c)
    assert_problem(c.post("/v1/billing/corrections", json={"session_ids": ["S-R"], "reason": "x"}, headers=H), 422,
                   "session_ids")


def test_rerating_must_follow_the_published_policy(sqlite_client):
    import pytest
    from sqlalchemy.orm import Session

    from connector.billing.pricing.rerating import RerateError, on_tariff_published
    from tests.billing.pricing.conftest import TENANT

    c = sqlite_client
    ok(c.post("/v1/tariffs", json=V1, headers=H), 201)
    _publish(c, "price_lock_at_start")
    with Session(c.application.extensions["evbill.engine"]) as db, pytest.raises(RerateError) as err:
        on_tariff_published(db, TENANT, "T-RR", 2, "apply_from_effective_time")
    assert err.value.field == "policy" and "published with price_lock_at_start" in err.value.reason

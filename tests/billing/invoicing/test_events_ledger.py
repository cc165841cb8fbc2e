"""Events in the outbox (same transaction as the change), incentives/discounts in the journal, the journal's
guards (balanced, append-only) and correct_session (credit note + new lines, never a silent edit)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.billing.invoicing import sessions as service
from connector.billing.ledger import journal as ledger
from connector.models.customer import Adjustment, AdjustmentKind
from connector.storage.tables.billing import JournalLineRow
from connector.storage.tables.outbox import EventRow
from connector.validation import NotFound
from tests.billing.invoicing.conftest import A, ingest, setup_tenant


def _db(app) -> Session:
    return Session(app.extensions["evbill.engine"])


def _events(app, type_: str) -> list[dict]:
    with _db(app) as db:
        rows = db.scalars(select(EventRow).where(EventRow.type == type_).order_by(EventRow.created_at)).all()
        return [r.data for r in rows]


def test_events_carry_the_pinned_invoice(app, client):
    setup_tenant(client)
    billed = ingest(client, "S-1", customer="C-1")["billing"]
    ingest(client, "S-1", customer="C-1")  # duplicate: no second event
    [event] = _events(app, "session.billed")
    assert event["session"]["id"] == "S-1" and event["rating"]["invoice"]["amount_due"] == "3.57"
    invoice = event["invoice"]
    # the invoice's summary (its lines are one GET away) and the session's own lines
    assert set(invoice) == {"id", "tenant_id", "number", "status", "kind", "credit_note_of", "customer", "currency",
                            "issued_at", "period_start", "period_end", "paid_at", "reason", "net_total", "tax_total",
                            "gross_total", "incentive_total", "amount_due"}
    assert set(event["lines"][0]) == {"id", "session_id", "station_id", "session_start", "session_end",
                                      "time_zone", "kind", "category", "description",
                                      "quantity", "unit", "unit_price", "net", "taxes", "tax", "gross"}
    assert [ln["session_id"] for ln in event["lines"]] == ["S-1"] and event["lines"] == billed["lines"]
    assert (invoice["id"], invoice["gross_total"], invoice["tenant_id"]) == (billed["invoice_id"], "3.57", "A")
    [posted] = _events(app, "journal.posted")
    assert posted["entry"]["reference"] == "S-1" and len(posted["entry"]["lines"]) == 3
    inv_id = billed["invoice_id"]
    client.post(f"/v1/invoices/{inv_id}/finalize", headers=A)
    client.post(f"/v1/invoices/{inv_id}/credit-notes", json={"amount": "1.00"}, headers=A)
    client.post(f"/v1/invoices/{inv_id}/mark-paid", headers=A)
    assert _events(app, "invoice.finalized")[0]["invoice"]["number"] == "INV-000001"
    assert _events(app, "credit_note.issued")[0]["invoice"]["gross_total"] == "1.00"
    assert _events(app, "invoice.paid")[0]["invoice"]["status"] == "paid"
    # a refused transition leaves no event behind (rolled back with the change)
    assert client.post(f"/v1/invoices/{inv_id}/void", headers=A).status_code == 409
    assert _events(app, "invoice.voided") == []


def test_incentive_and_discount_post_to_their_accounts(app, client, monkeypatch):
    setup_tenant(client)
    chosen = (Adjustment(kind=AdjustmentKind.DISCOUNT_PERCENT, name="Member", value=Decimal("10")),
              Adjustment(kind=AdjustmentKind.INCENTIVE_PER_KWH, name="Gov kWh credit", value=Decimal("0.05"),
                         cap=Decimal("0.40")))
    from connector.billing.pricing import adjustments

    monkeypatch.setattr(adjustments, "adjustments_for", lambda *_, **__: chosen)
    billed = ingest(client, "S-I", customer="C-1")["billing"]
    invoice = {**billed["invoice"], "lines": billed["lines"]}
    # 3.00 energy - 0.30 discount = 2.70 net, 0.51 VAT, 3.21 gross; incentive min(10 * 0.05, 0.40) = 0.40
    assert [(ln["kind"], ln["category"], ln["net"], ln["tax"]) for ln in invoice["lines"]] == [
        ("charge", "energy", "3.00", "0.57"), ("discount", "adjustment", "-0.30", "-0.06"), ("incentive", "incentive", "-0.40", "0.00")]
    assert (invoice["net_total"], invoice["tax_total"], invoice["gross_total"], invoice["incentive_total"],
            invoice["amount_due"]) == ("2.70", "0.51", "3.21", "0.40", "2.81")
    [entry] = client.get("/v1/ledger/entries", query_string={"reference": "S-I"}, headers=A).get_json()["items"]
    assert {(ln["account"], ln["debit"], ln["credit"]) for ln in entry["lines"]} == {
        ("1200", "2.81", "0.00"), ("1300", "0.40", "0.00"), ("4000", "0.00", "3.00"), ("4090", "0.30", "0.00"), ("2200", "0.00", "0.51")}


def test_journal_refuses_unbalanced_and_edits(app, client):
    setup_tenant(client)
    ingest(client, "S-1", customer="C-1")
    with _db(app) as db:
        with pytest.raises(ledger.UnbalancedEntry) as err:
            ledger.post_entry(db, "A", currency="EUR", memo="bad", reference=None, source="test",
                              postings=[("1200", 100, "x"), ("4000", -99, "y")])
        assert err.value.field == "lines"
        line = db.scalars(select(JournalLineRow)).first()
        line.debit += 1
        with pytest.raises(PermissionError):
            db.flush()
        db.rollback()
        db.delete(db.scalars(select(JournalLineRow)).first())
        with pytest.raises(PermissionError):
            db.flush()


def test_correct_session_credits_the_finalized_lines_and_rebills(app, client):
    setup_tenant(client)
    inv_id = ingest(client, "S-R", customer="C-1")["billing"]["invoice_id"]
    client.post(f"/v1/invoices/{inv_id}/finalize", headers=A)
    with _db(app) as db:
        row = service._lock_session(db, "A", "S-R")
        row.document = {**row.document, "energy_kwh": "12"}  # the meter was read again
        new_rating = service.rate_session(db, "A", row, None)
        out = service.correct_session(db, "A", "S-R", new_rating, "meter re-read")
        db.commit()
    assert out["credit_note"]["number"] == "CN-000001" and out["credit_note"]["gross_total"] == "3.57"
    assert out["invoice_id"] != inv_id and out["difference"] == {"net": "0.60", "gross": "0.71"}
    assert [ln["gross"] for ln in out["invoice"]["lines"]] == ["4.28"]  # 12 kWh: 3.60 + 0.68
    items = client.get("/v1/invoices", query_string={"session_id": "S-R"}, headers=A).get_json()["items"]
    assert sorted((i["kind"], i["status"], i["gross_total"]) for i in items) == [
        ("credit_note", "finalized", "3.57"), ("invoice", "draft", "4.28"), ("invoice", "finalized", "3.57")]
    # on a draft the lines are replaced (with a reversing journal entry), no credit note
    with _db(app) as db:
        again = service.correct_session(db, "A", "S-R", new_rating, "same again")
        db.commit()
    assert again["credit_note"] is None and again["invoice_id"] == out["invoice_id"]
    assert again["difference"] == {"net": "0.00", "gross": "0.00"}
    entries = client.get("/v1/ledger/entries", query_string={"reference": "S-R", "limit": 50}, headers=A).get_json()
    assert sorted(e["source"] for e in entries["items"]) == ["session.billed", "session.corrected",
                                                              "session.corrected", "session.corrected"]
    with _db(app) as db:
        with pytest.raises(ValueError) as err:
            service.correct_session(db, "A", "S-R", {**new_rating, "currency": "CHF"}, "x")
        assert err.value.field == "new_rating.currency"
        with pytest.raises(NotFound):
            service.correct_session(db, "A", "S-UNKNOWN", new_rating, "x")

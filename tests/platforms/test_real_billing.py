"""The finance adapters on events the real billing service emits (API app on a temp SQLite: sessions
ingested, invoice finalized, credit notes by line and by amount), not on hand-made JSON: every built body
validates against the vendor schema and carries exactly the invoice's minor-unit totals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.platforms.adapters import paypal, plaid, quickbooks, square, stripe, xero
from connector.storage.tables.outbox import EventRow
from tests.billing.invoicing.conftest import A, ingest, make_app, setup_tenant
from tests.platforms.fakes.paypal import paypal_amounts
from tests.platforms.fakes.square import order_money
from tests.platforms.schemas import schema_errors


@pytest.fixture
def events(tmp_path: Any) -> dict[str, list[dict[str, Any]]]:
    app = make_app(f"sqlite:///{tmp_path / 'billing.db'}")
    client = app.test_client()
    setup_tenant(client)
    inv_id = ingest(client, "S-1", customer="C-1")["billing"]["invoice_id"]  # 3.00 + 0.57 VAT
    ingest(client, "S-2", customer="C-1", kwh="20")  # 6.00 + 1.14 VAT
    done = client.post(f"/v1/invoices/{inv_id}/finalize", headers=A).get_json()
    line_s2 = next(ln["id"] for ln in done["lines"] if ln["session_id"] == "S-2")
    assert client.post(f"/v1/invoices/{inv_id}/credit-notes", json={"lines": [line_s2]}, headers=A).status_code == 201
    assert client.post(f"/v1/invoices/{inv_id}/credit-notes", json={"amount": "1.19"}, headers=A).status_code == 201
    draft = ingest(client, "S-3", customer="C-1", kwh="5")["billing"]["invoice_id"]  # 1.50 + 0.29 VAT, a new draft
    assert client.post(f"/v1/invoices/{draft}/void", headers=A).status_code == 200
    out: dict[str, list[dict[str, Any]]] = {}
    with Session(app.extensions["evbill.engine"]) as db:
        for row in db.scalars(select(EventRow).order_by(EventRow.created_at, EventRow.id)):
            out.setdefault(row.type, []).append({"id": row.id, "type": row.type, "tenant_id": row.tenant_id,
                                                 "created_at": row.created_at.isoformat(), "data": row.data})
    app.extensions["evbill.engine"].dispose()
    return out


def test_invoice_adapters_map_the_finalized_invoice_exactly(events: dict[str, list[dict[str, Any]]]) -> None:
    [final] = events["invoice.finalized"]
    inv = final["data"]["invoice"]
    assert (inv["status"], inv["number"], inv["currency"]) == ("finalized", "INV-000001", "EUR")
    assert stripe.minor(inv["amount_due"], "EUR", "amount_due") == 1071  # "10.71" (or billing's older "1071")
    # the drafts on session.billed are not invoices yet for Stripe/PayPal/Square/Xero
    for billed in events["session.billed"]:
        assert billed["data"]["invoice"]["status"] == "draft"
        assert all(m.skip_reason(billed) for m in (stripe, paypal, square, xero))
    cfg = stripe.StripeConfig(api_key="sk", customer_map={"C-1": "cus_1"})
    items = stripe.build_items(final, cfg, "in_1")
    assert all(schema_errors("stripe/invoiceitems_create.schema.json", b) == [] for _, b in items)
    taxes = stripe.build_line_taxes(final, cfg)  # tax as Stripe tax amounts on the lines
    assert sum(b["amount"] for _, b in items) + sum(t["amount"] for b in taxes.values()
                                                    for t in b["tax_amounts"]) == 1071
    pp = paypal.build_invoice(final, paypal.PayPalConfig(client_id="c", client_secret="s", invoicer_email="b@x.example"))
    assert schema_errors("paypal/invoices_create.schema.json", pp) == []
    assert paypal_amounts(pp) == (Decimal("9.00"), 0, Decimal("1.71"), 0)  # PayPal's item total and tax: ours
    sq = square.build_order(final, square.SquareConfig(access_token="t", location_id="L1"))
    assert schema_errors("square/orders_create.schema.json", sq) == []
    assert order_money(sq["order"]) == (900, 0, 171)  # Square's items, discounts, tax: ours
    xe = xero.build_invoices(final, xero.XeroConfig(client_id="c", client_secret="s", refresh_token="r",
                                                    xero_tenant_id="org"))
    assert schema_errors("xero/invoices_put.schema.json", xe) == []
    assert sum(li["LineAmount"] + li["TaxAmount"] for li in xe["Invoices"][0]["LineItems"]) == Decimal("10.71")
    with pytest.raises(ValueError, match="Plaid Transfer moves USD"):
        plaid.build_authorization(final, plaid.PlaidConfig(client_id="c", secret="s", accounts={
            "C-1": plaid.PlaidAccount(access_token="a", account_id="b", legal_name="Ada")}))


def test_quickbooks_posts_each_session_and_reverses_each_credit_note(events: dict[str, list[dict[str, Any]]]) -> None:
    cfg = quickbooks.QuickBooksConfig(realm_id="1", client_id="c", client_secret="s", refresh_token="r",
                                      receivable_account="84", tax_accounts={"VAT": "90"}, customer_map={"C-1": "58"})

    def ar(event: dict[str, Any]) -> tuple[str, Decimal]:
        body = quickbooks.build_journal_entry(event, cfg)
        assert schema_errors("quickbooks/journalentry_create.schema.json", body) == []
        sides = {"Debit": Decimal(0), "Credit": Decimal(0)}
        for ln in body["Line"]:
            sides[ln["JournalEntryLineDetail"]["PostingType"]] += ln["Amount"]
        assert sides["Debit"] == sides["Credit"]
        first = body["Line"][0]
        return first["JournalEntryLineDetail"]["PostingType"], first["Amount"]

    assert [ar(e) for e in events["session.billed"]] == [("Debit", Decimal("3.57")), ("Debit", Decimal("7.14")),
                                                         ("Debit", Decimal("1.79"))]
    assert [ar(e) for e in events["credit_note.issued"]] == [("Credit", Decimal("7.14")), ("Credit", Decimal("1.19"))]
    [voided] = events["invoice.voided"]
    assert ar(voided) == ("Credit", Decimal("1.79"))  # the voided draft's S-3 entry reversed
    keys = {quickbooks.request_id(e) for t in ("session.billed", "credit_note.issued", "invoice.voided")
            for e in events[t]}
    assert len(keys) == 6

"""Done-when: payments arrive through each payment platform (one paid, one partial, one failed then paid, one Plaid
return, and one invoice a second platform reports paid again): our invoices' paid status, ledger cash and the
reconciliation match what the vendors say, redeliveries change nothing, and nothing is marked paid twice."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connector import cli
from tests.billing.invoicing.conftest import A, setup_tenant
from tests.billing.payments.conftest import (
    SQUARE_KEY,
    STRIPE_SECRET,
    WEBHOOK_BASE,
    XERO_KEY,
    anomalies,
    configure,
    emitted,
    finalized_invoice,
    invoice,
    payments,
)
from tests.billing.payments.payloads import (
    body,
    paypal_event,
    paypal_invoice,
    plaid_event,
    square_headers,
    square_payment_made,
    stripe_event,
    stripe_headers,
    xero_headers,
    xero_invoice,
    xero_update,
)
from tests.billing.payments.test_sync import USD
from tests.billing.payments.vendors import XERO_ORG


def _cash(client: Any) -> dict[tuple[str, str], Decimal]:
    """Net debit of the cash account per (invoice, currency) over the whole journal."""
    out: dict[tuple[str, str], Decimal] = {}
    for entry in client.get("/v1/ledger/entries", query_string={"limit": 1000}, headers=A).get_json()["items"]:
        for ln in entry["lines"]:
            if ln["account"] == "1000":
                key = (entry["reference"], entry["currency"])
                out[key] = out.get(key, Decimal(0)) + Decimal(ln["debit"]) - Decimal(ln["credit"])
    return out


def test_month_end_payments_from_every_platform(app, client, vendors, http, tmp_path, db_url, capsys):
    setup_tenant(client)
    assert client.post("/v1/tariffs", json=USD, headers=A).status_code == 201
    configure(client, tmp_path, vendors, "stripe", "square", "xero", "paypal", "plaid")
    slot = iter(range(8, 20))

    def bill(sid: str, **kw: Any) -> dict[str, Any]:
        h = next(slot)
        return finalized_invoice(client, sid, start=f"2026-01-13T{h:02d}:00:00Z", end=f"2026-01-13T{h:02d}:30:00Z",
                                 **kw)

    paid, partial, retried, returned, by_xero = (bill("S-1"), bill("S-2"), bill("S-3"),
                                                 bill("S-4", tariff="T-USD"), bill("S-5"))
    assert [i["amount_due"] for i in (paid, partial, retried, returned, by_xero)] == ["3.57"] * 3 + ["4.00", "3.57"]

    def stripe(event: dict[str, Any]) -> None:
        payload = body(event)
        r = client.post(f"{WEBHOOK_BASE}/stripe/A", data=payload, headers=stripe_headers(payload, STRIPE_SECRET))
        assert r.status_code == 200, r.get_data(as_text=True)

    def square(event: dict[str, Any]) -> None:
        payload, url = body(event), f"{WEBHOOK_BASE}/square/A"
        assert client.post(url, data=payload, headers=square_headers(url, payload, SQUARE_KEY)).status_code == 200

    def xero(entropy: str) -> None:
        payload = body({**xero_update("X-5", XERO_ORG), "entropy": entropy})
        assert client.post(f"{WEBHOOK_BASE}/xero/A", data=payload,
                           headers=xero_headers(payload, XERO_KEY)).status_code == 200

    def paypal(event: dict[str, Any]) -> None:
        assert client.post(f"{WEBHOOK_BASE}/paypal/A", data=body(event),
                           headers=vendors.paypal_headers(event)).status_code == 200

    def sync() -> None:
        assert cli.main(["payments", "sync", "--url", db_url]) == 0
        capsys.readouterr()

    # vendors' side of the books
    vendors.square_orders["O-2"] = {"id": "O-2", "metadata": {"invoice_id": partial["id"]}}
    vendors.paypal_invoices["INV2-3"] = paypal_invoice("INV2-3", f"EV-{retried['number']}", "PAID", [("TX-3", "3.57")])
    vendors.xero_invoices["X-5"] = xero_invoice("X-5", by_xero["id"], [("P-5", "3.57")], "PAID")
    vendors.plaid_transfers["T-4"] = {"id": "T-4", "amount": "4.00", "iso_currency_code": "USD", "network": "ach",
                                      "metadata": {"invoice_id": returned["id"], "tenant_id": "A"}}
    vendors.plaid_events += [plaid_event(1, "T-4", "pending", "4.00"), plaid_event(2, "T-4", "settled", "4.00")]

    deliveries = [
        lambda: stripe(stripe_event("evt_1", "invoice.paid", paid["id"], amount_paid=357, status="paid",
                                    stripe_invoice="in_1")),
        lambda: square(square_payment_made("sq-2", "O-2", completed=200, computed=357, status="PARTIALLY_PAID")),
        lambda: stripe(stripe_event("evt_3f", "invoice.payment_failed", retried["id"], amount_paid=0, status="open",
                                    stripe_invoice="in_3")),
        lambda: paypal(paypal_event("WH-3", "INV2-3")),
        lambda: xero("first"),
        sync,
    ]
    for deliver in deliveries:
        deliver()
    vendors.plaid_events.append(plaid_event(3, "T-4", "returned", "4.00",
                                            {"failure_code": "R01", "description": "insufficient funds"}))
    sync()
    # Stripe, late, also reports the invoice PayPal settled: kept as a duplicate, never booked
    stripe(stripe_event("evt_3p", "invoice.paid", retried["id"], amount_paid=357, status="paid", stripe_invoice="in_3"))

    def state() -> tuple[Any, ...]:
        return (tuple(invoice(client, i["id"])["status"] for i in (paid, partial, retried, returned, by_xero)),
                _cash(client), len(emitted(app, "invoice.paid")))

    first = state()
    assert first[0] == ("paid", "finalized", "paid", "finalized", "paid")
    assert first[1] == {(paid["id"], "EUR"): Decimal("3.57"), (partial["id"], "EUR"): Decimal("2.00"),
                        (retried["id"], "EUR"): Decimal("3.57"), (returned["id"], "USD"): Decimal("0.00"),
                        (by_xero["id"], "EUR"): Decimal("3.57")}
    assert first[2] == 4  # paid, retried, the Plaid one before its return, by_xero: each once
    [dup] = [p for p in payments(client, retried["id"]) if p["status"] == "duplicate"]
    assert (dup["platform"], dup["amount_minor"], dup["entry_id"]) == ("stripe", 357, None)
    assert anomalies(client, "unexpected_payment")[0]["details"]["invoice_id"] == retried["id"]
    assert anomalies(client, "payment_failed")[0]["details"]["invoice_id"] == retried["id"]
    assert anomalies(client, "payment_returned")[0]["details"]["invoice_id"] == returned["id"]

    for deliver in deliveries:  # every vendor redelivers everything
        deliver()
    xero("first")
    assert state() == first

    r = client.post("/v1/reconciliations", json={"kind": "daily", "period": "2026-01-13"}, headers=A)
    report = r.get_json()
    by_currency = {c["currency"]: c for c in report["summary"]["by_currency"]}
    assert (by_currency["EUR"]["billed"], by_currency["EUR"]["paid"], by_currency["EUR"]["unpaid"]) == \
        ("14.28", "12.71", "1.57")
    assert (by_currency["USD"]["billed"], by_currency["USD"]["paid"]) == ("4.00", "0.00")
    assert report["summary"]["exceptions"] == {}

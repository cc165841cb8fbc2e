"""Done-when, the month-end close in two halves. Books: one month of sessions for three customers (EUR with VAT, USD
with state + city sales tax, ISK) goes through the real outbox worker to every finance platform's double, and each
double's receivables, revenue and tax equal ours to the minor unit. Payments: payments arrive through each payment
platform (one paid, one partial, one failed then paid, one Plaid return, and one invoice a second platform reports
paid again): our invoices' paid status, ledger cash and the reconciliation match what the vendors say,
redeliveries change nothing, and nothing is marked paid twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import cli
from connector.events import worker
from connector.events.deliveries import Policy
from connector.money import to_minor
from connector.storage.tables.outbox import DeliveryRow
from tests.billing.invoicing.conftest import A, ingest, setup_tenant
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
from tests.billing.payments.month_end_books import (  # noqa: F401 - books is a fixture
    CUSTOMERS,
    DAYS,
    NS_GROUP,
    QBO_CUSTOMER,
    SAP_DEBTOR,
    TARIFFS,
    ZOHO_GROUP,
    books,
    configure_books,
    quickbooks_books,
    sap_books,
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


def test_month_end_books_at_every_finance_platform(app, client, books, monkeypatch):  # noqa: F811 - fixture
    """One month of sessions for three customers (EUR with VAT, USD with state + city sales tax, ISK) through the
    real worker to every finance platform's double: each double's receivables, revenue and tax equal ours to the
    minor unit, in the vendor's own minor units."""
    for tariff in TARIFFS:
        assert client.post("/v1/tariffs", json=tariff, headers=A).status_code == 201
    for cid, name, _tariff, _kwh in CUSTOMERS:
        r = client.post("/v1/customers", json={"id": cid, "name": name, "email": f"{cid.lower()}@example.org",
                                               "customer_class": "fleet"}, headers=A)
        assert r.status_code == 201, r.get_data(as_text=True)
    engine = app.extensions["evbill.engine"]
    configure_books(engine, books, monkeypatch)
    drafts: dict[str, str] = {}
    for cid, _name, tariff, kwhs in CUSTOMERS:
        for day, kwh in zip(DAYS, kwhs, strict=True):
            out = ingest(client, f"S-{cid}-{day}", customer=cid, tariff=tariff, kwh=str(kwh),
                         start=f"2026-01-{day:02d}T08:00:00Z", end=f"2026-01-{day:02d}T09:00:00Z")
            drafts[cid] = out["billing"]["invoice_id"]
    ours: dict[str, dict[str, Any]] = {}
    for cid, invoice_id in drafts.items():
        r = client.post(f"/v1/invoices/{invoice_id}/finalize", headers=A)
        assert r.status_code == 200, r.get_data(as_text=True)
        ours[cid] = r.get_json()
    money = {cid: (inv["currency"], Decimal(inv["amount_due"]), Decimal(inv["net_total"]), Decimal(inv["tax_total"]))
             for cid, inv in ours.items()}
    assert money == {"C-EU": ("EUR", Decimal("53.55"), Decimal("45.00"), Decimal("8.55")),
                     "C-US": ("USD", Decimal("26.04"), Decimal("24.00"), Decimal("2.04")),
                     "C-IS": ("ISK", Decimal("3100"), Decimal("2500"), Decimal("600"))}

    now = datetime(2026, 2, 1, 1, tzinfo=UTC)
    for _ in range(4):
        worker.run_once(engine, now, policy=Policy(max_attempts=8, base_delay=1, max_delay=5))
        now += timedelta(minutes=10)
    with Session(engine) as db:
        rows = db.scalars(select(DeliveryRow).where(DeliveryRow.target.like("platform:%"))).all()
    # every delivery is sent; the USD customer's state + city sales tax reaches Zoho Books and NetSuite as the
    # tax group mapped for the two rates, each vendor levying it its own way
    assert {(r.target, r.status, r.last_error) for r in rows if r.status != "sent"} == set()

    by_id = {inv["id"]: cid for cid, inv in ours.items()}

    def units(cid: str, factor: int = 1) -> tuple[int, int, int]:
        """Our (receivable, revenue, tax) in a vendor's integer minor units: ISO digits times ``factor``."""
        cur, due, net, tax = money[cid]
        return tuple(to_minor(v, cur) * factor for v in (due, net, tax))  # type: ignore[return-value]

    # Stripe: ISK is two-decimal in its API (amounts x 100, ending in 00), so 3100 kr is 310000
    stripe_books = {by_id[i["params"]["metadata"]["invoice_id"]]: (i["total"], books["stripe"].revenue(i),
                                                                   books["stripe"].tax(i))
                    for i in books["stripe"].invoices.values()}
    assert stripe_books == {c: units(c, 100 if money[c][0] == "ISK" else 1) for c in ours}
    assert stripe_books["C-IS"] == (310000, 250000, 60000)
    assert all(i["status"] == "open" and i["sent"] == 1 for i in books["stripe"].invoices.values())
    # Square: ISO digits (ISK 0); its own order maths (taxes summed, rounded once) gives our tax
    square_books = {by_id[o["metadata"]["invoice_id"]]: books["square"].books(oid)
                    for oid, o in books["square"].orders.items()}
    assert square_books == {c: units(c) for c in ours} and square_books["C-IS"] == (3100, 2500, 600)
    assert sorted(i["status"] for i in books["square"].invoices.values()) == ["UNPAID"] * 3
    # PayPal computes each item's tax itself: total, items and tax are ours
    paypal_books = {by_id[i["body"]["detail"]["reference"]]: (i["total"], i["item_total"], i["tax"])
                    for i in books["paypal"].invoices.values()}
    assert paypal_books == {c: money[c][1:] for c in ours}
    assert {i["body"]["detail"]["currency_code"] for i in books["paypal"].invoices.values()} == {"EUR", "USD", "ISK"}
    # Plaid debits only the customer with a linked bank account, in USD, once
    assert [(t["amount"], by_id[t["metadata"]["invoice_id"]]) for t in books["plaid"].transfers.values()] == [
        ("26.04", "C-US")]
    # Xero: one AUTHORISED invoice each, lines and tax lines as ours
    xero_books = {by_id[i["body"]["Reference"]]: (
        i["total"], sum(ln["LineAmount"] for ln in i["body"]["LineItems"]),
        sum(ln.get("TaxAmount", Decimal(0)) for ln in i["body"]["LineItems"])) for i in books["xero"].invoices.values()}
    assert xero_books == {c: money[c][1:] for c in ours}
    # QuickBooks: a balanced journal entry per session; per customer the month adds up to the invoice
    assert len(books["quickbooks"].entries) == 12
    assert quickbooks_books(books["quickbooks"]) == {QBO_CUSTOMER[c]: money[c][1:] for c in ours}
    # Zoho Books: one invoice per invoice of ours (reference_number = our id), totals as Zoho computes them (its
    # tax per line), marked sent: its receivable (balance) is our amount due
    zoho = {by_id[i["reference_number"]]: (i["total"], i["sub_total"], i["tax_total"], i["customer_id"], i["status"],
                                           i["balance"]) for i in books["vendors"].zoho_invoices.values()}
    assert zoho == {c: (*money[c][1:], f"46{c}", "sent", money[c][1]) for c in ours}
    assert sorted(books["vendors"].zoho_invoices) == sorted(f"EV-{inv['number']}" for inv in ours.values())
    assert {li["tax_id"] for inv in books["vendors"].zoho_invoices.values() if inv["customer_id"] == "46C-US"
            for li in inv["line_items"]} == {ZOHO_GROUP}
    # FreshBooks: one invoice per finalized invoice, its own total (taxes per line) = our amount due
    fb = {i["customerid"]: Decimal(i["amount"]["amount"]) for i in books["vendors"].fb_invoices.values()}
    assert fb == {f"42{c}": money[c][1] for c in ours}
    # NetSuite: an Invoice per finalized invoice of ours, its tax levied by NetSuite from the mapped tax codes
    assert sorted(books["vendors"].ns_invoices) == sorted(f"eid:EV-{inv['number']}" for inv in ours.values())
    ns: dict[str, list[Decimal]] = {}
    for inv in books["vendors"].ns_invoices.values():
        acc = ns.setdefault(inv["entity"]["id"], [Decimal(0)] * 3)
        for i, key in enumerate(("total", "subtotal", "taxTotal")):
            acc[i] += inv[key]
    assert {k: tuple(v) for k, v in ns.items()} == {f"7{c}": money[c][1:] for c in ours}
    assert {i["taxCode"]["id"] for inv in books["vendors"].ns_invoices.values() if inv["entity"]["id"] == "7C-US"
            for i in inv["item"]["items"]} == {NS_GROUP}
    # SAP S/4HANA: a journal entry per session over SOAP; per debtor: receivable, revenue and tax are ours
    assert sap_books(books["vendors"]) == {SAP_DEBTOR[c]: money[c][1:] for c in ours}

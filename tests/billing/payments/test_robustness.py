"""The receivers under stress: a vendor read that fails (429 with Retry-After) answers 503 and stores nothing, so
the vendor's redelivery books it; two platforms reporting the same invoice paid at the same moment settle it once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.billing.invoicing.conftest import setup_tenant
from tests.billing.payments.conftest import (
    STRIPE_SECRET,
    WEBHOOK_BASE,
    XERO_KEY,
    anomalies,
    cash_entries,
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
    stripe_event,
    stripe_headers,
    xero_headers,
    xero_invoice,
    xero_update,
)
from tests.billing.payments.vendors import XERO_ORG


def test_vendor_read_failure_is_503_and_the_redelivery_books_it(client, vendors, http, tmp_path):
    setup_tenant(client)
    configure(client, tmp_path, vendors, "xero")
    inv = finalized_invoice(client, "S-1")
    vendors.xero_invoices["X-1"] = xero_invoice("X-1", inv["id"], [("P-1", "3.57")], "PAID")
    payload = body(xero_update("X-1", XERO_ORG))
    vendors.fail("/api.xro/2.0/Invoices", 429, retry_after="30")
    first = client.post(f"{WEBHOOK_BASE}/xero/A", data=payload, headers=xero_headers(payload, XERO_KEY))
    assert first.status_code == 503 and first.mimetype == "application/problem+json"
    assert payments(client, inv["id"]) == [] and invoice(client, inv["id"])["status"] == "finalized"
    again = client.post(f"{WEBHOOK_BASE}/xero/A", data=payload, headers=xero_headers(payload, XERO_KEY))
    assert again.status_code == 200 and invoice(client, inv["id"])["status"] == "paid"


def test_two_platforms_paying_one_invoice_at_once_settle_it_once(app, client, vendors, http, tmp_path):
    """Stripe and PayPal webhooks for the same invoice race (threads, each its own request and transaction): the
    invoice row lock lets one settle it; the other is kept as a duplicate and raised, never booked."""
    setup_tenant(client)
    configure(client, tmp_path, vendors, "stripe", "paypal")
    inv = finalized_invoice(client, "S-1")
    vendors.paypal_invoices["INV2-1"] = paypal_invoice("INV2-1", f"EV-{inv['number']}", "PAID", [("TX-1", "3.57")])
    stripe_payload = body(stripe_event("evt_1", "invoice.paid", inv["id"], amount_paid=357, status="paid"))
    pp_event = paypal_event("WH-1", "INV2-1")
    pp_headers = vendors.paypal_headers(pp_event)

    def post_stripe() -> int:
        with app.test_client() as c:
            return c.post(f"{WEBHOOK_BASE}/stripe/A", data=stripe_payload,
                          headers=stripe_headers(stripe_payload, STRIPE_SECRET)).status_code

    def post_paypal() -> int:
        with app.test_client() as c:
            return c.post(f"{WEBHOOK_BASE}/paypal/A", data=body(pp_event), headers=pp_headers).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = [f.result() for f in [pool.submit(post_stripe), pool.submit(post_paypal)]]
    assert codes == [200, 200]
    rows = payments(client, inv["id"])
    assert sorted(p["status"] for p in rows) == ["applied", "duplicate"]
    assert invoice(client, inv["id"])["status"] == "paid"
    assert cash_entries(client, inv["id"]) == [("payment.received", "3.57", "0.00")]
    assert len(emitted(app, "invoice.paid")) == 1
    [anomaly] = anomalies(client, "unexpected_payment")
    assert anomaly["details"]["platform"] == next(p["platform"] for p in rows if p["status"] == "duplicate")

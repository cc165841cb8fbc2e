"""The reconciliation's ``paid`` column comes from the booked payments (partial ones in proportion), and an invoice a
vendor calls paid for another amount than billed is a ``paid_mismatch`` exception and anomaly."""

from __future__ import annotations

from tests.billing.invoicing.conftest import A, setup_tenant
from tests.billing.payments.conftest import (
    SQUARE_KEY,
    STRIPE_SECRET,
    WEBHOOK_BASE,
    anomalies,
    configure,
    finalized_invoice,
    invoice,
)
from tests.billing.payments.payloads import (
    body,
    square_headers,
    square_payment_made,
    stripe_event,
    stripe_headers,
)


def _stripe(client, event):
    payload = body(event)
    r = client.post(f"{WEBHOOK_BASE}/stripe/A", data=payload, headers=stripe_headers(payload, STRIPE_SECRET))
    assert r.status_code == 200, r.get_data(as_text=True)


def test_paid_column_and_paid_amount_mismatch(client, vendors, http, tmp_path):
    setup_tenant(client)
    configure(client, tmp_path, vendors, "stripe", "square")
    paid, partial, short, manual = (  # 3.57 EUR each
        finalized_invoice(client, f"S-{i}", start=f"2026-01-13T{9 + i}:00:00Z", end=f"2026-01-13T{10 + i}:00:00Z")
        for i in range(1, 5))
    _stripe(client, stripe_event("evt_1", "invoice.paid", paid["id"], amount_paid=357, status="paid",
                                 stripe_invoice="in_A"))
    vendors.square_orders["O-2"] = {"id": "O-2", "metadata": {"invoice_id": partial["id"]}}
    event = body(square_payment_made("sq-1", "O-2", completed=200, computed=357, status="PARTIALLY_PAID"))
    assert client.post(f"{WEBHOOK_BASE}/square/A", data=event,
                       headers=square_headers(f"{WEBHOOK_BASE}/square/A", event, SQUARE_KEY)).status_code == 200
    # Stripe says paid in full, for 3.00 (e.g. a discount applied there): booked as received, flagged
    _stripe(client, stripe_event("evt_3", "invoice.paid", short["id"], amount_paid=300, status="paid",
                                 stripe_invoice="in_C"))
    marked = client.post(f"/v1/invoices/{manual['id']}/mark-paid", json={"reference": "bank 42"}, headers=A)
    assert marked.status_code == 200, marked.get_data(as_text=True)
    assert invoice(client, short["id"])["status"] == "finalized"  # 0.57 still due

    r = client.post("/v1/reconciliations", json={"kind": "daily", "period": "2026-01-13"}, headers=A)
    assert r.status_code == 201, r.get_data(as_text=True)
    report = r.get_json()
    summary = report["summary"]
    assert (summary["billed"], summary["paid"], summary["unpaid"]) == ("14.28", "12.14", "2.14")
    assert summary["exceptions"] == {"paid_mismatch": 1}
    [exc] = report["exceptions"]
    assert exc["message"] == f"Invoice {short['number']}: paid 3.00 EUR at stripe, billed 3.57 EUR"
    assert exc["details"] == {"invoice_id": short["id"], "invoice_number": short["number"], "currency": "EUR",
                              "billed": "3.57", "paid": "3.00", "difference": "-0.57", "settled_by": ["stripe"]}
    [anomaly] = anomalies(client, "paid_amount_mismatch")
    assert anomaly["details"]["invoice_id"] == short["id"]
    again = client.post("/v1/reconciliations", json={"kind": "daily", "period": "2026-01-13"}, headers=A)
    assert again.status_code == 201 and len(anomalies(client, "paid_amount_mismatch")) == 1  # same facts: once

"""Square, Xero and PayPal payments back through their webhooks: each vendor's signature scheme first (a wrong one
is 401 and writes nothing), then partial and full payments, triggers that read the vendor's invoice, and
intent-to-receive probes."""

from __future__ import annotations

import pytest

from tests.billing.invoicing.conftest import setup_tenant
from tests.billing.payments.conftest import (
    SQUARE_KEY,
    WEBHOOK_BASE,
    XERO_KEY,
    anomalies,
    cash_entries,
    configure,
    finalized_invoice,
    invoice,
    payments,
)
from tests.billing.payments.payloads import (
    body,
    paypal_event,
    paypal_invoice,
    sample,
    square_headers,
    square_payment_failed,
    square_payment_made,
    xero_headers,
    xero_invoice,
    xero_update,
)
from tests.billing.payments.vendors import XERO_ORG

SQUARE_URL = f"{WEBHOOK_BASE}/square/A"
XERO_URL = f"{WEBHOOK_BASE}/xero/A"
PAYPAL_URL = f"{WEBHOOK_BASE}/paypal/A"


def _square(client, event, url=SQUARE_URL):
    payload = body(event)
    return client.post(SQUARE_URL, data=payload, headers=square_headers(url, payload, SQUARE_KEY))


def test_square_partial_then_full_payment(client, vendors, http, tmp_path):
    setup_tenant(client)
    configure(client, tmp_path, vendors, "square")
    inv = finalized_invoice(client, "S-1")  # 3.57 EUR
    vendors.square_orders["ORDER-1"] = {"id": "ORDER-1", "metadata": {"invoice_id": inv["id"]}}

    wrong_url = _square(client, square_payment_made("sq-1", "ORDER-1", completed=200, computed=357,
                                                    status="PARTIALLY_PAID"), url="https://proxy.example/hook")
    assert wrong_url.status_code == 401 and payments(client, inv["id"]) == []

    part = _square(client, square_payment_made("sq-1", "ORDER-1", completed=200, computed=357, status="PARTIALLY_PAID"))
    assert part.status_code == 200 and part.get_json()["results"][0]["outcome"] == "partial"
    assert invoice(client, inv["id"])["status"] == "finalized"
    full = _square(client, square_payment_made("sq-2", "ORDER-1", completed=357, computed=357, status="PAID"))
    assert full.get_json()["results"][0]["outcome"] == "paid"
    assert invoice(client, inv["id"])["status"] == "paid"
    assert sorted(p["amount_minor"] for p in payments(client, inv["id"])) == [157, 200]
    assert cash_entries(client, inv["id"]) == [("payment.received", "1.57", "0.00"),
                                               ("payment.received", "2.00", "0.00")]


def test_square_failed_payment_and_vendor_schema_defect(client, vendors, http, tmp_path):
    """Square's own payment.updated sample carries ``risk_evaluation`` without the ``status`` its schema requires:
    signed, so accepted; a FAILED payment raises an anomaly and books nothing."""
    setup_tenant(client)
    configure(client, tmp_path, vendors, "square")
    inv = finalized_invoice(client, "S-1")
    vendors.square_orders["ORDER-1"] = {"id": "ORDER-1", "metadata": {"invoice_id": inv["id"]}}
    event = square_payment_failed("sq-f", "ORDER-1")
    assert "status" not in event["data"]["object"]["payment"]["risk_evaluation"]
    r = _square(client, event)
    assert r.status_code == 200 and r.get_json()["results"][0]["outcome"] == "failed_attempt"
    assert anomalies(client, "payment_failed")[0]["details"]["platform"] == "square"
    assert cash_entries(client, inv["id"]) == []


def _xero(client, payload, key=XERO_KEY):
    return client.post(XERO_URL, data=payload, headers=xero_headers(payload, key))


def test_xero_intent_to_receive(client, vendors, http, tmp_path):
    setup_tenant(client)
    configure(client, tmp_path, vendors, "xero")
    itr = body(sample("xero/webhook_itr.json"))  # sequence 0 against the schema's minimum 1: a vendor defect
    good = _xero(client, itr)
    assert (good.status_code, good.get_data()) == (200, b"")
    bad = _xero(client, itr, key="not-the-key")
    assert bad.status_code == 401


def test_xero_update_reads_the_invoice_and_books_its_payments(client, vendors, http, tmp_path):
    setup_tenant(client)
    configure(client, tmp_path, vendors, "xero")
    inv = finalized_invoice(client, "S-1")
    vendors.xero_invoices["X-1"] = xero_invoice("X-1", inv["id"], [("P-1", "1.00")], "AUTHORISED")
    event = body(xero_update("X-1", XERO_ORG))
    assert _xero(client, event).status_code == 200
    assert invoice(client, inv["id"])["status"] == "finalized"
    assert [p["amount_minor"] for p in payments(client, inv["id"])] == [100]

    vendors.xero_invoices["X-1"] = xero_invoice("X-1", inv["id"], [("P-1", "1.00"), ("P-2", "2.57")], "PAID")
    second = body({**xero_update("X-1", XERO_ORG), "entropy": "another"})
    assert _xero(client, second).status_code == 200
    assert _xero(client, second).status_code == 200  # redelivered: nothing new
    doc = invoice(client, inv["id"])
    assert doc["status"] == "paid"
    assert cash_entries(client, inv["id"]) == [("payment.received", "1.00", "0.00"),
                                               ("payment.received", "2.57", "0.00")]
    assert vendors.calls("/api.xro/2.0/Invoices/X-1")[0]["headers"]["Xero-Tenant-Id"] == XERO_ORG

    # Xero removes P-2 (payment reversed there): ours is reopened and the cash reversed
    vendors.xero_invoices["X-1"] = xero_invoice("X-1", inv["id"], [("P-1", "1.00")], "AUTHORISED")
    assert _xero(client, body({**xero_update("X-1", XERO_ORG), "entropy": "third"})).status_code == 200
    assert invoice(client, inv["id"])["status"] == "finalized"
    assert ("payment.reversed", "0.00", "2.57") in cash_entries(client, inv["id"])
    assert anomalies(client, "payment_returned")[0]["details"]["reopened"] is True


def test_xero_event_of_another_organisation_is_ignored(client, vendors, http, tmp_path):
    setup_tenant(client)
    configure(client, tmp_path, vendors, "xero")
    inv = finalized_invoice(client, "S-1")
    vendors.xero_invoices["X-1"] = xero_invoice("X-1", inv["id"], [("P-1", "3.57")], "PAID")
    assert _xero(client, body(xero_update("X-1", "another-org"))).status_code == 200
    assert payments(client, inv["id"]) == [] and vendors.calls("/api.xro/2.0/Invoices") == []


def _paypal(client, vendors, event, key=None):
    payload = body(event)
    return client.post(PAYPAL_URL, data=payload,
                       headers={**vendors.paypal_headers(event, key=key), "Content-Type": "application/json"})


def test_paypal_verifies_with_paypal_then_reads_the_invoice(client, vendors, http, tmp_path):
    from cryptography.hazmat.primitives.asymmetric import rsa

    setup_tenant(client)
    configure(client, tmp_path, vendors, "paypal")
    inv = finalized_invoice(client, "S-1")
    vendors.paypal_invoices["INV2-1"] = paypal_invoice("INV2-1", f"EV-{inv['number']}", "PAID", [("TX-1", "3.57")])
    event = paypal_event("WH-1", "INV2-1")

    forged = _paypal(client, vendors, event, key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert forged.status_code == 401 and payments(client, inv["id"]) == []
    assert vendors.calls("/v2/invoicing/invoices") == []  # nothing read before the signature held

    ok = _paypal(client, vendors, event)
    assert ok.status_code == 200 and ok.get_json()["results"][0]["outcome"] == "paid"
    [verify] = [c for c in vendors.calls("/v1/notifications/verify-webhook-signature")
                if c["body"]["transmission_sig"] == vendors.paypal_headers(event)["PAYPAL-TRANSMISSION-SIG"]]
    assert verify["body"]["webhook_id"] == "1JE4291016473214C" and verify["body"]["webhook_event"] == event
    [pay] = payments(client, inv["id"])
    assert (pay["vendor_ref"], pay["method"], pay["amount_minor"]) == ("TX-1", "paypal:PAYPAL", 357)
    assert _paypal(client, vendors, event).get_json()["status"] == "duplicate"


@pytest.mark.parametrize("missing", ["PAYPAL-TRANSMISSION-SIG", "PAYPAL-CERT-URL"])
def test_paypal_missing_header_is_401_without_asking_paypal(client, vendors, http, tmp_path, missing):
    setup_tenant(client)
    configure(client, tmp_path, vendors, "paypal")
    event = paypal_event("WH-2", "INV2-1")
    headers = {k: v for k, v in vendors.paypal_headers(event).items() if k != missing}
    r = client.post(PAYPAL_URL, data=body(event), headers=headers)
    assert r.status_code == 401 and r.get_json()["errors"][0]["field"] == missing
    assert vendors.calls("/v1/notifications") == []

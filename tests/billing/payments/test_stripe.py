"""Stripe payments back: the signature check agrees with stripe-python's own ``Webhook.construct_event``; paid,
failed-then-paid and redelivered events change our invoice, ledger and anomalies exactly once."""

from __future__ import annotations

import json

import pytest
import stripe

from connector.security.hmac_sign import SignatureError
from connector.security.vendor_signatures import verify_stripe
from tests.billing.invoicing.conftest import setup_tenant
from tests.billing.payments.conftest import (
    STRIPE_SECRET,
    WEBHOOK_BASE,
    anomalies,
    cash_entries,
    configure,
    emitted,
    finalized_invoice,
    invoice,
    payments,
)
from tests.billing.payments.payloads import body, stripe_event, stripe_headers

NOW = 1769000100
URL = f"{WEBHOOK_BASE}/stripe/A"


def _ours(header: str, payload: bytes, secrets: list[str]) -> bool:
    try:
        verify_stripe(secrets, header, payload, now=NOW)
    except SignatureError:
        return False
    return True


def _library(header: str, payload: bytes, secret: str) -> bool:
    try:
        stripe.Webhook.construct_event(payload.decode(), header, secret)
    except stripe.SignatureVerificationError:
        return False
    return True


@pytest.mark.parametrize("case", ["valid", "tampered", "wrong_secret", "stale", "v0_only", "two_v1", "no_t"])
def test_signature_check_agrees_with_stripe_library(case, monkeypatch):
    monkeypatch.setattr("time.time", lambda: NOW)  # stripe-python reads the clock itself
    payload = body(stripe_event("evt_1", "invoice.paid", "inv_x", amount_paid=357, status="paid"))
    header = stripe_headers(payload, STRIPE_SECRET, NOW - 10)["Stripe-Signature"]
    sent = payload
    if case == "tampered":
        sent = payload.replace(b"357", b"358")
    elif case == "wrong_secret":
        header = stripe_headers(payload, "whsec_other", NOW - 10)["Stripe-Signature"]
    elif case == "stale":
        header = stripe_headers(payload, STRIPE_SECRET, NOW - 301)["Stripe-Signature"]
    elif case == "v0_only":
        header = header.replace("v1=", "v0=")
    elif case == "two_v1":  # a secret being rolled: one v1 per secret, either may match
        other = stripe_headers(payload, "whsec_old", NOW - 10)["Stripe-Signature"].split(",")[1]
        header = f"{header},{other}"
    elif case == "no_t":
        header = header.split(",", 1)[1]
    expected = case in ("valid", "two_v1")
    assert _library(header, sent, STRIPE_SECRET) is expected
    assert _ours(header, sent, [STRIPE_SECRET]) is expected


def _post(client, event, secret=STRIPE_SECRET):
    payload = body(event)
    return client.post(URL, data=payload, headers={**stripe_headers(payload, secret), "Content-Type":
                                                    "application/json"})


def test_paid_marks_ours_paid_once_and_posts_cash(app, client, vendors, http, tmp_path):
    setup_tenant(client)
    configure(client, tmp_path, vendors, "stripe")
    inv = finalized_invoice(client, "S-1")
    event = stripe_event("evt_paid_1", "invoice.paid", inv["id"], amount_paid=357, status="paid")

    refused = _post(client, event, secret="whsec_wrong")
    assert refused.status_code == 401 and refused.get_json()["errors"][0]["field"] == "Stripe-Signature"
    assert invoice(client, inv["id"])["status"] == "finalized" and payments(client, inv["id"]) == []

    first = _post(client, event)
    assert first.status_code == 200, first.get_data(as_text=True)
    assert first.get_json()["results"][0]["outcome"] == "paid"
    again = _post(client, event)  # Stripe redelivers: the event id makes it a no-op
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"

    doc = invoice(client, inv["id"])
    assert (doc["status"], doc["paid_at"]) == ("paid", "2026-01-21T12:53:20+00:00")
    [pay] = payments(client, inv["id"])
    assert (pay["platform"], pay["amount_minor"], pay["vendor_invoice"], pay["status"]) == ("stripe", 357, "in_1",
                                                                                           "applied")
    assert cash_entries(client, inv["id"]) == [("payment.received", "3.57", "0.00")]
    [paid_event] = emitted(app, "invoice.paid")
    assert paid_event["invoice"]["id"] == inv["id"] and paid_event["invoice"]["status"] == "paid"
    assert paid_event["payment"]["vendor_ref"] == "in_1:357"


def test_failed_then_paid(client, vendors, http, tmp_path):
    setup_tenant(client)
    configure(client, tmp_path, vendors, "stripe")
    inv = finalized_invoice(client, "S-1")
    failed = _post(client, stripe_event("evt_f", "invoice.payment_failed", inv["id"], amount_paid=0, status="open"))
    assert failed.status_code == 200 and failed.get_json()["results"][0]["outcome"] == "failed_attempt"
    assert invoice(client, inv["id"])["status"] == "finalized"
    [anomaly] = anomalies(client, "payment_failed")
    assert anomaly["details"]["invoice_id"] == inv["id"] and anomaly["details"]["platform"] == "stripe"
    assert cash_entries(client, inv["id"]) == []

    paid = _post(client, stripe_event("evt_p", "invoice.paid", inv["id"], amount_paid=357, status="paid"))
    assert paid.get_json()["results"][0]["outcome"] == "paid"
    assert invoice(client, inv["id"])["status"] == "paid"
    assert cash_entries(client, inv["id"]) == [("payment.received", "3.57", "0.00")]


def test_signed_event_of_unknown_shape_is_accepted_not_booked(client, vendors, http, tmp_path):
    """A correctly signed delivery is never refused for its shape (Stripe renders objects in the account's API
    version); what cannot be read is acknowledged and stored as ignored."""
    setup_tenant(client)
    configure(client, tmp_path, vendors, "stripe")
    for event in ({"id": "evt_odd", "type": "invoice.paid", "data": {"object": {"object": "invoice"}}},
                  {"id": "evt_other", "type": "customer.created", "data": {}}, ["not", "an", "object"]):
        payload = json.dumps(event).encode()
        r = client.post(URL, data=payload, headers=stripe_headers(payload, STRIPE_SECRET))
        assert r.status_code == 200 and r.get_json()["status"] == "ignored", r.get_data(as_text=True)


def test_webhook_of_a_tenant_without_stripe_is_404(client, vendors, http, tmp_path):
    setup_tenant(client)
    payload = body(stripe_event("evt_1", "invoice.paid", "x", amount_paid=1, status="paid"))
    r = client.post(URL, data=payload, headers=stripe_headers(payload, STRIPE_SECRET))
    assert r.status_code == 404 and r.mimetype == "application/problem+json"

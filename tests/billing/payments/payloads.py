"""Vendor webhook payloads built from the vendors' own samples in ``../shared/vendor-specs/examples`` (only the ids,
amounts and statuses changed), and the signatures each vendor puts on them."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from functools import cache
from typing import Any

import stripe

from tests.paths import VENDOR_SPECS


@cache
def _sample(rel: str) -> dict[str, Any]:
    return json.loads((VENDOR_SPECS / "examples" / rel).read_text(encoding="utf-8-sig"))


def sample(rel: str) -> dict[str, Any]:
    return copy.deepcopy(_sample(rel))


def body(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


# ------------------------------------------------------------------------------------------------ Stripe


def stripe_event(event_id: str, kind: str, our_invoice: str, *, amount_paid: int, status: str,
                 currency: str = "eur", created: int = 1769000000, stripe_invoice: str = "in_1") -> dict[str, Any]:
    event = sample("stripe/event_invoice_paid.json")
    obj = event["data"]["object"]
    obj.update(id=stripe_invoice, currency=currency, amount_paid=amount_paid, status=status,
               metadata={"invoice_id": our_invoice})
    obj["status_transitions"]["paid_at"] = created if status == "paid" else None
    event.update(id=event_id, type=kind, created=created)
    return event


def stripe_headers(payload: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Signed by stripe-python's own helper (not by the code under test)."""
    return {"Stripe-Signature": stripe.WebhookSignature.generate_signature_header(payload.decode(), secret,
                                                                                  timestamp)}


# ------------------------------------------------------------------------------------------------ Square


def square_payment_made(event_id: str, order_id: str, *, completed: int, computed: int, status: str,
                        currency: str = "EUR", square_invoice: str = "inv:0-1") -> dict[str, Any]:
    event = sample("square/webhook_invoice_payment_made.json")
    invoice = event["data"]["object"]["invoice"]
    invoice.update(id=square_invoice, order_id=order_id, status=status)
    request = invoice["payment_requests"][0]
    request["computed_amount_money"] = {"amount": computed, "currency": currency}
    request["total_completed_amount_money"] = {"amount": completed, "currency": currency}
    event.update(event_id=event_id)
    event["data"]["id"] = square_invoice
    return event


def square_payment_failed(event_id: str, order_id: str) -> dict[str, Any]:
    event = sample("square/webhook_payment_updated.json")
    payment = event["data"]["object"]["payment"]
    payment.update(order_id=order_id, status="FAILED")
    event.update(event_id=event_id)
    return event


def square_headers(url: str, payload: bytes, key: str) -> dict[str, str]:
    digest = hmac.new(key.encode(), url.encode() + payload, hashlib.sha256).digest()
    return {"x-square-hmacsha256-signature": base64.b64encode(digest).decode()}


# -------------------------------------------------------------------------------------------------- Xero


def xero_update(invoice_id: str, org: str) -> dict[str, Any]:
    event = sample("xero/webhook_event_contact.json")
    item = event["events"][0]
    item.update(resourceUrl=f"https://api.xero.com/api.xro/2.0/Invoices/{invoice_id}", resourceId=invoice_id,
                eventCategory="INVOICE", tenantId=org)
    return event


def xero_headers(payload: bytes, key: str) -> dict[str, str]:
    digest = hmac.new(key.encode(), payload, hashlib.sha256).digest()
    return {"x-xero-signature": base64.b64encode(digest).decode()}


def xero_invoice(invoice_id: str, reference: str, payments: list[tuple[str, str]], status: str,
                 currency: str = "EUR") -> dict[str, Any]:
    """A Xero invoice as GET /Invoices/{id} answers (``payments``: (PaymentID, Amount))."""
    return {"Type": "ACCREC", "InvoiceID": invoice_id, "Reference": reference, "Status": status,
            "CurrencyCode": currency, "AmountPaid": sum(float(a) for _, a in payments),
            "Payments": [{"PaymentID": pid, "Date": "/Date(1769000000000+0000)/", "Amount": float(amount)}
                         for pid, amount in payments]}


# ------------------------------------------------------------------------------------------------ PayPal


def paypal_event(event_id: str, paypal_invoice: str) -> dict[str, Any]:
    event = sample("paypal/webhook_event_invoicing_paid.docs.json")
    event.update(id=event_id)
    event["resource"]["id"] = paypal_invoice
    return event


def paypal_invoice(paypal_invoice: str, number: str, status: str, payments: list[tuple[str, str]],
                   currency: str = "EUR") -> dict[str, Any]:
    """An Invoicing v2 invoice (``payments``: (payment_id, value))."""
    return {"id": paypal_invoice, "status": status,
            "detail": {"invoice_number": number, "currency_code": currency},
            "payments": {"paid_amount": {"currency_code": currency, "value": "0"},
                         "transactions": [{"payment_id": pid, "payment_date": "2026-02-03", "method": "PAYPAL",
                                           "amount": {"currency_code": currency, "value": value}}
                                          for pid, value in payments]}}


# ------------------------------------------------------------------------------------------------- Plaid


def plaid_event(event_id: int, transfer_id: str, kind: str, amount: str,
                failure: dict[str, Any] | None = None) -> dict[str, Any]:
    event = sample("plaid/transfer_event_sync.response.json")["transfer_events"][0]
    event.update(event_id=event_id, transfer_id=transfer_id, event_type=kind, transfer_amount=amount,
                 failure_reason=failure, timestamp="2026-02-03T10:00:00Z")
    return event

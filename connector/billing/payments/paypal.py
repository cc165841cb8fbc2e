"""PayPal payments back: every delivery is verified by PayPal (``POST /v1/notifications/verify-webhook-signature``:
PayPal signs with its certificate, not a shared secret); ``INVOICING.INVOICE.*`` events are only triggers, since
their ``resource`` does not follow the Invoicing v2 schema: the invoice is read (``GET /v2/invoicing/invoices/{id}``)
and each of its ``payments.transactions`` we have not booked is booked.

Our PayPal invoices are numbered ``<invoice_number_prefix><our number>`` (the outbound adapter's rule). Refunds at
PayPal are what our credit notes send there, so they are not booked again here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from connector.billing.payments import amounts
from connector.billing.payments.inbound import (
    Delivery,
    Fact,
    Handled,
    VendorContext,
    invoice_by_number,
    standing_refs,
)
from connector.billing.payments.record import VendorPayment, VendorReversal
from connector.platforms.oauth import TokenProvider, send_authorized, shared_provider
from connector.security.hmac_sign import SignatureError
from connector.validation import NotFound

NAME = "paypal"
HEADERS = {"auth_algo": "PAYPAL-AUTH-ALGO", "cert_url": "PAYPAL-CERT-URL", "transmission_id": "PAYPAL-TRANSMISSION-ID",
           "transmission_sig": "PAYPAL-TRANSMISSION-SIG", "transmission_time": "PAYPAL-TRANSMISSION-TIME"}
TRIGGERS = ("INVOICING.INVOICE.PAID", "INVOICING.INVOICE.UPDATED", "INVOICING.INVOICE.REFUNDED",
            "INVOICING.INVOICE.CANCELLED")
SETTLED = ("PAID", "MARKED_AS_PAID")


def _tokens(ctx: VendorContext) -> TokenProvider:
    base = ctx.config.api_base.rstrip("/")
    return shared_provider(f"{base}/v1/oauth2/token", ctx.config.client_id, ctx.config.client_secret)


def _call(ctx: VendorContext, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    answer = send_authorized(_tokens(ctx), ctx.http, method, ctx.config.api_base.rstrip("/") + path, **kwargs).json()
    return answer if isinstance(answer, dict) else {}


def verify(ctx: VendorContext, delivery: Delivery, event: dict[str, Any]) -> None:
    """PayPal's postback verification; a missing transmission header is refused before asking."""
    body: dict[str, Any] = {}
    for key, header in HEADERS.items():
        value = delivery.header(header)
        if not value:
            raise SignatureError(header, "missing")
        body[key] = value
    body["webhook_id"] = ctx.config.webhook_id
    body["webhook_event"] = event
    answer = _call(ctx, "POST", "/v1/notifications/verify-webhook-signature", json=body)
    if answer.get("verification_status") != "SUCCESS":
        raise SignatureError(HEADERS["transmission_sig"], "PayPal did not verify this delivery "
                             f"({answer.get('verification_status') or 'no status'})")


def _when(value: Any, fallback: datetime) -> datetime:
    text = str(value or "")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return fallback
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def invoice_facts(ctx: VendorContext, invoice: dict[str, Any]) -> list[Fact]:
    """A PayPal invoice -> its payment transactions not booked yet (and reversals of booked ones it lost)."""
    detail = invoice.get("detail") or {}
    number = str(detail.get("invoice_number") or "")
    prefix = ctx.config.invoice_number_prefix
    ours = invoice_by_number(ctx.db, ctx.tenant_id, number[len(prefix):]) if number.startswith(prefix) else None
    paypal_id = str(invoice.get("id") or "")
    if ours is None or not paypal_id:
        return []
    settled = invoice.get("status") in SETTLED
    booked = standing_refs(ctx.db, ctx.tenant_id, NAME, paypal_id)
    out: list[Fact] = []
    present = set()
    for t in (invoice.get("payments") or {}).get("transactions") or []:
        if not isinstance(t, dict) or not t.get("payment_id"):
            continue
        ref = str(t["payment_id"])
        present.add(ref)
        money = t.get("amount") or {}
        currency = str(money.get("currency_code") or detail.get("currency_code") or "").upper()
        if ref not in booked:
            out.append(VendorPayment(NAME, ours, ref, amounts.major(money.get("value"), currency), currency,
                                     _when(t.get("payment_date"), ctx.now()), "paypal:" + str(t.get("method")
                                                                                           or "PAYPAL"),
                                     paypal_id, settled))
    for ref in sorted(set(booked) - present):
        out.append(VendorReversal(NAME, ours, f"{ref}:reversed", "payment removed at PayPal", "returned", ctx.now(),
                                  reverses=ref, vendor_invoice=paypal_id))
    return out


def receive(ctx: VendorContext, delivery: Delivery) -> Handled:
    if not ctx.config.webhook_id:
        raise NotFound("the PayPal payments webhook has no webhook_id for this tenant")
    try:
        event = json.loads(delivery.body)
    except ValueError as exc:
        raise SignatureError("body", "not the JSON PayPal signs") from exc
    if not isinstance(event, dict):
        raise SignatureError("body", "not the JSON PayPal signs")
    verify(ctx, delivery, event)
    event_id, kind = str(event.get("id") or "") or None, str(event.get("event_type") or "")
    resource = event.get("resource") or {}
    paypal_id = str(resource.get("id") or "") if isinstance(resource, dict) else ""
    if kind not in TRIGGERS or not paypal_id:
        return Handled(event_id, kind, note="not an invoicing event this receiver books")
    invoice = _call(ctx, "GET", "/v2/invoicing/invoices/" + quote(paypal_id, safe=""))
    facts = invoice_facts(ctx, invoice)
    return Handled(event_id, kind, facts, None if facts else "nothing new paid")


def poll(ctx: VendorContext, since: str | None) -> tuple[list[Handled], str | None]:
    """Invoices with a payment since the cursor's day (``POST /v2/invoicing/search-invoices`` by status and
    ``payment_date_range``), each read in full; the cursor is today (PayPal's dates are days: the last day is read
    again, its payments dedupe by id)."""
    today = ctx.now().date().isoformat()
    criteria: dict[str, Any] = {"status": ["PAID", "PARTIALLY_PAID", "MARKED_AS_PAID"]}
    if since:
        criteria["payment_date_range"] = {"start": since, "end": today}
    handled: list[Handled] = []
    page = 1
    while True:
        found = _call(ctx, "POST", "/v2/invoicing/search-invoices", params={"page": page, "page_size": 100,
                                                                            "total_required": "true"}, json=criteria)
        items = [i for i in found.get("items") or [] if isinstance(i, dict) and i.get("id")]
        for item in items:
            invoice = _call(ctx, "GET", "/v2/invoicing/invoices/" + quote(str(item["id"]), safe=""))
            handled.append(Handled(None, "poll", invoice_facts(ctx, invoice)))
        if len(items) < 100:
            break
        page += 1
    return handled, today

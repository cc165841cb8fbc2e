"""Xero payments back: Xero has no payment webhook, only ``INVOICE`` ``UPDATE`` events, so each one is a trigger
to read the invoice (``GET /Invoices/{InvoiceID}``) and book its ``Payments`` we have not seen, and reverse the ones
that disappeared from it (a payment deleted or reversed in Xero).

Our Xero invoices carry our invoice id in ``Reference`` (the outbound adapter sets it). Intent-to-receive probes
(``events: []``) are answered by the signature check alone: 200 when correctly signed, 401 when not.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any
from urllib.parse import quote

from connector.billing.payments import amounts
from connector.billing.payments.inbound import (
    Delivery,
    Fact,
    Handled,
    VendorContext,
    invoice_exists,
    standing_refs,
)
from connector.billing.payments.record import VendorPayment, VendorReversal
from connector.platforms.oauth import RefreshTokenStore, rotating_provider, send_authorized
from connector.security.vendor_signatures import XERO_HEADER, verify_xero
from connector.validation import NotFound

NAME = "xero"
_MS_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")


def xero_date(value: Any, fallback: datetime) -> datetime:
    """``/Date(1573755038314+0000)/`` (Xero's JSON) or ISO 8601 without offset (read as UTC)."""
    text = str(value or "")
    match = _MS_DATE.fullmatch(text)
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return fallback
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _send(ctx: VendorContext, path: str, headers: dict[str, str] | None = None,
          params: dict[str, str] | None = None) -> dict[str, Any]:
    config = ctx.config
    provider = rotating_provider(config.token_url, config.client_id, config.client_secret, config.refresh_token,
                                 store=RefreshTokenStore(ctx.db.get_bind()))  # type: ignore[arg-type]
    answer = send_authorized(provider, ctx.http, "GET", config.api_base.rstrip("/") + path,
                             headers={"Accept": "application/json", "xero-tenant-id": config.xero_tenant_id,
                                      **(headers or {})}, params=params)
    body = answer.json()
    return body if isinstance(body, dict) else {}


def invoice_facts(ctx: VendorContext, invoice: dict[str, Any]) -> list[Fact]:
    """A Xero invoice -> payments not booked yet, and reversals of booked ones no longer on it."""
    ours, xero_id = str(invoice.get("Reference") or ""), str(invoice.get("InvoiceID") or "")
    if not ours or not xero_id or not invoice_exists(ctx.db, ctx.tenant_id, ours):
        return []
    currency = str(invoice.get("CurrencyCode") or "").upper()
    settled = invoice.get("Status") == "PAID"
    booked = standing_refs(ctx.db, ctx.tenant_id, NAME, xero_id)
    out: list[Fact] = []
    present = set()
    for p in invoice.get("Payments") or []:
        if not isinstance(p, dict) or not p.get("PaymentID") or p.get("Status") in ("DELETED", "VOIDED"):
            continue
        ref = str(p["PaymentID"])
        present.add(ref)
        if ref not in booked:
            out.append(VendorPayment(NAME, ours, ref, amounts.major(p.get("Amount"), currency), currency,
                                     xero_date(p.get("Date"), ctx.now()), "xero:" + str(p.get("PaymentType")
                                                                                      or "payment"), xero_id, settled))
    for ref in sorted(set(booked) - present):
        out.append(VendorReversal(NAME, ours, f"{ref}:reversed", "payment removed or reversed in Xero", "returned",
                                  ctx.now(), reverses=ref, vendor_invoice=xero_id))
    return out


def receive(ctx: VendorContext, delivery: Delivery) -> Handled:
    config = ctx.config
    if not config.webhook_key:
        raise NotFound("the Xero payments webhook has no webhook_key for this tenant")
    verify_xero(config.webhook_key, delivery.header(XERO_HEADER), delivery.body)
    try:
        payload = json.loads(delivery.body)
    except ValueError:
        payload = {}
    events = [e for e in (payload.get("events") or []) if isinstance(e, dict)] if isinstance(payload, dict) else []
    if not events:
        return Handled(None, "intent_to_receive", note="no events (intent to receive)")
    facts: list[Fact] = []
    notes = []
    for event in events:
        if event.get("eventCategory") != "INVOICE" or str(event.get("tenantId")) != config.xero_tenant_id:
            notes.append(f"{event.get('eventCategory')} event of {event.get('tenantId')} ignored")
            continue
        found = _send(ctx, "/Invoices/" + quote(str(event.get("resourceId") or ""), safe=""))
        for invoice in found.get("Invoices") or []:
            facts.extend(invoice_facts(ctx, invoice))
    # Xero events carry no id: the hash of the signed body stands for it (a redelivery is byte-identical)
    event_id = "sha256:" + hashlib.sha256(delivery.body).hexdigest()
    return Handled(event_id, "INVOICE.UPDATE", facts, "; ".join(notes) or (None if facts else "nothing new paid"))


def poll(ctx: VendorContext, since: str | None) -> tuple[list[Handled], str | None]:
    """Invoices modified since the cursor (``If-Modified-Since``), paid or partly paid, page by page."""
    started = ctx.now()
    headers = {"If-Modified-Since": formatdate(float(since), usegmt=True)} if since else {}
    handled: list[Handled] = []
    page = 1
    while True:
        found = _send(ctx, "/Invoices", headers, {"where": 'Type=="ACCREC"', "page": str(page)})
        invoices = [i for i in found.get("Invoices") or [] if isinstance(i, dict)]
        handled.extend(Handled(None, "poll", invoice_facts(ctx, i)) for i in invoices)
        if len(invoices) < 100:
            break
        page += 1
    return handled, str(int(started.timestamp()))

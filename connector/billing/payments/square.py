"""Square payments back: ``invoice.payment_made`` (the invoice with what was paid so far) marks ours paid or partly
paid; a ``payment.updated`` whose payment FAILED or was CANCELED raises an anomaly.

Square's invoice names its order; our order carries ``metadata.invoice_id`` (the outbound adapter sets it), read
with ``GET /v2/orders/{id}``. Completed payments count through the invoice's ``total_completed_amount_money``
only (a payment.updated for the same money would otherwise count twice).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from connector.billing.payments import amounts
from connector.billing.payments.inbound import Delivery, Handled, VendorContext, cumulative, invoice_exists
from connector.billing.payments.record import VendorReversal
from connector.security.vendor_signatures import SQUARE_HEADER, verify_square
from connector.validation import NotFound

NAME = "square"


def _when(value: Any, fallback: datetime) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return fallback
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _our_invoice(ctx: VendorContext, order_id: str) -> str | None:
    """Our invoice id from the Square order's metadata (``GET /v2/orders/{order_id}``)."""
    config = ctx.config
    answer = ctx.http.send("GET", f"{config.api_base.rstrip('/')}/v2/orders/{order_id}", headers={
        "Authorization": f"Bearer {config.access_token}", "Square-Version": config.square_version}).json() or {}
    ours = str(((answer.get("order") or {}).get("metadata") or {}).get("invoice_id") or "")
    return ours if ours and invoice_exists(ctx.db, ctx.tenant_id, ours) else None


def invoice_facts(ctx: VendorContext, event_id: str | None, kind: str, invoice: dict[str, Any]) -> Handled:
    """A Square invoice (from a webhook or a search) -> the payment we have not recorded yet."""
    order_id = str(invoice.get("order_id") or "")
    ours = _our_invoice(ctx, order_id) if order_id else None
    if ours is None:
        return Handled(event_id, kind, note="not an invoice this tenant sent to Square")
    requests = [r for r in invoice.get("payment_requests") or [] if isinstance(r, dict)]
    moneys = [r.get("total_completed_amount_money") or {} for r in requests]
    currency = str(next((m.get("currency") for m in moneys if m.get("currency")), "")
                   or ((requests[0].get("computed_amount_money") or {}).get("currency") if requests else "")).upper()
    if not currency:
        return Handled(event_id, kind, note="the invoice names no currency")
    paid = sum(amounts.from_iso_minor(m.get("amount") or 0, currency) for m in moneys)
    found = cumulative(NAME, ctx.tenant_id, ctx.db, invoice_id=ours, vendor_invoice=str(invoice.get("id") or order_id),
                       paid_so_far=paid, currency=currency, paid_at=_when(invoice.get("updated_at"), ctx.now()),
                       settled=invoice.get("status") == "PAID", method="square:invoice")
    return Handled(event_id, kind, found, None if found else "nothing new paid")


def facts(ctx: VendorContext, event: dict[str, Any]) -> Handled:
    event_id, kind = str(event.get("event_id") or "") or None, str(event.get("type") or "")
    obj = (event.get("data") or {}).get("object") or {}
    if kind == "invoice.payment_made" and isinstance(obj.get("invoice"), dict):
        return invoice_facts(ctx, event_id, kind, obj["invoice"])
    payment = obj.get("payment") if isinstance(obj, dict) else None
    if kind == "payment.updated" and isinstance(payment, dict) and payment.get("status") in ("FAILED", "CANCELED"):
        ours = _our_invoice(ctx, str(payment.get("order_id") or "")) if payment.get("order_id") else None
        if ours is None:
            return Handled(event_id, kind, note="not a payment of an order this tenant sent to Square")
        return Handled(event_id, kind, [VendorReversal(
            NAME, ours, f"{payment.get('id')}:failed", f"Square payment {str(payment.get('status')).lower()}",
            "failed", _when(payment.get("updated_at"), ctx.now()), vendor_invoice=str(payment.get("order_id")))])
    return Handled(event_id, kind, note="not a payment event this receiver books")


def receive(ctx: VendorContext, delivery: Delivery) -> Handled:
    config = ctx.config
    if not config.webhook_signature_key:
        raise NotFound("the Square payments webhook has no webhook_signature_key for this tenant")
    verify_square(config.webhook_signature_key, config.webhook_url or delivery.url, delivery.header(SQUARE_HEADER),
                  delivery.body)
    try:
        event = json.loads(delivery.body)
    except ValueError:
        event = {}
    return facts(ctx, event if isinstance(event, dict) else {})


def poll(ctx: VendorContext, since: str | None) -> tuple[list[Handled], str | None]:
    """The location's invoices (``POST /v2/invoices/search``, every page) updated since the cursor and paid in
    whole or in part; the cursor is the newest ``updated_at`` seen."""
    config = ctx.config
    headers = {"Authorization": f"Bearer {config.access_token}", "Square-Version": config.square_version}
    body: dict[str, Any] = {"query": {"filter": {"location_ids": [config.location_id]},
                                      "sort": {"field": "INVOICE_SORT_DATE", "order": "DESC"}}, "limit": 200}
    floor = _when(since, ctx.now()) if since else None
    newest = floor
    handled: list[Handled] = []
    while True:
        page = ctx.http.send("POST", f"{config.api_base.rstrip('/')}/v2/invoices/search", json=body,
                             headers=headers).json() or {}
        for invoice in page.get("invoices") or []:
            if not isinstance(invoice, dict) or invoice.get("status") not in ("PAID", "PARTIALLY_PAID"):
                continue
            updated = _when(invoice.get("updated_at"), ctx.now())
            if floor is not None and updated < floor:
                continue
            handled.append(invoice_facts(ctx, None, "poll", invoice))
            newest = updated if newest is None or updated > newest else newest
        if not page.get("cursor"):
            break
        body["cursor"] = page["cursor"]
    return handled, newest.isoformat() if newest is not None else since

"""Stripe payments back: ``invoice.paid`` / ``invoice.payment_succeeded`` mark ours paid, ``invoice.payment_failed``
raises an anomaly; the catch-up reads the same events from ``GET /v1/events``.

Our Stripe invoices carry ``metadata[invoice_id]`` (the outbound adapter sets it), so the event alone names our
invoice. Stripe reports ``amount_paid`` so far in its own minor unit; what we have not recorded yet is booked.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connector.billing.payments import amounts
from connector.billing.payments.inbound import Delivery, Handled, VendorContext, cumulative, invoice_exists
from connector.billing.payments.record import VendorReversal
from connector.security.vendor_signatures import STRIPE_HEADER, verify_stripe
from connector.validation import NotFound

NAME = "stripe"
PAID = ("invoice.paid", "invoice.payment_succeeded")
FAILED = ("invoice.payment_failed",)


def _when(value: Any, fallback: datetime) -> datetime:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int) and not isinstance(value, bool) else fallback


def facts(ctx: VendorContext, event: dict[str, Any]) -> Handled:
    """The facts of one Stripe event (a webhook's body, or an item of ``GET /v1/events``)."""
    event_id, kind = str(event.get("id") or ""), str(event.get("type") or "")
    obj = ((event.get("data") or {}).get("object")) or {}
    if kind not in PAID + FAILED or not isinstance(obj, dict) or obj.get("object", "invoice") != "invoice":
        return Handled(event_id or None, kind, note="not a payment event of an invoice")
    ours = str((obj.get("metadata") or {}).get("invoice_id") or "")
    if not ours or not invoice_exists(ctx.db, ctx.tenant_id, ours):
        return Handled(event_id or None, kind, note="not an invoice this tenant sent to Stripe")
    stripe_id = str(obj.get("id") or "")
    created = _when(event.get("created"), ctx.now())
    if kind in FAILED:
        reason = str((obj.get("last_finalization_error") or {}).get("message") or "payment attempt failed")
        return Handled(event_id, kind, [VendorReversal(NAME, ours, f"{event_id}:failed", reason, "failed", created,
                                                       vendor_invoice=stripe_id)])
    currency = str(obj.get("currency") or "").upper()
    paid = amounts.from_stripe(obj.get("amount_paid"), currency)
    when = _when((obj.get("status_transitions") or {}).get("paid_at"), created)
    settled = obj.get("status") == "paid"
    found = cumulative(NAME, ctx.tenant_id, ctx.db, invoice_id=ours, vendor_invoice=stripe_id, paid_so_far=paid,
                       currency=currency, paid_at=when, settled=settled,
                       method=f"stripe:{obj.get('collection_method') or 'invoice'}")
    return Handled(event_id, kind, found, None if found else "nothing new paid")


def receive(ctx: VendorContext, delivery: Delivery) -> Handled:
    config = ctx.config
    secrets = [s for s in (config.webhook_secret, config.webhook_secret_previous) if s]
    if not secrets:
        raise NotFound("the Stripe payments webhook has no webhook_secret for this tenant")
    verify_stripe(secrets, delivery.header(STRIPE_HEADER), delivery.body, now=ctx.now().timestamp(),
                  tolerance=config.webhook_tolerance_seconds)
    return facts(ctx, _json(delivery.body))


def _json(body: bytes) -> dict[str, Any]:
    import json

    try:
        doc = json.loads(body)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def poll(ctx: VendorContext, since: str | None) -> tuple[list[Handled], str | None]:
    """``GET /v1/events`` of the payment types created after the cursor (unix seconds; Stripe keeps 30 days),
    oldest first; the new cursor is the newest ``created`` seen."""
    config = ctx.config
    headers = {"Authorization": f"Bearer {config.api_key}"}
    if config.stripe_account:
        headers["Stripe-Account"] = config.stripe_account
    params: list[tuple[str, str]] = [("limit", "100")] + [("types[]", t) for t in PAID + FAILED]
    if since:
        params.append(("created[gte]", since))  # same second again: event ids dedupe
    events: list[dict[str, Any]] = []
    while True:
        page = ctx.http.send("GET", f"{config.api_base.rstrip('/')}/v1/events", params=params,
                             headers=headers).json() or {}
        data = [e for e in page.get("data") or [] if isinstance(e, dict)]
        events.extend(data)
        if not page.get("has_more") or not data:
            break
        params = [p for p in params if p[0] != "starting_after"] + [("starting_after", str(data[-1].get("id")))]
    events.sort(key=lambda e: (int(e.get("created") or 0), str(e.get("id"))))
    cursor = str(events[-1].get("created")) if events else since
    return [facts(ctx, e) for e in events], cursor

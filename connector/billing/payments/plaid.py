"""Plaid Transfer payments back, by polling: ``/transfer/event/sync`` from the stored cursor (``after_id``).

``settled`` books the transfer's amount against the invoice it was made for (``/transfer/get``: the outbound
adapter put our ``invoice_id`` and ``tenant_id`` in the transfer's metadata); ``failed`` and ``returned`` reverse it
(a return may come days after settlement: the invoice is reopened) and raise an anomaly. Plaid's webhook
(``TRANSFER_EVENTS_UPDATE``) only says that new events exist, so no receiver is needed: the scheduled sync reads them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connector.billing.payments import amounts
from connector.billing.payments.inbound import Handled, VendorContext, invoice_exists
from connector.billing.payments.record import VendorPayment, VendorReversal
from connector.platforms.adapters.plaid import PLAID_VERSION

NAME = "plaid"
PAGE = 500  # Plaid's maximum count per sync call


def _when(value: Any, fallback: datetime) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return fallback
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _post(ctx: VendorContext, path: str, body: dict[str, Any]) -> dict[str, Any]:
    config = ctx.config
    headers = {"PLAID-CLIENT-ID": config.client_id, "PLAID-SECRET": config.secret, "Plaid-Version": PLAID_VERSION}
    answer = ctx.http.send("POST", config.api_base.rstrip("/") + path, json=body, headers=headers).json()
    return answer if isinstance(answer, dict) else {}


def event_facts(ctx: VendorContext, event: dict[str, Any], transfers: dict[str, dict[str, Any]]) -> Handled:
    kind, transfer_id = str(event.get("event_type") or ""), str(event.get("transfer_id") or "")
    event_id = f"transfer_event:{event.get('event_id')}"
    if kind not in ("settled", "failed", "returned") or not transfer_id:
        return Handled(event_id, kind, note="not a settlement, failure or return")
    if transfer_id not in transfers:
        transfers[transfer_id] = _post(ctx, "/transfer/get", {"transfer_id": transfer_id}).get("transfer") or {}
    transfer = transfers[transfer_id]
    meta = transfer.get("metadata") or {}
    ours = str(meta.get("invoice_id") or "")
    if meta.get("tenant_id") != ctx.tenant_id or not ours or not invoice_exists(ctx.db, ctx.tenant_id, ours):
        return Handled(event_id, kind, note="not a transfer this tenant made for an invoice")
    currency = str(transfer.get("iso_currency_code") or "USD").upper()
    when = _when(event.get("timestamp"), ctx.now())
    if kind == "settled":
        amount = amounts.major(event.get("transfer_amount") or transfer.get("amount"), currency)
        return Handled(event_id, kind, [VendorPayment(NAME, ours, transfer_id, amount, currency, when,
                                                      f"plaid:{transfer.get('network') or 'ach'}", transfer_id,
                                                      True)])
    raw = event.get("failure_reason")
    failure: dict[str, Any] = raw if isinstance(raw, dict) else {}
    code = failure.get("failure_code") or failure.get("ach_return_code")
    text = f"{code}: {failure.get('description') or kind}" if code else str(failure.get("description") or kind)
    return Handled(event_id, kind, [VendorReversal(NAME, ours, f"{transfer_id}:{kind}", text, kind, when,
                                                   reverses=transfer_id, vendor_invoice=transfer_id)])


def poll(ctx: VendorContext, since: str | None) -> tuple[list[Handled], str | None]:
    """Every transfer event after ``since`` (an event id), in order; the cursor is the last event id read."""
    after = int(since) if since and since.isdigit() else 0
    handled: list[Handled] = []
    transfers: dict[str, dict[str, Any]] = {}
    while True:
        page = _post(ctx, "/transfer/event/sync", {"after_id": after, "count": PAGE})
        events = sorted((e for e in page.get("transfer_events") or [] if isinstance(e, dict)),
                        key=lambda e: int(e.get("event_id") or 0))
        for event in events:
            handled.append(event_facts(ctx, event, transfers))
            after = max(after, int(event.get("event_id") or 0))
        if not page.get("has_more") or not events:
            break
    return handled, str(after)

"""Square Orders API: one order per finalized invoice of ours, one custom line item per priced line.

The body's ``idempotency_key`` makes a retry return the same order; taxes and discounts go out as our amounts,
so Square's ``total_money`` is our ``amount_due``. See docs/platforms/square.md."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from connector.models.documents import EventJson
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError
from connector.platforms.invoice_event import delivery_key, invoice_of, line_description, minor, unsendable

NAME = "square"
EVENTS = ("session.billed", "invoice.finalized")
SENDABLE = frozenset({"finalized", "paid"})


class SquareConfig(BaseModel):
    """Per tenant: an access token (secret), the seller location, and optional Square customer ids."""

    model_config = ConfigDict(extra="forbid")

    access_token: str = Field(min_length=1, repr=False)
    location_id: str = Field(min_length=1)
    api_base: str = Field(default="https://connect.squareup.com", description="sandbox: connect.squareupsandbox.com")
    square_version: str = "2025-08-20"
    customer_map: dict[str, str] = Field(default_factory=dict, description="our customer id -> Square customer id")
    source_name: str = "EV charging"
    # inbound payments (connector.billing.payments.square): the webhook subscription's key and exact URL
    webhook_signature_key: str | None = Field(default=None, repr=False)
    webhook_url: str | None = Field(default=None, description="the notification URL exactly as registered")


Config = SquareConfig


def skip_reason(event: EventJson) -> str | None:
    return unsendable(event, "Square", SENDABLE, "credit notes are not sent to Square by this adapter")


def idempotency_key(event: EventJson, config: SquareConfig | None = None) -> str:
    """Square's body key (<= 192 chars): one order per tenant and invoice.

    An event this adapter skips (a draft, no invoice) gets a key of its own: it never stands for a delivery
    of the invoice when the worker dedupes on equal keys."""
    skipped = skip_reason(event) is not None
    key = "" if skipped else f"evbill:{event.get('tenant_id', '')}:{invoice_of(event).get('id')}:order"
    return delivery_key(NAME, event, skipped, key, 192)


def build_order(event: EventJson, config: SquareConfig) -> dict[str, Any]:
    """The CreateOrder request body."""
    inv = invoice_of(event)
    cur = str(inv["currency"]).upper()
    items: list[dict[str, Any]] = []
    off = 0
    for i, line in enumerate(inv.get("lines") or []):
        net = minor(line.get("net"), cur, f"invoice.lines[{i}].net")
        if net < 0:
            off -= net
        elif net > 0:
            items.append({"uid": f"line-{line.get('id', i)}"[:60],
                          "name": str(line.get("description") or line.get("category") or "EV charging")[:512],
                          "quantity": "1", "item_type": "CUSTOM_AMOUNT", "note": line_description(line)[:2000],
                          "base_price_money": {"amount": net, "currency": cur},
                          "metadata": {"line_id": str(line.get("id", i)), "kind": str(line.get("kind") or "")}})
    for j, tax in enumerate(inv.get("taxes") or []):
        amount = minor(tax.get("amount"), cur, f"invoice.taxes[{j}].amount")
        if amount:
            rate = Decimal(str(tax.get("rate"))).normalize()
            items.append({"uid": f"tax-{j}", "name": f"{tax.get('name')} {rate:f}%"[:512], "quantity": "1",
                          "item_type": "CUSTOM_AMOUNT", "base_price_money": {"amount": amount, "currency": cur},
                          "metadata": {"kind": "tax"}})
    if not items:
        raise ValueError(f"invoice.lines: invoice {inv.get('id')} has no priced line")
    order: dict[str, Any] = {"location_id": config.location_id, "reference_id": str(inv.get("number") or inv["id"])[:40],
                             "source": {"name": config.source_name}, "line_items": items,
                             "metadata": {"invoice_id": str(inv["id"])[:255],
                                          "tenant_id": str(event.get("tenant_id", ""))}}
    customer = config.customer_map.get(str((inv.get("customer") or {}).get("id") or ""))
    if customer:
        order["customer_id"] = customer
    if off:
        order["discounts"] = [{"uid": "discounts", "name": "Discounts and incentives", "type": "FIXED_AMOUNT",
                               "scope": "ORDER", "amount_money": {"amount": off, "currency": cur}}]
    return {"idempotency_key": idempotency_key(event, config), "order": order}


def deliver(event: EventJson, config: SquareConfig, ctx: DeliveryContext) -> dict[str, Any]:
    """One CreateOrder; a retry with the same body key returns the same order."""
    reason = skip_reason(event)
    if reason is not None:
        return {"status": "skipped", "reason": reason}
    try:
        body = build_order(event, config)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    resp = ctx.http.send("POST", config.api_base.rstrip("/") + "/v2/orders", json=body,
                     headers={"Authorization": f"Bearer {config.access_token}",
                              "Square-Version": config.square_version})
    order = (resp.json() or {}).get("order") or {}
    return {"status": "sent", "ref": order.get("id"), "total": (order.get("total_money") or {}).get("amount")}

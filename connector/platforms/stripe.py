"""Stripe: one Stripe invoice per finalized invoice of ours (invoice, its items, finalize, send).

Order: ``POST /v1/invoices`` (``pending_invoice_items_behavior=exclude``), one ``POST /v1/invoiceitems`` per
priced line with ``invoice=in_…``, then ``/finalize`` and ``/send``. Creating the invoice first (the
contracts doc's alternative) attaches each item to *this* invoice, so a second invoice for the same customer
being delivered at the same time never sweeps up our pending items. Every POST carries its own
``Idempotency-Key`` derived from tenant, invoice id and step, so a retry replays Stripe's first answer.

Money is mapped, not computed: each item's ``amount`` is the line's net in integer minor units ("9.13" EUR
-> 913; negative for discounts and incentives), and in ``tax_mode="items"`` each tax of the invoice is one
more item with the invoice's tax amount, so Stripe's total equals our ``amount_due`` to the minor unit.
``tax_mode="tax_rates"`` attaches mapped Stripe tax rates instead (Stripe then computes the tax; see
docs/platforms/stripe.md).
Keys are kept by Stripe for at least 24 h: redeliveries after that rely on the outbox's own dedupe.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from connector.platforms.errors import PermanentError
from connector.platforms.invoice_event import delivery_key, invoice_of, minor, unsendable

NAME = "stripe"
EVENTS = ("session.billed", "invoice.finalized")
SENDABLE = frozenset({"finalized", "paid"})


class StripeConfig(BaseModel):
    """Per tenant. ``customer_map``: our customer id -> Stripe ``cus_…`` (ids already ``cus_…`` pass through)."""

    model_config = ConfigDict(extra="forbid")

    api_key: str = Field(min_length=1, repr=False)
    api_base: str = "https://api.stripe.com"
    stripe_version: str | None = Field(default=None, description="Pins Stripe-Version, e.g. 2026-10-28.endive")
    stripe_account: str | None = Field(default=None, description="Connect: acct_… to act for")
    customer_map: dict[str, str] = Field(default_factory=dict)
    days_until_due: int = Field(default=30, ge=0, le=365)
    tax_mode: Literal["items", "tax_rates"] = "items"
    tax_rate_ids: dict[str, str] = Field(default_factory=dict, description='"VAT:19" -> "txr_…" (tax_rates mode)')
    send: bool = True


Config = StripeConfig


def skip_reason(event: dict[str, Any]) -> str | None:
    """Drafts (monthly invoices still collecting sessions) and credit notes are not Stripe invoices."""
    return unsendable(event, "Stripe", SENDABLE, "credit notes are not sent to Stripe by this adapter")


def _base_key(event: dict[str, Any]) -> str:
    return f"evbill:{event.get('tenant_id', '')}:{invoice_of(event).get('id')}"


def idempotency_key(event: dict[str, Any], config: StripeConfig | None = None) -> str:
    """Per invoice: ``session.billed`` and ``invoice.finalized`` of one invoice make one Stripe invoice.

    An event this adapter skips (a draft, no invoice) gets a key of its own: it never stands for a delivery
    of the invoice when the worker dedupes on equal keys."""
    skipped = skip_reason(event) is not None
    return delivery_key(NAME, event, skipped, "" if skipped else f"stripe:{_base_key(event)}", 200)


def stripe_customer(invoice: dict[str, Any], config: StripeConfig) -> str:
    ours = str((invoice.get("customer") or {}).get("id") or "")
    mapped = config.customer_map.get(ours) or (ours if ours.startswith("cus_") else None)
    if not mapped:
        raise ValueError(f"invoice.customer.id: {ours!r} has no Stripe customer in config customer_map")
    return mapped


def build_invoice(event: dict[str, Any], config: StripeConfig) -> dict[str, Any]:
    """``POST /v1/invoices`` body (before form encoding)."""
    inv = invoice_of(event)
    return {"customer": stripe_customer(inv, config), "currency": str(inv["currency"]).lower(),
            "collection_method": "send_invoice", "days_until_due": config.days_until_due,
            "pending_invoice_items_behavior": "exclude", "auto_advance": False,
            "description": f"EV charging - invoice {inv.get('number') or inv['id']}",
            "metadata": {"invoice_id": str(inv["id"]), "invoice_number": str(inv.get("number") or ""),
                         "tenant_id": str(event.get("tenant_id", ""))}}


def _line_description(line: dict[str, Any]) -> str:
    text = str(line.get("description") or line.get("category") or "EV charging")
    if line.get("unit") and line.get("quantity") not in (None, "", "1"):
        text += f" ({line['quantity']} {line['unit']})"
    if line.get("session_id"):
        text += f" - session {line['session_id']}"
    return text


def build_items(event: dict[str, Any], config: StripeConfig, stripe_invoice: str) -> list[tuple[str, dict[str, Any]]]:
    """(step name, ``POST /v1/invoiceitems`` body) per priced line, then per tax in ``items`` mode."""
    inv = invoice_of(event)
    cur = str(inv["currency"])
    customer = stripe_customer(inv, config)
    out: list[tuple[str, dict[str, Any]]] = []
    for i, line in enumerate(inv.get("lines") or []):
        net = minor(line.get("net"), cur, f"invoice.lines[{i}].net")
        if net == 0:
            continue
        item: dict[str, Any] = {"customer": customer, "invoice": stripe_invoice, "currency": cur.lower(),
                                "amount": net, "description": _line_description(line)[:5000],
                                "tax_behavior": "exclusive",
                                "metadata": {"invoice_id": str(inv["id"]), "line_id": str(line.get("id", i)),
                                             "session_id": str(line.get("session_id") or ""),
                                             "kind": str(line.get("kind") or "")}}
        if config.tax_mode == "tax_rates" and line.get("taxes"):
            item["tax_rates"] = [_tax_rate_id(t, config, f"invoice.lines[{i}].taxes") for t in line["taxes"]]
        out.append((f"item:{line.get('id', i)}", item))
    if config.tax_mode == "items":
        for j, tax in enumerate(inv.get("taxes") or []):
            amount = minor(tax.get("amount"), cur, f"invoice.taxes[{j}].amount")
            if amount == 0:
                continue
            label = f"{tax.get('name')} {Decimal(str(tax.get('rate'))).normalize():f}%"
            out.append((f"tax:{j}", {"customer": customer, "invoice": stripe_invoice, "currency": cur.lower(),
                                     "amount": amount, "description": label, "discountable": False,
                                     "metadata": {"invoice_id": str(inv["id"]), "kind": "tax",
                                                  "tax": label}}))
    return out


def _tax_rate_id(tax: dict[str, Any], config: StripeConfig, field: str) -> str:
    key = f"{tax.get('name')}:{Decimal(str(tax.get('rate'))).normalize():f}"
    if key not in config.tax_rate_ids:
        raise ValueError(f"{field}: no Stripe tax rate configured for {key!r} (config tax_rate_ids)")
    return config.tax_rate_ids[key]


def build_finalize() -> dict[str, Any]:
    return {"auto_advance": False}


def form_encode(body: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's form encoding: nested keys as ``a[b]``, list items as ``a[0]``, booleans ``true``/``false``."""
    pairs: list[tuple[str, str]] = []
    for key, value in body.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            pairs.extend(form_encode(value, name))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                pairs.extend(form_encode({str(i): v}, name))
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        elif value is not None:
            pairs.append((name, str(value)))
    return pairs


def _id(payload: dict[str, Any], dry_run_placeholder: str) -> str:
    """The created object's id; under the DryRunSender (nothing sent) a placeholder so later steps are written."""
    if payload.get("id"):
        return str(payload["id"])
    if payload.get("dry_run") is True:
        return dry_run_placeholder
    raise PermanentError("Stripe answered without an object id")


def _headers(config: StripeConfig, key: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {config.api_key}", "Idempotency-Key": key}
    if config.stripe_version:
        headers["Stripe-Version"] = config.stripe_version
    if config.stripe_account:
        headers["Stripe-Account"] = config.stripe_account
    return headers


def deliver(event: dict[str, Any], config: StripeConfig, http: Any, **stores: Any) -> dict[str, Any]:
    """Invoice, items, finalize, send; each POST idempotent on its own derived key."""
    reason = skip_reason(event)
    if reason is not None:
        return {"status": "skipped", "reason": reason}
    base = config.api_base.rstrip("/")
    key = _base_key(event)
    try:
        invoice_body = build_invoice(event, config)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc

    def post(path: str, body: dict[str, Any], step: str) -> dict[str, Any]:
        resp = http.send("POST", base + path, data=form_encode(body), headers=_headers(config, f"{key}:{step}"))
        return dict(resp.json() or {})

    stripe_invoice = _id(post("/v1/invoices", invoice_body, "invoice"), "in_dry_run")
    try:
        items = build_items(event, config, stripe_invoice)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    item_ids = [_id(post("/v1/invoiceitems", body, step), f"ii_dry_run_{step}") for step, body in items]
    final = post(f"/v1/invoices/{stripe_invoice}/finalize", build_finalize(), "finalize")
    if config.send:
        final = post(f"/v1/invoices/{stripe_invoice}/send", {}, "send")
    return {"status": "sent", "ref": stripe_invoice, "items": item_ids, "amount_due": final.get("amount_due"),
            "number": final.get("number")}

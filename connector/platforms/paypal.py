"""PayPal Invoicing v2: one PayPal invoice per finalized invoice of ours (per session or per period), then send.

``POST /v2/invoicing/invoices`` creates a draft, ``POST /v2/invoicing/invoices/{id}/send`` sends it.
PayPal's spec declares **no** idempotency header for invoicing (see the contracts doc), so the key is a
deterministic ``detail.invoice_number`` (our invoice number, unique per tenant): before creating, the
adapter searches for that number (``POST /v2/invoicing/search-invoices``) and reuses what it finds; only a
``DRAFT`` is sent. A lost answer after a create or a send therefore never makes a second invoice or mail.
``PayPal-Request-Id`` is sent as well (harmless where unsupported), but nothing relies on it.

Money is mapped, not computed: each charge line is one item of quantity 1 at the line's net (PayPal would
otherwise recompute quantity x unit price with its own rounding); each tax of the invoice is one item with
our tax amount; discounts and incentives (negative lines) are the invoice discount. PayPal's total is
therefore exactly our ``amount_due``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from connector.money import minor_units, to_decimal
from connector.platforms.errors import PermanentError
from connector.platforms.invoice_event import delivery_key, invoice_of, minor, unsendable
from connector.platforms.oauth import send_authorized, shared_provider

NAME = "paypal"
EVENTS = ("session.billed", "invoice.finalized")
SENDABLE = frozenset({"finalized", "paid"})
TermType = Literal["DUE_ON_RECEIPT", "NET_10", "NET_15", "NET_30", "NET_45", "NET_60", "NET_90", "NO_DUE_DATE"]


class PayPalConfig(BaseModel):
    """Per tenant: REST app credentials (client credentials grant) and the invoicer shown on the invoice."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1, repr=False)
    api_base: str = Field(default="https://api-m.paypal.com", description="sandbox: https://api-m.sandbox.paypal.com")
    invoicer_email: str = Field(min_length=3)
    invoicer_business_name: str | None = None
    invoice_number_prefix: str = Field(default="EV-", max_length=20)
    payment_term: TermType = "NET_30"
    send_to_invoicer: bool = False
    subject: str = "Your EV charging invoice {number}"
    note: str | None = None


Config = PayPalConfig


def skip_reason(event: dict[str, Any]) -> str | None:
    return unsendable(event, "PayPal", SENDABLE, "credit notes are not sent to PayPal by this adapter")


def invoice_number(event: dict[str, Any], config: PayPalConfig) -> str:
    """PayPal's dedupe key: our (gapless, per tenant) number, else the invoice id."""
    inv = invoice_of(event)
    return f"{config.invoice_number_prefix}{inv.get('number') or inv['id']}"[:127]


def idempotency_key(event: dict[str, Any], config: PayPalConfig | None = None) -> str:
    """Per invoice (``session.billed`` and ``invoice.finalized`` of one invoice are one PayPal invoice).

    An event this adapter skips (a draft, no invoice) gets a key of its own: it never stands for a delivery
    of the invoice when the worker dedupes on equal keys."""
    skipped = skip_reason(event) is not None
    key = "" if skipped else f"paypal:{event.get('tenant_id', '')}:{invoice_of(event).get('id')}"
    return delivery_key(NAME, event, skipped, key, 200)


def _money(amount_minor: int, currency: str) -> dict[str, str]:
    """PayPal money: a decimal string with the currency's ISO 4217 decimals (EUR 913 -> "9.13", JPY 1372 -> "1372")."""
    return {"currency_code": currency, "value": f"{Decimal(amount_minor).scaleb(-minor_units(currency)):f}"}


def _item_description(line: dict[str, Any]) -> str:
    parts = []
    if line.get("unit") and line.get("quantity") not in (None, ""):
        parts.append(f"{line['quantity']} {line['unit']}")
    if line.get("session_id"):
        parts.append(f"session {line['session_id']}")
    if line.get("station_id"):
        parts.append(f"station {line['station_id']}")
    return ", ".join(parts)[:1000]


def build_invoice(event: dict[str, Any], config: PayPalConfig) -> dict[str, Any]:
    """The draft invoice body (``invoice`` schema; no readOnly fields)."""
    inv = invoice_of(event)
    cur = str(inv["currency"])
    customer = inv.get("customer") or {}
    if not customer.get("email"):
        raise ValueError(f"invoice.customer.email: required to send PayPal invoice {inv.get('id')}")
    items: list[dict[str, Any]] = []
    discount = 0
    for i, line in enumerate(inv.get("lines") or []):
        net = minor(line.get("net"), cur, f"invoice.lines[{i}].net")
        if net < 0:
            discount -= net
        elif net > 0:
            items.append({"name": str(line.get("description") or line.get("category") or "EV charging")[:200],
                          "description": _item_description(line), "quantity": "1",
                          "unit_amount": _money(net, cur), "unit_of_measure": "QUANTITY"})
    for j, tax in enumerate(inv.get("taxes") or []):
        amount = minor(tax.get("amount"), cur, f"invoice.taxes[{j}].amount")
        if amount:
            label = f"{tax.get('name')} {to_decimal(tax.get('rate'), f'invoice.taxes[{j}].rate').normalize():f}%"
            base = minor(tax.get("taxable_base"), cur, f"invoice.taxes[{j}].taxable_base")
            items.append({"name": label[:200], "description": f"on {_money(base, cur)['value']} {cur}",
                          "quantity": "1", "unit_amount": _money(amount, cur),
                          "unit_of_measure": "AMOUNT"})
    if len(items) > 100:
        raise ValueError(f"invoice.lines: {len(items)} items, PayPal allows 100 per invoice")
    recipient: dict[str, Any] = {"email_address": customer["email"]}
    if customer.get("name"):
        recipient["name"] = {"full_name": str(customer["name"])[:300]}
    invoicer: dict[str, Any] = {"email_address": config.invoicer_email}
    if config.invoicer_business_name:
        invoicer["business_name"] = config.invoicer_business_name
    detail: dict[str, Any] = {"currency_code": cur, "invoice_number": invoice_number(event, config),
                              "reference": str(inv["id"])[:120],
                              "payment_term": {"term_type": config.payment_term}}
    if inv.get("issued_at"):
        detail["invoice_date"] = str(inv["issued_at"])[:10]
    if config.note:
        detail["note"] = config.note
    body: dict[str, Any] = {"detail": detail, "invoicer": invoicer,
                            "primary_recipients": [{"billing_info": recipient}], "items": items}
    if discount:
        body["amount"] = {"breakdown": {"discount": {"invoice_discount": {
            "amount": _money(discount, cur)}}}}
    return body


def build_send(event: dict[str, Any], config: PayPalConfig) -> dict[str, Any]:
    inv = invoice_of(event)
    return {"subject": config.subject.format(number=inv.get("number") or inv["id"])[:4000],
            "send_to_recipient": True, "send_to_invoicer": config.send_to_invoicer}


def _id_from(payload: dict[str, Any]) -> str:
    if payload.get("id"):
        return str(payload["id"])
    if payload.get("dry_run") is True:  # DryRunSender: nothing was created; keep writing the send request
        return "INV2-DRY-RUN"
    href = str(payload.get("href") or "")  # the default (minimal) answer is a link to the new invoice
    if not href:
        raise PermanentError("PayPal create answer has neither id nor href")
    return urlsplit(href).path.rstrip("/").rsplit("/", 1)[-1]


def deliver(event: dict[str, Any], config: PayPalConfig, http: Any, **stores: Any) -> dict[str, Any]:
    """Find-or-create the draft by invoice number, then send it unless it was already sent."""
    reason = skip_reason(event)
    if reason is not None:
        return {"status": "skipped", "reason": reason}
    try:
        body, notification = build_invoice(event, config), build_send(event, config)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    base = config.api_base.rstrip("/")
    tokens = shared_provider(f"{base}/v1/oauth2/token", config.client_id, config.client_secret)
    number = body["detail"]["invoice_number"]
    key = idempotency_key(event, config)

    found = send_authorized(tokens, http, "POST", f"{base}/v2/invoicing/search-invoices",
                            params={"page_size": 2}, json={"invoice_number": number}).json()
    matches = [i for i in found.get("items") or [] if (i.get("detail") or {}).get("invoice_number") == number]
    if matches:
        invoice_id, status = str(matches[0]["id"]), str(matches[0].get("status"))
    else:
        created = send_authorized(tokens, http, "POST", f"{base}/v2/invoicing/invoices", json=body,
                                  headers={"Prefer": "return=representation", "PayPal-Request-Id": f"{key}:create"})
        invoice_id, status = _id_from(created.json()), "DRAFT"
    if status == "DRAFT":
        send_authorized(tokens, http, "POST", f"{base}/v2/invoicing/invoices/{invoice_id}/send", json=notification,
                        headers={"PayPal-Request-Id": f"{key}:send"})
        status = "SENT"
    return {"status": "sent", "ref": invoice_id, "invoice_number": number, "paypal_status": status,
            "found_existing": bool(matches)}

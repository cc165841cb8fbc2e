"""Square: one Order per finalized invoice of ours, with Square's own line taxes, invoiced and published.

The Order carries our line nets as custom line items and our taxes as Square order taxes applied per line, so
Square's tax reports hold our VAT / sales tax as tax. Square computes the tax itself: its ``total_money`` and
``total_tax_money`` are compared with ours before anyone is asked to pay; only then a Square Invoice is made for
the Order (Invoices API) and published, which is what puts it in Square's receivables and mails the customer.
Voids cancel (or delete) that invoice, and a credit note for the whole invoice cancels it too. Every call is
idempotent on a key of its own. See docs/platforms/square.md."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from connector.models.documents import EventJson, InvoiceJson
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError, RetryableError
from connector.platforms.invoice_event import (
    bounded_key,
    correction_skip,
    delivery_key,
    invoice_of,
    line_description,
    operation,
    unsendable,
)
from connector.platforms.invoice_event import minor as iso_minor
from connector.platforms.sent_refs import SentRefs
from connector.platforms.vendor_units import SQUARE, vendor_minor

NAME = "square"
EVENTS = ("session.billed", "invoice.finalized", "invoice.voided", "credit_note.issued")
SENDABLE = frozenset({"finalized", "paid"})
KEY_LIMIT = 192  # the body idempotency_key of CreateOrder; CreateInvoice / PublishInvoice take 128
CANCELABLE = frozenset({"UNPAID", "SCHEDULED", "PARTIALLY_PAID"})  # CancelInvoice: not DRAFT, PAID, ...
DELETABLE = frozenset({"DRAFT"})  # DeleteInvoice: drafts only


class SquareConfig(BaseModel):
    """Per tenant: an access token (secret), the seller location, Square customer ids, and how invoices go out."""

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
    invoice: bool = Field(default=True, description="create and publish a Square Invoice for the Order (the "
                          "customer is asked to pay); false: the Order only, as before")
    delivery_method: Literal["EMAIL", "SHARE_MANUALLY"] = "EMAIL"
    days_until_due: int = Field(default=30, ge=0, le=365)
    accept_card: bool = True
    accept_bank_account: bool = False


Config = SquareConfig


def minor(value: object, currency: str, field: str) -> int:
    """Our decimal amount as Square's ``Money.amount`` (the currency's smallest denomination)."""
    return vendor_minor(iso_minor(value, currency, field), currency, SQUARE, field)


def skip_reason(event: EventJson) -> str | None:
    """Drafts are not sent; voids and credit notes follow the invoice (a credit note of part of an invoice is
    skipped at delivery, with the reason: Square has no credit notes)."""
    if operation(event) != "invoice":
        reason = correction_skip(event, "Square")
        if reason is None and operation(event) == "credit_note" and not invoice_of(event).get("credit_note_of"):
            return f"credit note {invoice_of(event).get('id')} names no invoice it credits"
        return reason
    return unsendable(event, "Square", SENDABLE, "a credit note goes to Square on credit_note.issued only")


def order_key(tenant_id: str, invoice_id: str) -> str:
    return f"evbill:{tenant_id}:{invoice_id}:order"


def idempotency_key(event: EventJson, config: SquareConfig | None = None) -> str:
    """Square's body key (<= 192 chars): one order per tenant and invoice; a void (``…:void``) or credit note
    (``…:credit_note:<id>``) has its own.

    An event this adapter skips (a draft, no invoice) gets a key of its own: it never stands for a delivery
    of the invoice when the worker dedupes on equal keys."""
    skipped = skip_reason(event) is not None
    key = ""
    if not skipped:
        inv = invoice_of(event)
        tenant = str(event.get("tenant_id", ""))
        if event.get("type") == "invoice.voided":
            key = f"evbill:{tenant}:{inv.get('id')}:void"
        elif event.get("type") == "credit_note.issued":
            key = f"evbill:{tenant}:{inv.get('credit_note_of')}:credit_note:{inv.get('id')}"
        else:
            key = order_key(tenant, str(inv.get("id")))
    return delivery_key(NAME, event, skipped, key, KEY_LIMIT)


def _tax_uid(tax: dict[str, Any], session: object) -> str:
    """One Square order tax per (session, tax): Square rounds each order tax once over the items it applies to,
    and our tax is rounded per session, so a monthly invoice's tax is then Square's to the minor unit."""
    rate = f"{Decimal(str(tax.get('rate'))).normalize():f}"
    digest = hashlib.sha256(f"{session}|{tax.get('name')}|{rate}".encode()).hexdigest()[:16]
    return f"tax-{digest}"


def build_order(event: EventJson, config: SquareConfig) -> dict[str, Any]:
    """The CreateOrder request body.

    Positive lines are custom line items carrying ``applied_taxes``; each tax of ours (name, rate) of each
    session is one order tax (``scope=LINE_ITEM``, ``type=ADDITIVE``, its percentage, named "VAT 19%"), so
    Square books tax as tax and rounds it per session, as we do. Negative lines (a
    discount with its tax share) are one order discount, which Square spreads over the items before tax, as our
    discount lines reduce the taxed nets. An after-tax incentive on a taxed invoice cannot be expressed (Square
    applies discounts before tax): refused, never sent with other tax."""
    inv = invoice_of(event)
    cur = str(inv["currency"]).upper()
    items: list[dict[str, Any]] = []
    taxes: dict[str, dict[str, Any]] = {}
    off = 0
    untaxed_credit = False
    for i, line in enumerate(inv.get("lines") or []):
        net = minor(line.get("net"), cur, f"invoice.lines[{i}].net")
        line_taxes = line.get("taxes") or []
        for tax in line_taxes:
            uid = _tax_uid(dict(tax), line.get("session_id"))
            rate = f"{Decimal(str(tax.get('rate'))).normalize():f}"
            taxes.setdefault(uid, {"uid": uid, "name": f"{tax.get('name')} {rate}%"[:255], "percentage": rate,
                                   "type": "ADDITIVE", "scope": "LINE_ITEM"})
        if net < 0:
            off -= net
            untaxed_credit = untaxed_credit or not line_taxes
        elif net > 0:
            item: dict[str, Any] = {
                "uid": f"line-{line.get('id', i)}"[:60],
                "name": str(line.get("description") or line.get("category") or "EV charging")[:512],
                "quantity": "1", "item_type": "CUSTOM_AMOUNT", "note": line_description(line)[:2000],
                "base_price_money": {"amount": net, "currency": cur},
                "metadata": {"line_id": str(line.get("id", i)), "kind": str(line.get("kind") or "")}}
            if line_taxes:
                item["applied_taxes"] = [{"tax_uid": _tax_uid(dict(t), line.get("session_id"))} for t in line_taxes]
            items.append(item)
    if not items:
        raise ValueError(f"invoice.lines: invoice {inv.get('id')} has no priced line")
    if untaxed_credit and taxes:
        raise ValueError(f"invoice.lines: invoice {inv.get('id')} has an after-tax incentive; Square applies "
                         "discounts before tax, so its tax would not be ours: send it to another platform or "
                         "invoice it without the incentive")
    order: dict[str, Any] = {"location_id": config.location_id, "reference_id": str(inv.get("number") or inv["id"])[:40],
                             "source": {"name": config.source_name}, "line_items": items,
                             "metadata": {"invoice_id": str(inv["id"])[:255],
                                          "tenant_id": str(event.get("tenant_id", ""))}}
    if taxes:
        order["taxes"] = list(taxes.values())
    customer = config.customer_map.get(str((inv.get("customer") or {}).get("id") or ""))
    if customer:
        order["customer_id"] = customer
    if off:
        order["discounts"] = [{"uid": "discounts", "name": "Discounts", "type": "FIXED_AMOUNT",
                               "scope": "ORDER", "amount_money": {"amount": off, "currency": cur}}]
    return {"idempotency_key": idempotency_key(event, config), "order": order}


def build_invoice(event: EventJson, config: SquareConfig, order_id: str) -> dict[str, Any]:
    """The CreateInvoice body for the Order: one BALANCE payment request due ``days_until_due`` after issue."""
    inv = invoice_of(event)
    ours = str((inv.get("customer") or {}).get("id") or "")
    customer = config.customer_map.get(ours)
    if not customer:
        raise ValueError(f"invoice.customer.id: {ours!r} has no Square customer in config customer_map (a Square "
                         "invoice needs its recipient)")
    issued = date.fromisoformat(str(inv.get("issued_at") or event.get("created_at") or "")[:10])
    number = str(inv.get("number") or inv["id"])
    return {"idempotency_key": bounded_key(f"evbill:{event.get('tenant_id', '')}:{inv['id']}:invoice", 128),
            "invoice": {"location_id": config.location_id, "order_id": order_id,
                        "primary_recipient": {"customer_id": customer},
                        "payment_requests": [{"request_type": "BALANCE",
                                              "due_date": (issued + timedelta(days=config.days_until_due)).isoformat(),
                                              "automatic_payment_source": "NONE"}],
                        "delivery_method": config.delivery_method, "invoice_number": number[:191],
                        "title": f"EV charging - invoice {number}"[:255], "sale_or_service_date": issued.isoformat(),
                        "accepted_payment_methods": {"card": config.accept_card,
                                                     "bank_account": config.accept_bank_account,
                                                     "square_gift_card": False, "buy_now_pay_later": False,
                                                     "cash_app_pay": False}}}


def expected_totals(inv: InvoiceJson) -> tuple[int, int]:
    """(total, tax) of our invoice in Square's units."""
    cur = str(inv["currency"])
    return minor(inv.get("amount_due"), cur, "invoice.amount_due"), minor(inv.get("tax_total") or "0", cur,
                                                                            "invoice.tax_total")


class _Square:
    def __init__(self, config: SquareConfig, ctx: DeliveryContext) -> None:
        self.config, self.http = config, ctx.http
        self.base = config.api_base.rstrip("/")

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             params: dict[str, Any] | None = None) -> dict[str, Any]:
        resp = self.http.send(method, self.base + path, json=body, params=params,
                              headers={"Authorization": f"Bearer {self.config.access_token}",
                                       "Square-Version": self.config.square_version})
        return dict(resp.json() or {})


def deliver(event: EventJson, config: SquareConfig, ctx: DeliveryContext) -> dict[str, Any]:
    """CreateOrder, check Square's totals, then CreateInvoice + PublishInvoice; or a void / credit note."""
    reason = skip_reason(event)
    if reason is not None:
        return {"status": "skipped", "reason": reason}
    api = _Square(config, ctx)
    if event.get("type") in ("invoice.voided", "credit_note.issued"):
        return _correct(event, api, ctx.refs)
    inv = invoice_of(event)
    try:
        body = build_order(event, config)
        want_total, want_tax = expected_totals(inv)
        if config.invoice:
            build_invoice(event, config, "check")  # a missing recipient fails before anything is created
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    order = api.call("POST", "/v2/orders", body).get("order") or {}
    if order.get("dry_run") is not True and "id" in order:
        total = (order.get("total_money") or {}).get("amount")
        tax = (order.get("total_tax_money") or {}).get("amount", 0)
        if (total, tax) != (want_total, want_tax):
            raise PermanentError(f"Square order {order['id']} totals {total} with tax {tax} (Square minor units), "
                                 f"ours is {want_total} with tax {want_tax}: not invoiced, nobody is asked to pay "
                                 "it; check the tax rates and the rounding policy")
    order_id = str(order.get("id") or "dry-run-order")
    result: dict[str, Any] = {"status": "sent", "ref": order_id, "order": order_id,
                              "total": (order.get("total_money") or {}).get("amount"),
                              "tax": (order.get("total_tax_money") or {}).get("amount")}
    if not config.invoice:
        return result
    created = api.call("POST", "/v2/invoices", build_invoice(event, config, order_id)).get("invoice") or {}
    invoice_id = str(created.get("id") or "dry-run-invoice")
    status = created.get("status")
    if status in (None, "DRAFT"):
        publish = {"version": int(created.get("version") or 0),
                   "idempotency_key": bounded_key(f"evbill:{event.get('tenant_id', '')}:{inv['id']}:publish", 128)}
        status = (api.call("POST", f"/v2/invoices/{quote(invoice_id, safe='')}/publish", publish).get("invoice")
                  or {}).get("status", status)
    return {**result, "ref": invoice_id, "invoice": invoice_id, "square_status": status}


def _original(refs: SentRefs | None, tenant: str, invoice_id: str, what: str) -> str:
    if refs is None:
        raise PermanentError(f"{what} needs the record of sent deliveries (run it through the outbox worker)")
    result = refs.result_of(tenant, NAME, bounded_key(order_key(tenant, invoice_id), KEY_LIMIT))
    if result is None:
        raise RetryableError(f"original invoice {invoice_id} not yet delivered to Square; the {what} waits for it")
    if not result.get("invoice"):
        raise PermanentError(f"invoice {invoice_id} went to Square as an order only (invoice: false): cancel or "
                             "refund it in Square by hand")
    return str(result["invoice"])


def _correct(event: EventJson, api: _Square, refs: SentRefs | None) -> dict[str, Any]:
    """Cancel (published) or delete (draft) the Square invoice of a voided invoice or of a credit note for all of
    it. Square has no credit notes: a partial credit is skipped with the reason; a paid one is refunded in Square
    by hand (Square refunds payments, not invoices)."""
    inv = invoice_of(event)
    tenant = str(event.get("tenant_id", ""))
    credit = event.get("type") == "credit_note.issued"
    original = str(inv.get("credit_note_of") if credit else inv.get("id"))
    what = f"credit note {inv.get('id')}" if credit else "void"
    square_id = _original(refs, tenant, original, what)
    current = api.call("GET", f"/v2/invoices/{quote(square_id, safe='')}").get("invoice") or {}
    if current.get("dry_run") is True or not current:
        current = {"status": "UNPAID", "version": 0}
    status = str(current.get("status"))
    result = {"status": "sent", "ref": square_id, "square_status_before": status}
    if credit:
        due = (current.get("payment_requests") or [{}])[0].get("computed_amount_money", {}).get("amount")
        credited = minor(inv.get("amount_due"), str(inv["currency"]), "invoice.amount_due")
        if due is not None and credited != due:
            return {"status": "skipped", "ref": square_id,
                    "reason": f"Square has no credit notes: credit note {inv.get('number')} credits {credited} of "
                              f"Square invoice {square_id} ({due}, {status}); cancel and re-invoice by hand"}
    if status == "CANCELED":
        return {**result, "action": "none", "square_status": "CANCELED"}
    if status in ("PAID", "PAYMENT_PENDING", "REFUNDED", "PARTIALLY_REFUNDED"):
        raise PermanentError(f"Square invoice {square_id} is {status}: Square cannot cancel it; refund the payment "
                             f"in Square for our {what}")
    version = int(current.get("version") or 0)
    if status in DELETABLE:
        api.call("DELETE", f"/v2/invoices/{quote(square_id, safe='')}", params={"version": version})
        return {**result, "action": "delete", "square_status": "DELETED"}
    if status in CANCELABLE:
        done = api.call("POST", f"/v2/invoices/{quote(square_id, safe='')}/cancel", {"version": version})
        return {**result, "action": "cancel", "square_status": (done.get("invoice") or {}).get("status", "CANCELED")}
    raise PermanentError(f"Square invoice {square_id} is {status}; the {what} cannot be applied to it")

"""Xero Accounting: one ACCREC invoice per finalized invoice of ours, its void, and our credit notes.

Each operation has its own Idempotency-Key; lines carry our nets and tax amounts (3-decimal currencies are
refused, never rounded). Xero rotates refresh tokens: they are kept in the worker's token store. See
docs/platforms/xero.md."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from connector.models.documents import EventJson, InvoiceJson, InvoiceLineJson
from connector.money import minor_units, to_decimal
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError, RetryableError
from connector.platforms.exact_json import dumps_exact
from connector.platforms.invoice_event import (
    bounded_key,
    correction_skip,
    delivery_key,
    invoice_of,
    major,
    operation,
    unsendable,
)
from connector.platforms.oauth import rotating_provider, send_authorized
from connector.platforms.sent_refs import SentRefs

NAME = "xero"
EVENTS = ("session.billed", "invoice.finalized", "invoice.voided", "credit_note.issued")
SENDABLE = frozenset({"finalized", "paid"})
XERO_DECIMALS = 2
_HTTP_STATUS = re.compile(r"\bHTTP\s*(\d{3})\b")


class XeroConfig(BaseModel):
    """Per tenant. ``account_codes``: invoice line category -> Xero account code; ``tax_types``:
    ``"<tax name>:<rate>"`` (several taxes joined with ``+``) -> Xero TaxType."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1, repr=False)
    refresh_token: str = Field(min_length=1, repr=False, description="rotated by Xero on every refresh")
    xero_tenant_id: str = Field(min_length=1, description="the organisation (GET /connections)")
    token_url: str = "https://identity.xero.com/connect/token"
    api_base: str = "https://api.xero.com/api.xro/2.0"
    status: Literal["DRAFT", "SUBMITTED", "AUTHORISED"] = Field(
        default="AUTHORISED", description="of invoices and credit notes; a void is VOIDED for AUTHORISED, else DELETED")
    due_days: int = Field(default=14, ge=0, le=365)
    default_account_code: str = "200"
    account_codes: dict[str, str] = Field(default_factory=lambda: {
        "energy": "200", "time": "200", "parking": "200", "fixed": "200", "reservation": "200",
        "adjustment": "200", "incentive": "200"})
    tax_types: dict[str, str] = Field(default_factory=dict, description='e.g. {"VAT:19": "OUTPUT2"}')
    default_tax_type: str | None = Field(default="OUTPUT", description="for taxed lines without a mapping")
    no_tax_type: str = Field(default="NONE", description="for lines without tax (incentives, exempt)")
    contact_map: dict[str, str] = Field(default_factory=dict, description="our customer id -> Xero ContactID")
    allocate_credit_notes: bool = Field(
        default=True, description="allocate each credit note to its original invoice in Xero (AUTHORISED only)")
    # inbound payments (connector.billing.payments.xero): the app's webhook signing key
    webhook_key: str | None = Field(default=None, repr=False)


Config = XeroConfig




def skip_reason(event: EventJson) -> str | None:
    """Why the event sends nothing to Xero (None: it does)."""
    if operation(event) != "invoice":
        return correction_skip(event, "Xero")
    return unsendable(event, "Xero", SENDABLE, "credit notes go to Xero's CreditNotes endpoint on "
                                               "credit_note.issued, not as invoices")


def idempotency_key(event: EventJson, config: XeroConfig | None = None) -> str:
    """Xero's Idempotency-Key (<= 128 chars): one per tenant, document of ours and operation (``invoice``,
    ``void``, ``credit_note``), so a void never equals the creation key of its invoice.

    An event this adapter skips (a draft, no invoice) gets a key of its own: it never stands for a delivery
    of the invoice when the worker dedupes on equal keys."""
    skipped = skip_reason(event) is not None
    key = "" if skipped else operation_key(event.get("tenant_id", ""), invoice_of(event).get("id"), operation(event))
    return delivery_key(NAME, event, skipped, key, 128)


def operation_key(tenant_id: Any, document_id: Any, op: str) -> str:
    """``evbill:<tenant>:<our invoice or credit note id>:<op>`` (op: invoice, void, credit_note, allocation),
    within Xero's 128 characters without ever cutting ``<op>`` off (see ``bounded_key``)."""
    return bounded_key(f"evbill:{tenant_id}:{document_id}:{op}", 128)


def tax_type(line: InvoiceLineJson, config: XeroConfig, field: str) -> str:
    taxes = line.get("taxes") or []
    if not taxes:
        return config.no_tax_type
    key = "+".join(f"{t.get('name')}:{to_decimal(t.get('rate'), field).normalize():f}" for t in taxes)
    mapped = config.tax_types.get(key) or config.default_tax_type
    if not mapped:
        raise ValueError(f"{field}: no Xero TaxType configured for {key!r} (config tax_types)")
    return mapped


def _contact(inv: InvoiceJson, config: XeroConfig) -> dict[str, Any]:
    customer = inv.get("customer") or {}
    contact_id = config.contact_map.get(str(customer.get("id") or ""))
    if contact_id:
        return {"ContactID": contact_id}
    if not customer.get("name") and not customer.get("id"):
        raise ValueError("invoice.customer: a name or a contact_map entry is needed for the Xero contact")
    contact: dict[str, Any] = {"Name": str(customer.get("name") or customer["id"])[:255]}
    if customer.get("email"):
        contact["EmailAddress"] = str(customer["email"])[:255]
    return contact


def _currency(inv: InvoiceJson) -> str:
    cur = str(inv.get("currency") or "").upper()
    if not cur:
        raise ValueError("invoice.currency: required")
    if minor_units(cur) > XERO_DECIMALS:
        raise ValueError(f"invoice.currency: {cur} has {minor_units(cur)} decimals; Xero amounts have 2")
    return cur


def _line_items(inv: InvoiceJson, cur: str, config: XeroConfig) -> list[dict[str, Any]]:
    """One Xero line per line of ours with a non-zero net: quantity 1 at the net, the line's own tax given."""
    items = []
    for i, line in enumerate(inv.get("lines") or []):
        net = major(line.get("net"), cur, f"invoice.lines[{i}].net")
        if net == 0:
            continue
        text = str(line.get("description") or line.get("category") or "EV charging")
        if line.get("unit") and line.get("quantity") not in (None, "", "1"):
            text += f" ({line['quantity']} {line['unit']})"
        if line.get("session_id"):
            text += f" - session {line['session_id']}"
        items.append({"Description": text[:4000], "Quantity": Decimal(1), "UnitAmount": net, "LineAmount": net,
                      "AccountCode": config.account_codes.get(str(line.get("category")), config.default_account_code),
                      "TaxType": tax_type(line, config, f"invoice.lines[{i}].taxes"),
                      "TaxAmount": major(line.get("tax", "0"), cur, f"invoice.lines[{i}].tax")})
    return items


def _issued(inv: InvoiceJson, event: EventJson) -> date:
    text = str(inv.get("issued_at") or event.get("created_at") or "")[:10]
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"invoice.issued_at: expected an ISO date, got {text!r}") from exc


def build_invoices(event: EventJson, config: XeroConfig) -> dict[str, Any]:
    """The ``Invoices`` body of the creation (Decimals for numbers; send with ``dumps_exact``)."""
    inv = invoice_of(event)
    cur = _currency(inv)
    items = _line_items(inv, cur, config)
    issued = _issued(inv, event)
    invoice: dict[str, Any] = {"Type": "ACCREC", "Contact": _contact(inv, config), "LineItems": items,
                               "Date": issued.isoformat(),
                               "DueDate": (issued + timedelta(days=config.due_days)).isoformat(),
                               "LineAmountTypes": "Exclusive", "Reference": str(inv["id"]),
                               "CurrencyCode": cur, "Status": config.status}
    if inv.get("number"):
        invoice["InvoiceNumber"] = str(inv["number"])[:255]
    return {"Invoices": [invoice]}


def void_status(config: XeroConfig) -> Literal["VOIDED", "DELETED"]:
    """Xero voids AUTHORISED invoices; DRAFT and SUBMITTED ones can only be DELETED."""
    return "VOIDED" if config.status == "AUTHORISED" else "DELETED"


def build_void(event: EventJson, config: XeroConfig) -> dict[str, Any]:
    """The ``POST /Invoices/{InvoiceNumber}`` body that voids (or deletes) the invoice sent under our number."""
    inv = invoice_of(event)
    if not inv.get("number"):
        raise ValueError("invoice.number: a voided invoice without a number was never sent to Xero")
    return {"Invoices": [{"InvoiceNumber": str(inv["number"])[:255], "Status": void_status(config)}]}


def build_credit_notes(event: EventJson, config: XeroConfig) -> dict[str, Any]:
    """The ``PUT /CreditNotes`` body: our credit note's own (positive) lines, mapped like invoice lines, so
    Xero's credit note total is our credit note's total exactly."""
    inv = invoice_of(event)
    cur = _currency(inv)
    if not inv.get("number"):
        raise ValueError("invoice.number: a credit note is numbered when issued (CreditNoteNumber)")
    if not inv.get("credit_note_of"):
        raise ValueError("invoice.credit_note_of: required for a credit note (the original invoice's id)")
    if major(inv.get("amount_due", "0"), cur, "invoice.amount_due") < 0:
        raise ValueError("invoice.amount_due: a credit note's amounts are positive in our Invoice JSON; "
                         f"got {inv.get('amount_due')}")
    items = _line_items(inv, cur, config)
    if not items:
        raise ValueError("invoice.lines: the credit note has no line with an amount")
    note = {"Type": "ACCRECCREDIT", "Contact": _contact(inv, config), "Date": _issued(inv, event).isoformat(),
            "LineAmountTypes": "Exclusive", "CreditNoteNumber": str(inv["number"])[:255],
            "Reference": str(inv["credit_note_of"]), "CurrencyCode": cur, "Status": config.status,
            "LineItems": items}
    return {"CreditNotes": [note]}


def build_allocation(event: EventJson, invoice_id: str) -> dict[str, Any]:
    """``PUT /CreditNotes/{id}/Allocations``: our credit note's amount_due against the original's InvoiceID."""
    inv = invoice_of(event)
    cur = _currency(inv)
    return {"Allocations": [{"Invoice": {"InvoiceID": invoice_id},
                             "Amount": major(inv.get("amount_due"), cur, "invoice.amount_due"),
                             "Date": _issued(inv, event).isoformat()}]}


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of a sender error (its ``status_code``, else ``HTTP nnn`` in its message)."""
    value = getattr(exc, "status_code", None)
    if isinstance(value, int):
        return value
    found = _HTTP_STATUS.search(str(exc))
    return int(found.group(1)) if found else None


def deliver(event: EventJson, config: XeroConfig, ctx: DeliveryContext) -> dict[str, Any]:
    """Create, void or credit in Xero; ``ctx.stores.refresh_tokens`` persists Xero's rotated refresh token (the
    old one stops working); ``ctx.refs`` finds the original's InvoiceID for allocations."""
    reason = skip_reason(event)
    if reason is not None:
        return {"status": "skipped", "reason": reason}
    op = operation(event)
    builders = {"invoice": build_invoices, "void": build_void, "credit_note": build_credit_notes}
    try:
        body = builders[op](event, config)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    provider = rotating_provider(config.token_url, config.client_id, config.client_secret, config.refresh_token,
                                 store=ctx.stores.refresh_tokens, on_refresh=ctx.on_refresh)
    base = config.api_base.rstrip("/")

    def send(method: str, path: str, key: str | None, payload: dict[str, Any] | None = None,
             params: dict[str, str] | None = None) -> Any:
        headers = {"Accept": "application/json", "xero-tenant-id": config.xero_tenant_id}
        extra: dict[str, Any] = {}
        if payload is not None:
            headers["Content-Type"] = "application/json"
            extra["data"] = dumps_exact(payload)
        if key:
            headers["Idempotency-Key"] = key
        if params:
            extra["params"] = params
        return send_authorized(provider, ctx.http, method, base + path, headers=headers, **extra)

    key = idempotency_key(event, config)
    if op == "void":
        return _void(event, body, key, send)
    if op == "credit_note":
        return _credit_note(event, config, body, key, send, ctx.refs)
    resp = send("PUT", "/Invoices", key, body, {"summarizeErrors": "true"})
    [created] = (resp.json() or {}).get("Invoices") or [{}]
    return {"status": "sent", "ref": created.get("InvoiceID"), "number": created.get("InvoiceNumber"),
            "total": created.get("Total")}


Send = Callable[..., Any]


def _void(event: EventJson, body: dict[str, Any], key: str, send: Send) -> dict[str, Any]:
    [wanted] = body["Invoices"]
    number, status = wanted["InvoiceNumber"], wanted["Status"]
    path = "/Invoices/" + quote(number, safe="")
    try:
        resp = send("POST", path, key, body)
    except PermanentError as exc:
        code = http_status(exc)
        if code == 404:
            raise RetryableError(f"Xero has no invoice {number} yet (its creation may still be waiting in the "
                                 "outbox); the void is retried", status_code=404) from exc
        if code == 400:  # already voided/deleted (by hand in Xero, or a key Xero no longer remembers)?
            current = _get_invoice(send, path)
            if current.get("Status") == status:
                return {"status": "sent", "ref": current.get("InvoiceID"), "number": number, "xero_status": status,
                        "note": f"already {status} in Xero"}
        raise
    [done] = (resp.json() or {}).get("Invoices") or [{}]
    return {"status": "sent", "ref": done.get("InvoiceID"), "number": number, "xero_status": done.get("Status", status)}


def _get_invoice(send: Send, path: str) -> dict[str, Any]:
    try:
        resp = send("GET", path, None)
    except PermanentError:
        return {}
    [found] = (resp.json() or {}).get("Invoices") or [{}]
    return found


def _credit_note(event: EventJson, config: XeroConfig, body: dict[str, Any], key: str, send: Send,
                 refs: SentRefs | None) -> dict[str, Any]:
    inv = invoice_of(event)
    tenant = event.get("tenant_id", "")
    original = str(inv["credit_note_of"])
    invoice_id: str | None = None
    why_not: str | None = None
    if not config.allocate_credit_notes:
        why_not = "allocate_credit_notes is off"
    elif config.status != "AUTHORISED":
        why_not = f"credit notes are sent {config.status}; Xero allocates AUTHORISED ones only"
    elif refs is None:
        why_not = "no outbox record to find the original invoice's InvoiceID (delivered outside the worker)"
    else:
        sent = refs.result_of(tenant, NAME, operation_key(tenant, original, "invoice"))
        if sent is None:  # checked before creating anything: the credit note waits for its invoice
            raise RetryableError(f"original invoice {original} has not been delivered to Xero yet; the credit "
                                 "note waits for it so that it can be allocated")
        invoice_id = str(sent["ref"]) if sent.get("ref") else None
        if invoice_id is None:  # a dry run records no vendor id: nothing to allocate against, no point waiting
            why_not = f"the delivery of original invoice {original} recorded no Xero InvoiceID (dry run?)"
    resp = send("PUT", "/CreditNotes", key, body, {"summarizeErrors": "true"})
    [created] = (resp.json() or {}).get("CreditNotes") or [{}]
    note_id = created.get("CreditNoteID")
    result: dict[str, Any] = {"status": "sent", "ref": note_id, "number": created.get("CreditNoteNumber"),
                              "total": created.get("Total"), "credit_note_of": original}
    if invoice_id is None or not note_id:
        result["allocated"] = None
        result["allocation_skipped"] = why_not or "Xero returned no CreditNoteID"
        return result
    allocation = build_allocation(event, invoice_id)
    try:
        send("PUT", f"/CreditNotes/{quote(str(note_id), safe='')}/Allocations",
             operation_key(tenant, inv["id"], "allocation"), allocation)
    except PermanentError as exc:
        if http_status(exc) != 400:
            raise
        # e.g. the original was paid in Xero: the credit stays on the contact (refund it there)
        result["allocated"] = None
        result["allocation_skipped"] = f"Xero refused the allocation: {exc}"[:500]
        return result
    result["allocated"] = f"{allocation['Allocations'][0]['Amount']:f}"
    result["allocated_to"] = invoice_id
    return result

"""Zoho Books: one invoice per finalized invoice of ours (or per billed session), and our voids and credit notes.

``document="invoice"`` (default) books our invoice at ``invoice.finalized``, with the VAT the invoice states per
rate, so Zoho's receivable is our invoice; ``document="session"`` books each ``session.billed`` as rated.
Zoho Books has no idempotency key: our numbers are deterministic and looked up before each create; lines
carry our nets, never recomputed. See docs/platforms/zoho_books.md."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connector.models.documents import EventJson, InvoiceJson, InvoiceLineJson
from connector.platforms import tax_groups
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import MappingError, PermanentError, RetryableError
from connector.platforms.exact_json import dumps_exact
from connector.platforms.invoice_event import (
    bounded_key,
    correction_skip,
    delivery_key,
    event_lines,
    invoice_of,
    operation,
    rebilling,
    unsendable,
)
from connector.platforms.oauth import refresh_token_provider

NAME = "zoho_books"
EVENTS = ("session.billed", "invoice.finalized", "invoice.voided", "credit_note.issued")
DUPLICATE_NUMBER_CODE = 1001  # Zoho's "already exists" error code [unverified: check the sandbox]
KEY_LIMIT = 300  # outbox_deliveries.idempotency_key; Zoho itself takes no key
PAID_STATUSES = frozenset({"paid", "partially_paid"})  # Zoho refuses to void invoices with payments
log = logging.getLogger(__name__)


class ZohoBooksConfig(BaseModel):
    """Per-tenant settings: organization, OAuth client, and the account/tax/item mapping."""

    model_config = ConfigDict(extra="forbid")

    api_base: str = Field(default="https://www.zohoapis.com", description="Data centre: .eu, .in, .com.au, …")
    organization_id: str = Field(min_length=1)
    token_url: str = "https://accounts.zoho.com/oauth/v2/token"
    client_id: str | None = None
    client_secret: str | None = Field(default=None, repr=False)
    refresh_token: str | None = Field(default=None, repr=False)
    access_token: str | None = Field(default=None, repr=False, description="A static token (tests)")
    invoice_number_prefix: str = Field(default="EV-", max_length=20)
    credit_note_number_prefix: str = Field(default="EV-", max_length=20,
                                           description="Zoho creditnote_number = prefix + our CN number")
    customer_ids: dict[str, str] = Field(default_factory=dict, description="our customer id -> Zoho customer_id")
    default_customer_id: str | None = None
    tax_ids: dict[str, str] = Field(default_factory=dict, description="tax rate ('19') -> Zoho tax_id")
    tax_groups: dict[str, str] = Field(default_factory=dict, description="the taxes of a line taxed twice, "
                                       "'6.25+2.25' (or 'State sales tax:6.25+City sales tax:2.25') -> the "
                                       "tax_id of the Zoho tax group of those taxes")
    item_ids: dict[str, str] = Field(default_factory=dict, description="line category -> Zoho item_id")
    account_ids: dict[str, str] = Field(default_factory=dict, description="line category -> income account_id")
    payment_terms: int = Field(default=0, ge=0)
    document: Literal["invoice", "session"] = Field(
        default="invoice", description="invoice: one Zoho invoice per finalized invoice of ours (its VAT as the "
        "invoice states it); session: one per billed session, its tax as rated")
    mark_sent: bool = Field(default=True, description="mark each invoice sent once its total is checked, so it "
                            "is in Zoho's receivables (false: it stays a draft)")

    @field_validator("tax_groups")
    @classmethod
    def _group_keys(cls, groups: dict[str, str]) -> dict[str, str]:
        return tax_groups.normalized(groups)


def amount(value: Any) -> Decimal:
    """Invoice JSON money: decimal strings with the currency's digits ("12.05" EUR, "1372" JPY), taken as is."""
    return Decimal(str(value))


def rate_key(rate: Any) -> str:
    """"19", "19.0" and "19.00" are one tax rate for the config mapping."""
    return format(Decimal(str(rate)).normalize(), "f")


def session_lines(event: EventJson) -> tuple[InvoiceJson, list[InvoiceLineJson]]:
    """The invoice and only this session's lines (a draft invoice may already hold other sessions)."""
    data = event.get("data") or {}
    invoice = data.get("invoice")
    if not isinstance(invoice, dict):
        raise MappingError("data.invoice", "required")
    rating: Mapping[str, Any] = data.get("rating") or {}
    sid = (data.get("session") or {}).get("id") or rating.get("session_id")
    lines = [ln for ln in event_lines(event) if sid is None or ln.get("session_id") in (None, sid)]
    if not lines:
        raise MappingError("data.lines", f"no line for session {sid}")
    return invoice, lines


def session_id(event: EventJson) -> str:
    data = event.get("data") or {}
    rating: Mapping[str, Any] = data.get("rating") or {}
    sid = (data.get("session") or {}).get("id") or rating.get("session_id")
    if not sid:
        raise MappingError("data.session.id", "required for the invoice number")
    return str(sid)


def invoice_number(event: EventJson, config: ZohoBooksConfig) -> str:
    """Deterministic per session, so a retry or redelivery collides on it; a session re-billed after a
    correction gets ``~<credit note number>`` (the original invoice was credited by that credit note)."""
    return f"{config.invoice_number_prefix}{session_id(event)}{rebilling(event)}"


def _line(ln: InvoiceLineJson, invoice: InvoiceJson, config: ZohoBooksConfig) -> dict[str, Any]:
    currency = invoice.get("currency", "")
    category = str(ln.get("category") or "")
    out: dict[str, Any] = {
        "name": str(ln.get("description") or category or "EV charging")[:100],
        "description": f"{ln.get('quantity')} {ln.get('unit') or ''} @ {amount(ln.get('unit_price') or 0)}"
                       f" {currency}"
                       f" - session {ln.get('session_id')}, station {ln.get('station_id')}",
        "quantity": Decimal(1),
        "rate": amount(ln["net"]),
    }
    if category in config.item_ids:
        out["item_id"] = config.item_ids[category]
    if category in config.account_ids:
        out["account_id"] = config.account_ids[category]
    taxes = [t for t in ln.get("taxes") or [] if Decimal(str(t.get("amount") or "0")) != 0]
    if len(taxes) > 1:  # state + city sales tax: Zoho levies a tax group's components, each on the line amount
        group = tax_groups.lookup(config.tax_groups, taxes)
        if group is None:
            raise MappingError("tax_groups", tax_groups.missing("Zoho Books", ln.get("id"), taxes))
        out["tax_id"] = group
    elif taxes:
        rate = rate_key(taxes[0].get("rate"))
        tax_ids = {rate_key(k): v for k, v in config.tax_ids.items()}
        if rate not in tax_ids:
            raise MappingError("tax_ids", f"no Zoho tax_id configured for tax rate {rate}")
        out["tax_id"] = tax_ids[rate]
    return out


def build_invoice(event: EventJson, config: ZohoBooksConfig) -> dict[str, Any]:
    """The ``POST /books/v3/invoices`` body for this session's lines."""
    invoice, lines = session_lines(event)
    customer = invoice.get("customer") or {}
    zoho_customer = config.customer_ids.get(str(customer.get("id"))) or config.default_customer_id
    if not zoho_customer:
        raise MappingError("customer_ids", f"no Zoho customer_id for customer {customer.get('id')}")
    issued = str(invoice.get("issued_at") or event.get("created_at") or "")[:10]
    charges = [ln for ln in lines if ln.get("category") != "incentive"]
    incentive = sum((amount(ln["net"]) for ln in lines if ln.get("category") == "incentive"), Decimal(0))
    body: dict[str, Any] = {
        "customer_id": zoho_customer,
        "invoice_number": invoice_number(event, config),
        "reference_number": str(invoice.get("number") or invoice.get("id") or "")[:50],
        "date": issued,
        "payment_terms": config.payment_terms,
        "is_inclusive_tax": False,
        "line_items": [_line(ln, invoice, config) for ln in charges],
        "notes": f"EV charging session {session_id(event)}",
    }
    if incentive:  # paid by the authority, not the customer: an invoice-level adjustment, outside the tax base
        body["adjustment"] = incentive
        body["adjustment_description"] = "; ".join(str(ln.get("description") or "Incentive")
                                                   for ln in lines if ln.get("category") == "incentive")[:100]
    return body


def per_invoice(event: EventJson) -> bool:
    """Whether an event books our whole invoice (``invoice.finalized``) rather than one session."""
    return event.get("type") != "session.billed"


def invoice_document_number(invoice: InvoiceJson, config: ZohoBooksConfig) -> str:
    """``<prefix><our invoice number>``: deterministic, so a retry or redelivery collides on it."""
    if not invoice.get("number"):
        raise MappingError("data.invoice.number", "a finalized invoice is numbered (invoice_number)")
    return f"{config.invoice_number_prefix}{invoice['number']}"


def build_finalized_invoice(event: EventJson, config: ZohoBooksConfig) -> dict[str, Any]:
    """The ``POST /books/v3/invoices`` body for our finalized invoice: all its lines, taxed as the invoice
    states them; ``reference_number`` is our invoice id, which a credit note names (``credit_note_of``)."""
    invoice = invoice_of(event)
    lines = invoice.get("lines") or []
    customer = invoice.get("customer") or {}
    zoho_customer = config.customer_ids.get(str(customer.get("id"))) or config.default_customer_id
    if not zoho_customer:
        raise MappingError("customer_ids", f"no Zoho customer_id for customer {customer.get('id')}")
    charges = [ln for ln in lines if ln.get("category") != "incentive"]
    if not charges:
        raise MappingError("data.invoice.lines", f"invoice {invoice.get('number')} has no charge line")
    incentive = sum((amount(ln["net"]) for ln in lines if ln.get("category") == "incentive"), Decimal(0))
    period = " - ".join(str(invoice.get(k) or "")[:10] for k in ("period_start", "period_end") if invoice.get(k))
    body: dict[str, Any] = {
        "customer_id": zoho_customer,
        "invoice_number": invoice_document_number(invoice, config),
        "reference_number": str(invoice.get("id") or "")[:50],
        "date": str(invoice.get("issued_at") or event.get("created_at") or "")[:10],
        "payment_terms": config.payment_terms,
        "is_inclusive_tax": False,
        "line_items": [_line(ln, invoice, config) for ln in charges],
        "notes": f"EV charging, invoice {invoice.get('number')}" + (f", {period}" if period else ""),
    }
    if incentive:
        body["adjustment"] = incentive
        body["adjustment_description"] = "; ".join(str(ln.get("description") or "Incentive")
                                                   for ln in lines if ln.get("category") == "incentive")[:100]
    return body


def voided_sessions(invoice: InvoiceJson) -> list[str]:
    """The sessions on our voided invoice, in line order: each has its own Zoho invoice."""
    seen: list[str] = []
    for ln in invoice.get("lines") or []:
        sid = ln.get("session_id")
        if sid and str(sid) not in seen:
            seen.append(str(sid))
    return seen


def document_of(config: ZohoBooksConfig | None) -> str:
    return config.document if config is not None else "invoice"


def skip_reason(event: EventJson, config: ZohoBooksConfig | None = None) -> str | None:
    """Why an event sends nothing to Zoho Books (None: it does). Per session, a void of our draft counts: its
    sessions reached Zoho Books on ``session.billed``; per invoice, a draft never reached it."""
    document = document_of(config)
    if event.get("type") == "session.billed" and document == "invoice":
        return "document=invoice: the session reaches Zoho Books on its invoice's invoice.finalized"
    if event.get("type") == "invoice.finalized" and document == "session":
        return "document=session: each session reached Zoho Books on session.billed"
    if event.get("type") == "invoice.finalized":
        return unsendable(event, "Zoho Books", frozenset({"finalized", "paid"}),
                          "a credit note goes to Zoho Books on credit_note.issued")
    if operation(event) == "invoice":
        return None
    reason = correction_skip(event, "Zoho Books", voided_drafts=document == "session")
    if document == "invoice":
        return reason
    if reason is None and operation(event) == "void" and not voided_sessions(invoice_of(event)):
        return (f"invoice {invoice_of(event).get('id')} has no session lines; Zoho Books invoices are per billed "
                "session, so none of it is there to void")
    return reason


def idempotency_key(event: EventJson, config: ZohoBooksConfig | None = None) -> str:
    """Per operation: one Zoho invoice per session (``zoho_books:<tenant>:<session>``, a re-sent
    ``session.billed`` is the same delivery), ``…:<our invoice id>:void`` and ``…:<credit note id>:credit_note``,
    so a correction never carries a creation's key (the worker dedupes on equal keys). A skipped event gets
    a key of its own."""
    tenant = event.get("tenant_id", "")
    op = operation(event)
    if op == "invoice" and not per_invoice(event) and document_of(config) == "session":
        return bounded_key(f"zoho_books:{tenant}:{session_id(event)}{rebilling(event)}", KEY_LIMIT)
    skipped = skip_reason(event, config) is not None
    invoice: Mapping[str, Any] = (event.get("data") or {}).get("invoice") or {}
    doc = invoice.get("id")
    return delivery_key(NAME, event, skipped, "" if skipped else f"zoho_books:{tenant}:{doc}:{op}", KEY_LIMIT)


def operation_key(tenant_id: Any, document_id: Any, op: str) -> str:
    """``zoho_books:<tenant>:<our invoice or credit note id>:<op>``, bounded (never cut) like every key."""
    return bounded_key(f"zoho_books:{tenant_id}:{document_id}:{op}", KEY_LIMIT)


def credited_session(note: InvoiceJson) -> str | None:
    """The one session all the credit note's lines belong to (None: several, or a line without a session,
    e.g. a credit by amount): only then is there one Zoho invoice to link the credit note to."""
    sids = {ln.get("session_id") for ln in note.get("lines") or []}
    if len(sids) != 1 or None in sids or "" in sids:
        return None
    return str(sids.pop())


def credit_note_number(note: InvoiceJson, config: ZohoBooksConfig) -> str:
    if not note.get("number"):
        raise MappingError("data.invoice.number", "a credit note is numbered when issued (creditnote_number)")
    return f"{config.credit_note_number_prefix}{note['number']}"


def build_credit_note(event: EventJson, config: ZohoBooksConfig) -> dict[str, Any]:
    """The ``POST /books/v3/creditnotes`` body: our credit note's own (positive) lines mapped exactly as the
    invoice lines are (quantity 1, rate = net, tax id by rate or tax group; incentives as the ``adjustment``), so Zoho's
    credit note total is ours. ``invoice_id`` (the link) is a query parameter, added by ``deliver``."""
    note = (event.get("data") or {}).get("invoice")
    if not isinstance(note, dict):
        raise MappingError("data.invoice", "required")
    if note.get("kind") != "credit_note":
        raise MappingError("data.invoice.kind", f"expected credit_note, got {note.get('kind')!r}")
    if not note.get("credit_note_of"):
        raise MappingError("data.invoice.credit_note_of", "required (the original invoice's id)")
    if amount(note.get("amount_due") or "0") < 0:
        raise MappingError("data.invoice.amount_due", "a credit note's amounts are positive in our Invoice JSON; "
                                                      f"got {note.get('amount_due')}")
    customer = note.get("customer") or {}
    zoho_customer = config.customer_ids.get(str(customer.get("id"))) or config.default_customer_id
    if not zoho_customer:
        raise MappingError("customer_ids", f"no Zoho customer_id for customer {customer.get('id')}")
    lines = note.get("lines") or []
    charges = [ln for ln in lines if ln.get("category") != "incentive" and amount(ln.get("net") or "0") != 0]
    if not charges:
        raise MappingError("data.invoice.lines", "the credit note has no line with an amount")
    incentive = sum((amount(ln["net"]) for ln in lines if ln.get("category") == "incentive"), Decimal(0))
    body: dict[str, Any] = {
        "customer_id": zoho_customer,
        "creditnote_number": credit_note_number(note, config),
        "reference_number": str(note["credit_note_of"])[:50],
        "date": str(note.get("issued_at") or event.get("created_at") or "")[:10],
        "is_inclusive_tax": False,
        "line_items": [_line(ln, note, config) for ln in charges],
        "notes": f"Credit note {note.get('number')} for invoice {note['credit_note_of']}",
    }
    if incentive:
        body["adjustment"] = incentive
        body["adjustment_description"] = "; ".join(str(ln.get("description") or "Incentive")
                                                   for ln in lines if ln.get("category") == "incentive")[:100]
    return body


def _authorization(config: ZohoBooksConfig, http: Any, tokens: Any = None) -> tuple[dict[str, str], Any]:
    """Zoho's header is ``Zoho-oauthtoken <token>`` (not Bearer); the token comes from the shared provider."""
    if config.access_token:
        return {"Authorization": f"Zoho-oauthtoken {config.access_token}"}, None
    if not (config.client_id and config.client_secret and config.refresh_token):
        raise MappingError("client_id/client_secret/refresh_token", "required (or access_token)")
    provider = refresh_token_provider(tokens, config.token_url, config.client_id, config.client_secret,
                                      config.refresh_token)
    bearer = provider.authorization(http)["Authorization"].split(" ", 1)[1]
    return {"Authorization": f"Zoho-oauthtoken {bearer}"}, provider


def _send(config: ZohoBooksConfig, http: Any, tokens: Any, method: str, url: str, **kw: Any) -> Any:
    """One request with the Zoho token; on 401 drop the token and let the worker retry with a new one."""
    headers, provider = _authorization(config, http, tokens)
    try:
        return http.send(method, url, headers={**kw.pop("headers", {}), **headers}, **kw)
    except PermanentError as exc:
        if provider is not None and re.search(r"\b401\b", str(exc)):
            provider.invalidate()
            raise RetryableError("Zoho answered 401; token dropped, retry with a fresh one") from exc
        raise


Send = Callable[..., Any]


def source(config: ZohoBooksConfig) -> str:
    """The event that creates a Zoho invoice under the tenant's ``document`` setting."""
    return "invoice.finalized" if config.document == "invoice" else "session.billed"


def deliver(event: EventJson, config: ZohoBooksConfig, ctx: DeliveryContext) -> dict[str, Any]:
    """Create (session.billed), void (invoice.voided) or credit (credit_note.issued) in Zoho Books."""
    reason = skip_reason(event, config)
    if reason is not None:
        return {"status": "skipped", "reason": reason}
    op = operation(event)
    base = f"{config.api_base.rstrip('/')}/books/v3"
    org = {"organization_id": config.organization_id}

    def send(method: str, path: str, params: dict[str, str] | None = None, payload: Any = None) -> Any:
        kw: dict[str, Any] = {"params": {**org, **(params or {})}}
        if payload is not None:
            kw["data"] = dumps_exact(payload)
            kw["headers"] = {"Content-Type": "application/json;charset=UTF-8"}
        return _send(config, ctx.http, ctx.token_provider, method, base + path, **kw)

    if op == "void":  # nothing to map: the Zoho invoices are found by their numbers
        return _void(event, config, send)
    try:
        body = (build_credit_note(event, config) if op == "credit_note" else
                build_finalized_invoice(event, config) if per_invoice(event) else build_invoice(event, config))
    except MappingError as exc:
        raise PermanentError(str(exc)) from exc
    if op == "credit_note":
        return _credit_note(event, config, body, send)
    return _create_invoice(event, config, body, send)


def _find(send: Send, path: str, field: str, number: str, listed: str) -> tuple[dict[str, Any] | None, bool]:
    """The Zoho object whose ``field`` is ``number`` (None: not there), and whether this was a dry run."""
    payload = send("GET", path, {field: number}).json() or {}
    hits = [i for i in payload.get(listed) or [] if i.get(field) == number]
    return (hits[0] if hits else None), payload.get("dry_run") is True


def expected_total(event: EventJson) -> Decimal:
    """What the Zoho invoice must total: its lines' gross (incentives, untaxed, included); per invoice, our
    finalized invoice's lines, whose VAT is restated per rate."""
    lines = list(invoice_of(event).get("lines") or []) if per_invoice(event) else session_lines(event)[1]
    return sum((amount(ln.get("gross") or ln.get("net") or "0") for ln in lines), Decimal(0))


def _create_invoice(event: EventJson, config: ZohoBooksConfig, body: dict[str, Any], send: Send) -> dict[str, Any]:
    """Look the invoice number up; create the invoice only if Zoho does not have it yet. Zoho applies its own
    tax percentages to our nets: a total that is not ours is deleted (never left in receivables) and fails the
    delivery; a checked draft is marked sent (``mark_sent``), which puts it in Zoho's receivables."""
    number = body["invoice_number"]
    found, dry_run = _find(send, "/invoices", "invoice_number", number, "invoices")
    if found:
        if config.mark_sent and found.get("status") == "draft":  # an earlier attempt stopped before marking it
            _check_and_mark_sent(event, send, str(found.get("invoice_id")), number, found.get("total"))
            return {"status": "sent", "ref": found.get("invoice_id"), "invoice_number": number, "zoho_status": "sent"}
        return {"status": "duplicate", "ref": found.get("invoice_id"), "invoice_number": number}
    try:
        resp = send("POST", "/invoices", {"ignore_auto_number_generation": "true"}, body)
    except PermanentError as exc:
        # another worker created it between our lookup and our create: Zoho refuses the number, which is
        # the outcome we wanted (one invoice); anything else stays a permanent error
        if not _is_duplicate(exc):
            raise
        return {"status": "duplicate", "ref": None, "invoice_number": number}
    created = (resp.json() or {}).get("invoice") or {}
    result = {"status": "sent", "ref": created.get("invoice_id"), "invoice_number": number,
              "zoho_status": "draft"}
    if dry_run or not created.get("invoice_id"):
        return result
    _check_and_mark_sent(event, send, str(created["invoice_id"]), number, created.get("total"),
                         mark=config.mark_sent)
    return {**result, "zoho_status": "sent" if config.mark_sent else "draft", "total": str(created.get("total"))}


def _check_and_mark_sent(event: EventJson, send: Send, invoice_id: str, number: str, total: Any,
                         mark: bool = True) -> None:
    expected = expected_total(event)
    if total is None:
        total = ((send("GET", f"/invoices/{quote(invoice_id, safe='')}").json() or {}).get("invoice") or {}).get("total")
    if total is not None and amount(total) != expected:
        send("DELETE", f"/invoices/{quote(invoice_id, safe='')}")
        raise PermanentError(f"Zoho Books computes {amount(total):f} for invoice {number}, ours is {expected:f}: "
                             "the draft was deleted, nothing is receivable; check the percentages of the tax_ids "
                             "(and tax_groups' components) and Zoho's tax rounding (line item level)")
    if mark:
        send("POST", f"/invoices/{quote(invoice_id, safe='')}/status/sent")


def _is_duplicate(exc: BaseException) -> bool:
    return re.search(rf'"code":\s*{DUPLICATE_NUMBER_CODE}\b', str(exc)) is not None


def _void(event: EventJson, config: ZohoBooksConfig, send: Send) -> dict[str, Any]:
    """Void the Zoho invoice of every session on our voided invoice; all are looked up (and paid ones
    refused) before any is voided, so a refusal leaves Zoho as it was."""
    inv = event["data"]["invoice"]
    numbers = ([invoice_document_number(inv, config)] if config.document == "invoice" else
               [f"{config.invoice_number_prefix}{sid}" for sid in voided_sessions(inv)])
    found: dict[str, dict[str, Any]] = {}
    missing = []
    for number in numbers:
        hit, dry_run = _find(send, "/invoices", "invoice_number", number, "invoices")
        if dry_run:  # DryRunSender: the lookup is written for review; there is no invoice id to void
            return {"status": "sent", "ref": None, "dry_run": True, "invoice_numbers": numbers}
        if hit is None:
            missing.append(number)
        else:
            found[number] = hit
    if missing:
        raise RetryableError(f"Zoho Books has no invoice {', '.join(missing)} yet (its {source(config)} delivery may "
                             f"still be waiting in the outbox); the void of {inv.get('number') or inv.get('id')} "
                             "is retried")
    paid = [f"{n} ({h.get('status')})" for n, h in found.items() if h.get("status") in PAID_STATUSES]
    if paid:
        raise PermanentError(f"Zoho Books does not void invoices with payments: {', '.join(paid)}; our invoice "
                             f"{inv.get('number') or inv.get('id')} was voided, so delete the payment in Zoho "
                             "Books (or refund it) and redeliver")
    voided, already = [], []
    for number, hit in found.items():
        if hit.get("status") == "void":
            already.append(number)
            continue
        path = f"/invoices/{quote(str(hit.get('invoice_id')), safe='')}/status/void"
        try:
            send("POST", path)
        except PermanentError as exc:
            again, _ = _find(send, "/invoices", "invoice_number", number, "invoices")
            status = (again or {}).get("status")
            if status == "void":  # voided meanwhile (by hand, or our earlier answer was lost)
                already.append(number)
                continue
            if status in PAID_STATUSES:
                raise PermanentError(f"Zoho Books refused to void {number}: it is {status} (invoices with "
                                     "payments cannot be voided; delete the payment there and redeliver)") from exc
            raise
        voided.append(number)
    ids = [str(h.get("invoice_id")) for h in found.values()]
    result: dict[str, Any] = {"status": "sent" if voided else "duplicate", "ref": ",".join(ids),
                              "voided": voided, "already_void": already}
    if not voided:
        result["note"] = "already void in Zoho Books"
    return result


def _credited_invoice(note: InvoiceJson, config: ZohoBooksConfig, send: Send) -> dict[str, Any]:
    """Per invoice: the Zoho invoice of the credited invoice, found by its ``reference_number`` (our invoice id).
    With ``mark_sent``, a Zoho draft means its invoice.finalized delivery has not finished (the answer to its
    creation was lost, or it runs right now): Zoho applies no credit to a draft, so the credit note waits too."""
    ref = str(note.get("credit_note_of") or "")
    original, _ = _find(send, "/invoices", "reference_number", ref, "invoices")
    if original is None:  # checked before creating: the credit note waits for the invoice it credits
        raise RetryableError(f"Zoho Books has no invoice of ours {ref} yet (its invoice.finalized delivery may still "
                             f"be waiting in the outbox); credit note {note.get('number')} waits for it")
    if config.mark_sent and original.get("status") == "draft":
        raise RetryableError(f"Zoho Books invoice {original.get('invoice_number')} of ours {ref} is still a draft "
                             "(its invoice.finalized delivery has not marked it sent yet); credit note "
                             f"{note.get('number')} waits for it")
    return original


def _apply(send: Send, creditnote_id: str, invoice_id: str, total: Decimal) -> str | None:
    """Apply the credit note to the invoice it credits, so Zoho's receivable of that invoice is ours; None when
    applied, else why not (the credit note stays open in Zoho, e.g. the invoice was paid there meanwhile)."""
    try:
        send("POST", f"/creditnotes/{quote(creditnote_id, safe='')}/invoices",
             payload={"invoices": [{"invoice_id": invoice_id, "amount_applied": total}]})
    except PermanentError as exc:
        return f"Zoho Books did not apply it to invoice {invoice_id}: {exc}"
    return None


def _credit_note(event: EventJson, config: ZohoBooksConfig, body: dict[str, Any], send: Send) -> dict[str, Any]:
    """Find-or-create the credit note by number; link it to the Zoho invoice it credits when there is one (per
    invoice: that invoice, and the credit note is applied to it)."""
    note = event["data"]["invoice"]
    number = body["creditnote_number"]
    existing, dry_run = _find(send, "/creditnotes", "creditnote_number", number, "creditnotes")
    if existing:
        dup = {"status": "duplicate", "ref": existing.get("creditnote_id"), "creditnote_number": number}
        if config.document == "invoice" and existing.get("status") == "open" and existing.get("total") is not None:
            target = _credited_invoice(note, config, send)  # an earlier attempt created it but stopped before applying
            if target.get("status") not in ("void", "draft"):
                skipped = _apply(send, str(existing.get("creditnote_id")), str(target.get("invoice_id")),
                                 amount(existing["total"]))
                return {**dup, "status": "sent", "applied_to": None if skipped else target.get("invoice_id"),
                        **({"apply_skipped": skipped} if skipped else {})}
        return dup
    params = {"ignore_auto_number_generation": "true"}
    link_skipped: str | None = None
    sid = credited_session(note)
    if dry_run:
        link_skipped = "dry run: no Zoho invoice id to link"
    elif config.document == "invoice":
        credited = _credited_invoice(note, config, send)
        if credited.get("status") == "void":
            link_skipped = f"Zoho invoice {credited.get('invoice_number')} is void; Zoho links no credit note to it"
        else:
            params["invoice_id"] = str(credited.get("invoice_id"))
    elif sid is None:
        link_skipped = "the credited lines are not all of one session, so no single Zoho invoice matches"
    else:
        original, _ = _find(send, "/invoices", "invoice_number", f"{config.invoice_number_prefix}{sid}", "invoices")
        if original is None:  # checked before creating: the credit note waits for the invoice it credits
            raise RetryableError(f"Zoho Books has no invoice {config.invoice_number_prefix}{sid} yet (session "
                                 f"{sid} not delivered); credit note {note.get('number')} waits for it to link to it")
        if original.get("status") == "void":
            link_skipped = f"Zoho invoice {original.get('invoice_number')} is void; Zoho links no credit note to it"
        else:
            params["invoice_id"] = str(original.get("invoice_id"))
    try:
        resp = send("POST", "/creditnotes", params, body)
    except PermanentError as exc:
        if not _is_duplicate(exc):
            raise
        return {"status": "duplicate", "ref": None, "creditnote_number": number}
    created = (resp.json() or {}).get("creditnote") or {}
    expected = amount(note.get("amount_due") or note.get("gross_total") or "0")
    result: dict[str, Any] = {"status": "sent", "ref": created.get("creditnote_id"), "creditnote_number": number,
                              "credit_note_of": note.get("credit_note_of"), "invoice_id": params.get("invoice_id"),
                              "expected_total": f"{expected:f}"}
    if created.get("total") is not None:
        total = amount(created["total"])
        result["total"] = f"{total:f}"
        if total != expected:  # Zoho applies its own tax percentages to our nets: never keep another amount
            log.warning("Zoho Books credit note %s total %s differs from ours %s", number, total, expected)
            send("DELETE", f"/creditnotes/{quote(str(created.get('creditnote_id')), safe='')}")
            raise PermanentError(f"Zoho Books computes {total:f} for credit note {number}, ours is {expected:f}: "
                                 "the credit note was deleted; check the percentages of the tax_ids (and "
                                 "tax_groups' components) and Zoho's tax rounding")
    if link_skipped:
        result["link_skipped"] = link_skipped
    elif config.document == "invoice" and created.get("creditnote_id"):
        skipped = _apply(send, str(created["creditnote_id"]), params["invoice_id"], expected)
        result["applied_to" if skipped is None else "apply_skipped"] = skipped or params["invoice_id"]
    return result


Config = ZohoBooksConfig

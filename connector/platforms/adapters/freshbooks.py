"""FreshBooks: one invoice per finalized invoice of ours, checked against our total; voids delete, credit notes credit.

FreshBooks has no idempotency key, so the invoice (credit note) carries our number and is looked up before any
create; FreshBooks computes the tax from the percentages sent, so its total is compared with our ``amount_due``
before it is marked sent (kept). ``mode="recurring"`` keeps the former recurring template (invoice profile) as an
explicit option. See docs/platforms/freshbooks.md."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from connector.models.documents import EventJson, InvoiceJson, InvoiceLineJson
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import MappingError
from connector.platforms.invoice_event import correction_skip
from connector.platforms.oauth import RefreshTokenStore

NAME = "freshbooks"
EVENTS = ("invoice.finalized", "invoice.voided", "credit_note.issued")
CORRECTIONS_NOTE = "mode=invoice: a void deletes the FreshBooks invoice, a credit note becomes a FreshBooks credit note"


class FreshBooksConfig(BaseModel):
    """Per-tenant settings: account, OAuth client, customer mapping and the recurrence."""

    model_config = ConfigDict(extra="forbid")

    api_base: str = "https://api.freshbooks.com"
    account_id: str = Field(min_length=1)
    token_url: str = "https://api.freshbooks.com/auth/oauth/token"
    client_id: str | None = None
    client_secret: str | None = Field(default=None, repr=False)
    refresh_token: str | None = Field(default=None, repr=False)
    access_token: str | None = Field(default=None, repr=False, description="A static token (tests)")
    customer_classes: list[str] = Field(default_factory=lambda: ["subscription", "fleet"])
    client_ids: dict[str, str] = Field(default_factory=dict, description="our customer id -> FreshBooks client id")
    frequency: Literal["w", "2w", "4w", "m", "2m", "3m", "6m", "y", "2y"] = "m"
    number_recurring: int = Field(default=0, ge=0, description="0 = until stopped")
    send_email: bool = False
    payment_terms_days: int = Field(default=14, ge=0)
    mode: Literal["invoice", "recurring"] = Field(default="invoice", description="invoice: one FreshBooks "
                                                  "invoice per finalized invoice; recurring: a template per customer")
    credit_type: Literal["goodwill", "prepayment"] = Field(default="goodwill", description="FreshBooks credit_type "
                                                           "of the credit notes our credit notes become")


def corrections_sent(settings: dict[str, Any]) -> bool:
    """Whether a tenant's settings send corrections (``evbill platforms list``): the recurring template takes none."""
    return settings.get("mode", "invoice") == "invoice"


def _invoice(event: EventJson) -> InvoiceJson:
    invoice = (event.get("data") or {}).get("invoice")
    if not isinstance(invoice, dict):
        raise MappingError("data.invoice", "required")
    return invoice


def skip_reason(event: EventJson, config: FreshBooksConfig) -> str | None:
    if event.get("type") not in EVENTS or (config.mode == "recurring" and event.get("type") != "invoice.finalized"):
        return f"event type {event.get('type')!r} does not change a FreshBooks {config.mode}"
    if event.get("type") in ("invoice.voided", "credit_note.issued"):
        reason = correction_skip(event, "FreshBooks")
        if reason is not None:
            return reason
    invoice = _invoice(event)
    if invoice.get("kind", "invoice") != ("credit_note" if event.get("type") == "credit_note.issued" else "invoice"):
        return f"{invoice.get('kind')} {invoice.get('id')} is not a template"
    cls = (invoice.get("customer") or {}).get("customer_class")
    if cls not in config.customer_classes:
        return f"customer class {cls!r} is not one of {config.customer_classes}"
    return None


def profile_key(event: EventJson) -> str:
    """Our key for the customer's profile, stored in ``po_number`` (≤ 31 chars)."""
    invoice = _invoice(event)
    return f"EVB-{(invoice.get('customer') or {}).get('id')}-{invoice['currency']}"[:31]


def amount(value: Any) -> str:
    """Invoice JSON money is already a decimal string with the currency's digits ("12.05"): checked, kept."""
    return str(Decimal(str(value)))


def _line(ln: InvoiceLineJson, currency: str) -> dict[str, Any]:
    """Incentive lines (negative, untaxed) stay lines: the template then totals to the amount due."""
    out: dict[str, Any] = {
        "type": 0,
        "name": str(ln.get("description") or ln.get("category") or "EV charging")[:100],
        "description": f"{ln.get('quantity')} {ln.get('unit') or ''} @ {amount(ln.get('unit_price') or 0)}"
                       f" {currency}",
        "qty": "1",
        "unit_cost": {"amount": amount(ln["net"]), "code": currency},
    }
    taxes = ln.get("taxes") or []
    if len(taxes) > 2:
        raise MappingError("data.invoice.lines.taxes", f"line {ln.get('id')}: FreshBooks takes two taxes per line")
    for n, tax in enumerate(taxes, start=1):
        out[f"taxName{n}"] = str(tax.get("name") or "Tax")[:40]
        out[f"taxAmount{n}"] = format(Decimal(str(tax["rate"])).normalize(), "f")
    return out


def build_profile(event: EventJson, config: FreshBooksConfig) -> dict[str, Any]:
    """The ``{"invoice_profile": …}`` body (create and update alike)."""
    invoice = _invoice(event)
    customer = invoice.get("customer") or {}
    client = config.client_ids.get(str(customer.get("id")))
    if not client:
        raise MappingError("client_ids", f"no FreshBooks client for customer {customer.get('id')}")
    currency = str(invoice["currency"])
    lines = [_line(ln, currency) for ln in invoice.get("lines") or []]
    if not lines:
        raise MappingError("data.invoice.lines", "empty invoice")
    start = str(invoice.get("period_end") or invoice.get("issued_at") or event.get("created_at") or "")[:10]
    return {"invoice_profile": {
        "customerid": int(client) if client.isdigit() else client,
        "create_date": start,
        "frequency": config.frequency,
        "numberRecurring": config.number_recurring,
        "currency_code": currency,
        "po_number": profile_key(event),
        "send_email": config.send_email,
        "due_offset_days": config.payment_terms_days,
        "notes": f"EV charging; lines of invoice {invoice.get('number') or invoice.get('id')} "
                 f"({str(invoice.get('period_start') or '')[:10]} - {str(invoice.get('period_end') or '')[:10]})",
        "lines": lines,
    }}


def idempotency_key(event: EventJson, config: FreshBooksConfig | None = None) -> str:
    """Per finalized invoice (one FreshBooks invoice, or one refresh of the profile); a void has its own."""
    suffix = {"invoice.voided": ":void", "credit_note.issued": ":credit_note"}.get(str(event.get("type")), "")
    return f"freshbooks:{event.get('tenant_id', '')}:{_invoice(event).get('id')}{suffix}"


def invoice_number(invoice: InvoiceJson) -> str:
    """FreshBooks ``invoice_number``: ours (our numbers are gapless per tenant), the lookup key."""
    return str(invoice.get("number") or invoice["id"])[:30]


def build_invoice(event: EventJson, config: FreshBooksConfig) -> dict[str, Any]:
    """The ``{"invoice": …}`` body: our lines (taxes as FreshBooks names and percentages), our number."""
    invoice = _invoice(event)
    profile = build_profile(event, config)["invoice_profile"]
    issued = str(invoice.get("issued_at") or event.get("created_at") or "")[:10]
    return {"invoice": {"customerid": profile["customerid"], "create_date": issued,
                        "currency_code": profile["currency_code"], "invoice_number": invoice_number(invoice),
                        "po_number": str(invoice["id"])[:31], "due_offset_days": config.payment_terms_days,
                        "notes": profile["notes"], "lines": profile["lines"]}}

def build_credit_note(event: EventJson, config: FreshBooksConfig) -> dict[str, Any]:
    """The ``{"credit_note": …}`` body: our credit note's own (positive) lines mapped as an invoice's are, so
    FreshBooks' credit total is ours; ``credit_number`` = our number (the lookup key)."""
    note = _invoice(event)
    profile = build_profile(event, config)["invoice_profile"]
    issued = str(note.get("issued_at") or event.get("created_at") or "")[:10]
    return {"credit_note": {"clientid": profile["customerid"], "create_date": issued,
                            "currency_code": profile["currency_code"], "credit_number": invoice_number(note),
                            "credit_type": config.credit_type,
                            "notes": f"Credit note {note.get('number') or note.get('id')} for invoice "
                                     f"{note.get('credit_note_of')}",
                            "lines": profile["lines"]}}


def _provider(config: FreshBooksConfig, store: RefreshTokenStore | None, provider: Any,
              on_refresh: Callable[[str], None] | None) -> Any:
    if config.access_token:
        return None
    if provider is not None:
        return provider
    if not (config.client_id and config.client_secret and config.refresh_token):
        raise MappingError("client_id/client_secret/refresh_token", "required (or access_token)")
    from connector.platforms.oauth import rotating_provider

    return rotating_provider(config.token_url, config.client_id, config.client_secret, config.refresh_token,
                             store=store, on_refresh=on_refresh, auth_style="body")


def _send(config: FreshBooksConfig, http: Any, provider: Any, method: str, url: str, **kw: Any) -> Any:
    """Bearer request; a 401 drops the token and asks the worker to retry with a fresh one."""
    from connector.platforms.errors import PermanentError, RetryableError

    auth = provider.authorization(http) if provider else {"Authorization": f"Bearer {config.access_token}"}
    try:
        return http.send(method, url, headers={**auth, "Api-Version": "alpha", "Accept": "application/json"}, **kw)
    except PermanentError as exc:
        if provider is not None and (getattr(exc, "status_code", None) == 401 or re.search(r"\b401\b", str(exc))):
            provider.invalidate()
            raise RetryableError("FreshBooks answered 401; token dropped, retry with a fresh one") from exc
        raise


def deliver(event: EventJson, config: FreshBooksConfig, ctx: DeliveryContext) -> dict[str, Any]:
    """Find the customer's profile by our key; update it, or create it once. ``ctx.stores.refresh_tokens``
    persists rotated refresh tokens across restarts; ``ctx.token_provider`` overrides the token source (tests)."""
    http = ctx.http
    from connector.platforms.errors import PermanentError

    reason = skip_reason(event, config)
    if reason is not None:
        return {"status": "skipped", "reason": reason}
    if config.mode == "invoice":
        return _deliver_invoice(event, config, ctx)
    try:
        body = build_profile(event, config)
        provider = _provider(config, ctx.stores.refresh_tokens, ctx.token_provider, ctx.on_refresh)
    except MappingError as exc:
        raise PermanentError(str(exc)) from exc
    profile = body["invoice_profile"]
    base = f"{config.api_base.rstrip('/')}/accounting/account/{config.account_id}/invoice_profiles/invoice_profiles"
    found = _send(config, http, provider, "GET", base, params={"search[customerid]": str(profile["customerid"])})
    result = ((found.json().get("response") or {}).get("result") or {})
    existing = [p for p in result.get("invoice_profiles") or [] if p.get("po_number") == profile["po_number"]]
    if existing:
        pid = existing[0].get("id") or existing[0].get("profileid")
        update = {"invoice_profile": {k: v for k, v in profile.items() if k != "create_date"}}
        _send(config, http, provider, "PUT", f"{base}/{pid}", json=update)
        return {"status": "updated", "ref": str(pid)}
    resp = _send(config, http, provider, "POST", base, json=body)
    created = ((resp.json().get("response") or {}).get("result") or {}).get("invoice_profile") or {}
    return {"status": "sent", "ref": str(created.get("id") or created.get("profileid"))}


def _deliver_invoice(event: EventJson, config: FreshBooksConfig, ctx: DeliveryContext) -> dict[str, Any]:
    """Find our invoice by number; create it once, check FreshBooks' total against ours, mark it sent. A void
    deletes the unpaid FreshBooks invoice (FreshBooks has no void status; a paid one must be refunded there)."""
    from connector.platforms.errors import PermanentError, RetryableError

    invoice = _invoice(event)
    try:
        provider = _provider(config, ctx.stores.refresh_tokens, ctx.token_provider, ctx.on_refresh)
        body = (build_invoice(event, config) if event.get("type") == "invoice.finalized" else
                build_credit_note(event, config) if event.get("type") == "credit_note.issued" else None)
    except MappingError as exc:
        raise PermanentError(str(exc)) from exc
    account = f"{config.api_base.rstrip('/')}/accounting/account/{config.account_id}"
    base = f"{account}/invoices/invoices"

    def call(method: str, url: str, **kw: Any) -> dict[str, Any]:
        answer = _send(config, ctx.http, provider, method, url, **kw).json() or {}
        return dict((answer.get("response") or {}).get("result") or {})

    if event.get("type") == "credit_note.issued":
        assert body is not None
        return _credit_note(invoice, body["credit_note"], f"{account}/credit_notes/credit_notes", call)

    number = invoice_number(invoice)
    found = [i for i in call("GET", base, params={"search[invoice_number]": number}).get("invoices") or []
             if i.get("invoice_number") == number and i.get("vis_state", 0) == 0]
    if event.get("type") == "invoice.voided":
        if not found:
            raise RetryableError(f"FreshBooks has no invoice {number} yet; the void waits for its delivery")
        current = found[0]
        if current.get("payment_status") in ("paid", "partial"):
            raise PermanentError(f"FreshBooks invoice {number} is {current.get('payment_status')}: our invoice was "
                                 "voided, so refund the payment in FreshBooks")
        call("PUT", f"{base}/{current['id']}", json={"invoice": {"vis_state": 1}})
        return {"status": "sent", "ref": str(current["id"]), "action": "deleted"}
    assert body is not None
    if found:
        created = found[0]
    else:
        created = call("POST", base, json=body).get("invoice") or {}
    if not created.get("id"):
        return {"status": "sent", "ref": None, "invoice_number": number}  # dry run: nothing was created
    total = Decimal(str((created.get("amount") or {}).get("amount", "0")))
    expected = Decimal(str(invoice.get("amount_due")))
    if total != expected:
        call("PUT", f"{base}/{created['id']}", json={"invoice": {"vis_state": 1}})
        raise PermanentError(f"FreshBooks computes {total:f} for invoice {number}, ours is {expected:f}: the "
                             "FreshBooks invoice was deleted, nothing is receivable; check the tax percentages")
    if created.get("v3_status", created.get("status")) in (None, "draft", 1):
        call("PUT", f"{base}/{created['id']}", json={"invoice": {"action_mark_as_sent": True}})
    return {"status": "sent", "ref": str(created["id"]), "invoice_number": number, "total": f"{total:f}"}


def _credit_note(note: InvoiceJson, body: dict[str, Any], base: str,
                 call: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """Find our credit note among the client's by number (FreshBooks has no idempotency key), else create it;
    FreshBooks' amount (its tax from our percentages) must be our credit's, else it is deleted and the delivery
    fails with both figures. The credit stays on the client's account, where FreshBooks applies it."""
    from connector.platforms.errors import PermanentError

    number = body["credit_number"]
    found: list[dict[str, Any]] = []
    page, pages = 1, 1
    while page <= pages and not found:  # all the client's credit notes, page by page, until ours
        result = call("GET", base, params={"search[clientid]": str(body["clientid"]), "page": page, "per_page": 100})
        found = [c for c in result.get("credit_notes") or []
                 if c.get("credit_number") == number and c.get("vis_state", 0) == 0]
        page, pages = page + 1, min(int(result.get("pages") or 1), 1000)
    created = found[0] if found else call("POST", base, json={"credit_note": body}).get("credit_note") or {}
    ident = created.get("creditid") or created.get("id")
    if not ident:
        return {"status": "sent", "ref": None, "credit_number": number}  # dry run: nothing was created
    total = Decimal(str((created.get("amount") or {}).get("amount", "0")))
    expected = Decimal(str(note.get("amount_due")))
    if total != expected:
        call("PUT", f"{base}/{ident}", json={"credit_note": {"vis_state": 1}})
        raise PermanentError(f"FreshBooks computes {total:f} for credit note {number}, ours is {expected:f}: the "
                             "FreshBooks credit note was deleted; check the tax percentages")
    return {"status": "duplicate" if found else "sent", "ref": str(ident), "credit_number": number,
            "credit_note_of": note.get("credit_note_of"), "total": f"{total:f}"}


Config = FreshBooksConfig

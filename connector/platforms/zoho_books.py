"""Zoho Books: one invoice per charging event (``session.billed``).

``POST {api_base}/books/v3/invoices?organization_id=…&ignore_auto_number_generation=true`` with
``Authorization: Zoho-oauthtoken …`` (OAuth 2.0 refresh-token grant at the Zoho accounts server).
Zoho Books has no idempotency key (platform-contracts §8), so we send our own deterministic
``invoice_number`` (prefix + session id) with auto numbering off: a retry collides on the number
instead of creating a duplicate, and before creating we look the number up (``GET /invoices?
invoice_number=``) so a retry after a lost 201 answers with the invoice that already exists.

Money is never re-computed: each of the session's invoice lines becomes one Zoho line with
``quantity`` 1 and ``rate`` = the line's net (``quantity × unit_price`` rounded per line is what our
rating did; letting Zoho multiply again could differ by a cent). Quantity and unit price travel in
the line description. Taxes map by rate to Zoho tax ids from the config.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from connector.platforms.errors import MappingError
from connector.platforms.exact_json import dumps_exact

NAME = "zoho_books"
EVENTS = ("session.billed",)
DUPLICATE_NUMBER_CODE = 1001  # Zoho's "already exists" error code [unverified: check the sandbox]


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
    customer_ids: dict[str, str] = Field(default_factory=dict, description="our customer id -> Zoho customer_id")
    default_customer_id: str | None = None
    tax_ids: dict[str, str] = Field(default_factory=dict, description="tax rate ('19') -> Zoho tax_id")
    item_ids: dict[str, str] = Field(default_factory=dict, description="line category -> Zoho item_id")
    account_ids: dict[str, str] = Field(default_factory=dict, description="line category -> income account_id")
    payment_terms: int = Field(default=0, ge=0)


def amount(value: Any) -> Decimal:
    """Invoice JSON money: decimal strings with the currency's digits ("12.05" EUR, "1372" JPY), taken as is."""
    return Decimal(str(value))


def rate_key(rate: Any) -> str:
    """"19", "19.0" and "19.00" are one tax rate for the config mapping."""
    return format(Decimal(str(rate)).normalize(), "f")


def session_lines(event: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The invoice and only this session's lines (a draft invoice may already hold other sessions)."""
    data = event.get("data") or {}
    invoice = data.get("invoice")
    if not isinstance(invoice, dict):
        raise MappingError("data.invoice", "required")
    sid = (data.get("session") or {}).get("id") or (data.get("rating") or {}).get("session_id")
    lines = [ln for ln in invoice.get("lines") or [] if sid is None or ln.get("session_id") in (None, sid)]
    if not lines:
        raise MappingError("data.invoice.lines", f"no line for session {sid}")
    return invoice, lines


def session_id(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    sid = (data.get("session") or {}).get("id") or (data.get("rating") or {}).get("session_id")
    if not sid:
        raise MappingError("data.session.id", "required for the invoice number")
    return str(sid)


def invoice_number(event: dict[str, Any], config: ZohoBooksConfig) -> str:
    """Deterministic per session, so a retry or redelivery collides on it."""
    return f"{config.invoice_number_prefix}{session_id(event)}"


def _line(ln: dict[str, Any], invoice: dict[str, Any], config: ZohoBooksConfig) -> dict[str, Any]:
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
    rates = {rate_key(t.get("rate")) for t in ln.get("taxes") or [] if Decimal(str(t.get("amount") or "0")) != 0}
    if len(rates) > 1:
        raise MappingError("data.invoice.lines.taxes", f"line {ln.get('id')} has several taxes; Zoho takes one tax_id")
    if rates:
        rate = rates.pop()
        tax_ids = {rate_key(k): v for k, v in config.tax_ids.items()}
        if rate not in tax_ids:
            raise MappingError("tax_ids", f"no Zoho tax_id configured for tax rate {rate}")
        out["tax_id"] = tax_ids[rate]
    return out


def build_invoice(event: dict[str, Any], config: ZohoBooksConfig) -> dict[str, Any]:
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


def idempotency_key(event: dict[str, Any], config: ZohoBooksConfig | None = None) -> str:
    """One Zoho invoice per session (a re-sent ``session.billed`` for it is the same delivery)."""
    return f"zoho_books:{event.get('tenant_id', '')}:{session_id(event)}"


def _authorization(config: ZohoBooksConfig, http: Any, tokens: Any = None) -> tuple[dict[str, str], Any]:
    """Zoho's header is ``Zoho-oauthtoken <token>`` (not Bearer); the token comes from the shared provider."""
    if config.access_token:
        return {"Authorization": f"Zoho-oauthtoken {config.access_token}"}, None
    if not (config.client_id and config.client_secret and config.refresh_token):
        raise MappingError("client_id/client_secret/refresh_token", "required (or access_token)")
    provider = tokens
    if provider is None:
        from connector.platforms.oauth import shared_provider

        provider = shared_provider(config.token_url, config.client_id, config.client_secret, grant="refresh_token",
                                   refresh_token=config.refresh_token, auth_style="body")
    bearer = provider.authorization(http)["Authorization"].split(" ", 1)[1]
    return {"Authorization": f"Zoho-oauthtoken {bearer}"}, provider


def _send(config: ZohoBooksConfig, http: Any, tokens: Any, method: str, url: str, **kw: Any) -> Any:
    """One request with the Zoho token; on 401 drop the token and let the worker retry with a new one."""
    from connector.platforms.errors import PermanentError, RetryableError

    headers, provider = _authorization(config, http, tokens)
    try:
        return http.send(method, url, headers={**kw.pop("headers", {}), **headers}, **kw)
    except PermanentError as exc:
        if provider is not None and re.search(r"\b401\b", str(exc)):
            provider.invalidate()
            raise RetryableError("Zoho answered 401; token dropped, retry with a fresh one") from exc
        raise


def deliver(event: dict[str, Any], config: ZohoBooksConfig, http: Any, tokens: Any = None,
            **stores: Any) -> dict[str, Any]:
    """Look the invoice number up; create the invoice only if Zoho does not have it yet."""
    from connector.platforms.errors import PermanentError

    try:
        body = build_invoice(event, config)
    except MappingError as exc:
        raise PermanentError(str(exc)) from exc
    base = f"{config.api_base.rstrip('/')}/books/v3/invoices"
    org = {"organization_id": config.organization_id}
    found = _send(config, http, tokens, "GET", base, params={**org, "invoice_number": body["invoice_number"]})
    existing = [i for i in (found.json().get("invoices") or []) if i.get("invoice_number") == body["invoice_number"]]
    if existing:
        return {"status": "duplicate", "ref": existing[0].get("invoice_id"), "invoice_number": body["invoice_number"]}
    try:
        resp = _send(config, http, tokens, "POST", base, params={**org, "ignore_auto_number_generation": "true"},
                     data=dumps_exact(body), headers={"Content-Type": "application/json;charset=UTF-8"})
    except PermanentError as exc:
        # another worker created it between our lookup and our create: Zoho refuses the number, which is
        # the outcome we wanted (one invoice); anything else stays a permanent error
        if not re.search(rf'"code":\s*{DUPLICATE_NUMBER_CODE}\b', str(exc)):
            raise
        return {"status": "duplicate", "ref": None, "invoice_number": body["invoice_number"]}
    created = resp.json().get("invoice") or {}
    return {"status": "sent", "ref": created.get("invoice_id"), "invoice_number": body["invoice_number"]}


Config = ZohoBooksConfig

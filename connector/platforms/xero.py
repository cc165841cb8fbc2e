"""Xero Accounting: one ACCREC invoice per finalized invoice of ours, with account codes and tax types.

``PUT {api_base}/Invoices?summarizeErrors=true`` (createInvoices; PUT never updates an existing invoice),
OAuth 2.0 bearer from the shared provider (refresh-token grant; Xero rotates refresh tokens, so the new one
is handed to ``on_refresh`` at once), ``xero-tenant-id`` naming the organisation, and an
``Idempotency-Key`` (<= 128 chars) derived from tenant and invoice, so a retry returns the first answer.

Money is mapped, not computed: each line goes out as quantity 1 at its net, with ``LineAmount`` = net and
``TaxAmount`` = the line's tax from our invoice (Xero takes a given tax amount instead of recomputing), in
``Exclusive`` mode. Xero amounts have 2 decimals: an invoice in a 3-decimal currency (KWD, BHD, …) is
refused with a clear error instead of being rounded. JSON numbers are written from Decimals exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from connector.money import minor_units, to_decimal
from connector.platforms.errors import PermanentError
from connector.platforms.exact_json import dumps_exact
from connector.platforms.invoice_event import delivery_key, invoice_of, major, unsendable
from connector.platforms.oauth import RefreshTokenStore, rotating_provider, send_authorized

NAME = "xero"
EVENTS = ("session.billed", "invoice.finalized")
SENDABLE = frozenset({"finalized", "paid"})
XERO_DECIMALS = 2


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
    status: Literal["DRAFT", "SUBMITTED", "AUTHORISED"] = "AUTHORISED"
    due_days: int = Field(default=14, ge=0, le=365)
    default_account_code: str = "200"
    account_codes: dict[str, str] = Field(default_factory=lambda: {
        "energy": "200", "time": "200", "parking": "200", "fixed": "200", "reservation": "200",
        "adjustment": "200", "incentive": "200"})
    tax_types: dict[str, str] = Field(default_factory=dict, description='e.g. {"VAT:19": "OUTPUT2"}')
    default_tax_type: str | None = Field(default="OUTPUT", description="for taxed lines without a mapping")
    no_tax_type: str = Field(default="NONE", description="for lines without tax (incentives, exempt)")
    contact_map: dict[str, str] = Field(default_factory=dict, description="our customer id -> Xero ContactID")


Config = XeroConfig


def skip_reason(event: dict[str, Any]) -> str | None:
    return unsendable(event, "Xero", SENDABLE, "credit notes go to Xero's CreditNotes endpoint, which this adapter does not call")


def idempotency_key(event: dict[str, Any], config: XeroConfig | None = None) -> str:
    """Xero's Idempotency-Key (<= 128 chars): one invoice per tenant and invoice of ours.

    An event this adapter skips (a draft, no invoice) gets a key of its own: it never stands for a delivery
    of the invoice when the worker dedupes on equal keys."""
    skipped = skip_reason(event) is not None
    key = "" if skipped else f"evbill:{event.get('tenant_id', '')}:{invoice_of(event).get('id')}:invoice"
    return delivery_key(NAME, event, skipped, key, 128)


def tax_type(line: dict[str, Any], config: XeroConfig, field: str) -> str:
    taxes = line.get("taxes") or []
    if not taxes:
        return config.no_tax_type
    key = "+".join(f"{t.get('name')}:{to_decimal(t.get('rate'), field).normalize():f}" for t in taxes)
    mapped = config.tax_types.get(key) or config.default_tax_type
    if not mapped:
        raise ValueError(f"{field}: no Xero TaxType configured for {key!r} (config tax_types)")
    return mapped


def _contact(inv: dict[str, Any], config: XeroConfig) -> dict[str, Any]:
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


def build_invoices(event: dict[str, Any], config: XeroConfig) -> dict[str, Any]:
    """The ``Invoices`` body (Decimals for numbers; see :func:`dumps`)."""
    inv = invoice_of(event)
    cur = str(inv["currency"]).upper()
    if minor_units(cur) > XERO_DECIMALS:
        raise ValueError(f"invoice.currency: {cur} has {minor_units(cur)} decimals; Xero amounts have 2")
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
    issued = date.fromisoformat(str(inv.get("issued_at") or event.get("created_at") or "")[:10])
    invoice: dict[str, Any] = {"Type": "ACCREC", "Contact": _contact(inv, config), "LineItems": items,
                               "Date": issued.isoformat(),
                               "DueDate": (issued + timedelta(days=config.due_days)).isoformat(),
                               "LineAmountTypes": "Exclusive", "Reference": str(inv["id"]),
                               "CurrencyCode": cur, "Status": config.status}
    if inv.get("number"):
        invoice["InvoiceNumber"] = str(inv["number"])[:255]
    return {"Invoices": [invoice]}




class XeroTokenStore(RefreshTokenStore):
    """Xero's rotated refresh tokens (encrypted), built by the registry on the worker's engine."""


def deliver(event: dict[str, Any], config: XeroConfig, http: Any, tokens: XeroTokenStore | None = None, *,
            on_refresh: Callable[[str], None] | None = None, **stores: Any) -> dict[str, Any]:
    """PUT the invoice; ``on_refresh`` persists Xero's rotated refresh token (the old one stops working)."""
    reason = skip_reason(event)
    if reason is not None:
        return {"status": "skipped", "reason": reason}
    try:
        body = build_invoices(event, config)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    provider = rotating_provider(config.token_url, config.client_id, config.client_secret, config.refresh_token,
                                 store=tokens, on_refresh=on_refresh)
    resp = send_authorized(provider, http, "PUT", config.api_base.rstrip("/") + "/Invoices",
                           params={"summarizeErrors": "true"}, data=dumps_exact(body),
                           headers={"Content-Type": "application/json", "Accept": "application/json",
                                    "xero-tenant-id": config.xero_tenant_id,
                                    "Idempotency-Key": idempotency_key(event, config)})
    [created] = (resp.json() or {}).get("Invoices") or [{}]
    return {"status": "sent", "ref": created.get("InvoiceID"), "number": created.get("InvoiceNumber"),
            "total": created.get("Total")}

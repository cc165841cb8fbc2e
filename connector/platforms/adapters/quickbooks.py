"""QuickBooks Online: a balanced JournalEntry per billed session (and the reversal per credit note or void).

An invoice whose VAT was restated per rate at finalize (``invoice.vat_restated``) gets one adjusting entry,
receivable against tax payable, so the receivable of its sessions plus the adjustment is the invoice's.

The entry mirrors our ledger's posting rule, checked balanced before sending; a ``requestid`` derived from
tenant and session makes a retry return the entry QuickBooks already made. See docs/platforms/quickbooks.md."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from connector.models.documents import EventJson, InvoiceLineJson
from connector.money import minor_units
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError
from connector.platforms.exact_json import dumps_exact
from connector.platforms.invoice_event import event_lines, invoice_of, minor, rebilling
from connector.platforms.oauth import rotating_provider, send_authorized

NAME = "quickbooks"
EVENTS = ("session.billed", "invoice.vat_restated", "credit_note.issued", "invoice.voided")
RESTATED = "invoice.vat_restated"
# events whose entry reverses all lines of the document they carry (billing's journal does the same)
REVERSALS = frozenset({"credit_note.issued", "invoice.voided"})
MINOR_VERSION = "75"


class QuickBooksConfig(BaseModel):
    """Per tenant. Account values are QBO Account Ids; ``customer_map`` gives the AR line its customer."""

    model_config = ConfigDict(extra="forbid")

    realm_id: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1, repr=False)
    refresh_token: str = Field(min_length=1, repr=False, description="rotated by Intuit on refresh")
    token_url: str = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    api_base: str = Field(default="https://quickbooks.api.intuit.com",
                          description="sandbox: https://sandbox-quickbooks.api.intuit.com")
    receivable_account: str = Field(min_length=1, description="Accounts Receivable (A/R) account Id")
    revenue_accounts: dict[str, str] = Field(default_factory=dict, description="line category -> income account Id")
    default_revenue_account: str = "79"
    tax_accounts: dict[str, str] = Field(default_factory=dict, description="tax name -> liability account Id")
    default_tax_account: str | None = None
    incentive_account: str | None = Field(default=None, description="receivable from the incentive authority")
    customer_map: dict[str, str] = Field(default_factory=dict, description="our customer id -> QBO Customer Id")
    doc_number_prefix: str = Field(default="EV-", max_length=8)


Config = QuickBooksConfig


def subject(event: EventJson) -> str:
    """What one entry is about: the billed session, or the credit note / voided invoice."""
    if event.get("type") in REVERSALS or event.get("type") == RESTATED:
        return str(invoice_of(event)["id"])
    session_id = ((event.get("data") or {}).get("session") or {}).get("id")
    if not session_id:
        raise ValueError("data.session.id: required for the QuickBooks journal entry")
    return f"{session_id}{rebilling(event)}"  # a re-billing after a correction is an entry of its own


def idempotency_key(event: EventJson, config: QuickBooksConfig | None = None) -> str:
    return f"quickbooks:{event.get('tenant_id', '')}:{event.get('type')}:{subject(event)}"


def request_id(event: EventJson) -> str:
    """QBO ``requestid``: a UUID derived from tenant, event type and subject (same entry -> same id, <= 50 chars)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL,
                          f"evbill:{event.get('tenant_id', '')}:{event.get('type')}:{subject(event)}:journalentry"))


def _lines_of(event: EventJson) -> list[InvoiceLineJson]:
    inv = invoice_of(event)
    if event.get("type") in REVERSALS:
        return list(inv.get("lines") or [])
    lines = event_lines(event)
    sid = subject(event)
    own = [ln for ln in lines if ln.get("session_id") == sid]
    if not own:
        raise ValueError(f"invoice.lines: no line of session {sid} on invoice {inv.get('id')}")
    return own


def _restatement(event: EventJson, config: QuickBooksConfig) -> list[tuple[str, int, str, bool]]:
    """The adjusting entry of ``invoice.vat_restated``: receivable by the receivable delta, each tax payable
    by its own delta (signs as they come: a restatement can lower the tax)."""
    inv = invoice_of(event)
    cur = str(inv["currency"]).upper()
    data = (event.get("data") or {}).get("restatement")
    if not isinstance(data, dict):
        raise ValueError("data.restatement: required")
    label = f"invoice {inv.get('number') or inv['id']}"
    out = [(config.receivable_account, minor(data.get("receivable"), cur, "data.restatement.receivable"),
            f"EV charging receivable, VAT per rate, {label}", True)]
    for j, t in enumerate(data.get("taxes") or []):
        name = str(t.get("name"))
        tax_account = config.tax_accounts.get(name) or config.default_tax_account
        if not tax_account:
            raise ValueError(f"data.restatement.taxes: no QuickBooks tax account configured for {name!r} (tax_accounts)")
        amount = minor(t.get("amount"), cur, f"data.restatement.taxes[{j}].amount")
        out.append((tax_account, -amount, f"{name} {t.get('rate')}% payable, VAT per rate, {label}", False))
    if sum(p[1] for p in out) != 0:
        raise ValueError(f"data.restatement: receivable != sum of taxes for invoice {inv.get('id')}")
    return [p for p in out if p[1] != 0]


def postings(event: EventJson, config: QuickBooksConfig) -> list[tuple[str, int, str, bool]]:
    """(account Id, signed minor amount: + debit / - credit, description, is the AR line)."""
    if event.get("type") == RESTATED:
        return _restatement(event, config)
    inv = invoice_of(event)
    cur = str(inv["currency"]).upper()
    sign = -1 if event.get("type") in REVERSALS else 1
    out: list[tuple[str, int, str, bool]] = []
    due = incentives = 0
    revenue: dict[str, int] = {}
    taxes: dict[str, int] = {}
    for i, ln in enumerate(_lines_of(event)):
        net = minor(ln.get("net"), cur, f"invoice.lines[{i}].net")
        if ln.get("category") == "incentive" or ln.get("kind") == "incentive":
            incentives -= net
            due += net
            continue
        category = str(ln.get("category") or "energy")
        revenue[category] = revenue.get(category, 0) + net
        due += net
        for j, t in enumerate(ln.get("taxes") or []):
            amount = minor(t.get("amount"), cur, f"invoice.lines[{i}].taxes[{j}].amount")
            taxes[str(t.get("name"))] = taxes.get(str(t.get("name")), 0) + amount
            due += amount
    label = f"invoice {inv.get('number') or inv['id']}"
    out.append((config.receivable_account, sign * due, f"EV charging receivable, {label}", True))
    if incentives:
        if not config.incentive_account:
            raise ValueError("invoice.lines: incentive lines need config incentive_account")
        out.append((config.incentive_account, sign * incentives, f"EV charging incentive receivable, {label}", False))
    for category, net in revenue.items():
        account = config.revenue_accounts.get(category, config.default_revenue_account)
        out.append((account, -sign * net, f"EV charging revenue ({category}), {label}", False))
    for name, amount in taxes.items():
        tax_account = config.tax_accounts.get(name) or config.default_tax_account
        if not tax_account:
            raise ValueError(f"invoice.lines.taxes: no QuickBooks tax account configured for {name!r} (tax_accounts)")
        out.append((tax_account, -sign * amount, f"{name} payable, {label}", False))
    if sum(p[1] for p in out) != 0:  # cannot happen for a consistent invoice; never send an unbalanced entry
        raise ValueError(f"invoice {inv.get('id')}: lines do not balance (gross != net + tax)")
    return [p for p in out if p[1] != 0]


def build_journal_entry(event: EventJson, config: QuickBooksConfig) -> dict[str, Any]:
    """The JournalEntry body (Decimals for amounts; see :func:`dumps`)."""
    inv = invoice_of(event)
    cur = str(inv["currency"]).upper()
    customer_id = str((inv.get("customer") or {}).get("id") or "")
    qbo_customer = config.customer_map.get(customer_id)
    if not qbo_customer:
        raise ValueError(f"invoice.customer.id: {customer_id!r} has no QuickBooks customer in config customer_map")
    lines = []
    for account, amount, text, is_ar in postings(event, config):  # an adjustment may credit A/R: Entity all the same
        detail: dict[str, Any] = {"PostingType": "Debit" if amount > 0 else "Credit", "AccountRef": {"value": account}}
        if is_ar:
            detail["Entity"] = {"Type": "Customer", "EntityRef": {"value": qbo_customer}}
        lines.append({"Description": text[:4000], "Amount": Decimal(abs(amount)).scaleb(-minor_units(cur)),
                      "DetailType": "JournalEntryLineDetail", "JournalEntryLineDetail": detail})
    what = subject(event)
    if event.get("type") == RESTATED:  # not the credit note's or void's number: an entry of its own
        what = f"VAT-{inv.get('number') or what}"
    date = str(inv.get("issued_at") or event.get("created_at") or "")[:10]
    return {"DocNumber": f"{config.doc_number_prefix}{what}"[:21], "TxnDate": date, "CurrencyRef": {"value": cur},
            "PrivateNote": f"{event.get('type')} {what}, invoice {inv.get('number') or inv['id']}, "
                           f"event {event.get('id')}"[:4000],
            "Line": lines}


def deliver(event: EventJson, config: QuickBooksConfig, ctx: DeliveryContext) -> dict[str, Any]:
    """POST the entry with its derived ``requestid``; ``ctx.stores.refresh_tokens`` persists a rotated refresh
    token."""
    try:
        body = build_journal_entry(event, config)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    if not body["Line"]:  # a restatement that moved nothing: no entry (QuickBooks refuses an empty one)
        return {"status": "skipped", "reason": "the VAT restatement moved nothing"}
    provider = rotating_provider(config.token_url, config.client_id, config.client_secret, config.refresh_token,
                                 store=ctx.stores.refresh_tokens, on_refresh=ctx.on_refresh)
    url = f"{config.api_base.rstrip('/')}/v3/company/{config.realm_id}/journalentry"
    resp = send_authorized(provider, ctx.http, "POST", url,
                           params={"minorversion": MINOR_VERSION, "requestid": request_id(event)}, data=dumps_exact(body),
                           headers={"Content-Type": "application/json", "Accept": "application/json"})
    payload = resp.json() or {}
    if payload.get("Fault"):  # QBO can answer 200 with a Fault: a validation error, retrying cannot help
        raise PermanentError(f"QuickBooks fault: {json.dumps(payload['Fault'])[:300]}")
    entry = payload.get("JournalEntry") or {}
    return {"status": "sent", "ref": entry.get("Id"), "doc_number": body["DocNumber"]}


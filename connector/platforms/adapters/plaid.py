"""Plaid Transfer: settle a finalized invoice by debiting the customer's linked bank account (ACH).

Authorization (idempotent on a key derived from tenant and invoice), then the transfer (idempotent on the
authorization); the amount is our ``amount_due``, never recomputed. See docs/platforms/plaid.md."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from connector.models.documents import EventJson, InvoiceJson
from connector.money import minor_units
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError
from connector.platforms.invoice_event import MONEY_TEXT, correction_skip, invoice_of, operation

NAME = "plaid"
EVENTS = ("session.billed", "invoice.finalized", "invoice.voided", "credit_note.issued")
CANCELLED = frozenset({"cancelled"})
SENDABLE = frozenset({"finalized"})
PLAID_VERSION = "2020-09-14"


class PlaidAccount(BaseModel):
    """One customer's linked account (from Plaid Link); the access token is a secret."""

    model_config = ConfigDict(extra="forbid")

    access_token: str = Field(min_length=1, repr=False)
    account_id: str = Field(min_length=1)
    legal_name: str = Field(min_length=1)
    email_address: str | None = None


class PlaidConfig(BaseModel):
    """Per tenant: API keys, network and ACH class, and the linked account per customer id."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1)
    secret: str = Field(min_length=1, repr=False)
    api_base: str = Field(default="https://production.plaid.com", description="sandbox: https://sandbox.plaid.com")
    network: Literal["ach", "same-day-ach", "rtp"] = "ach"
    ach_class: Literal["ccd", "ppd", "tel", "web"] = Field(default="ppd", description="ppd consumers, ccd businesses")
    description_prefix: str = Field(default="EV", max_length=5)
    # secret as a whole (repr=False): stored as a reference (env:/file:) holding JSON, since it carries
    # each customer's Plaid access token
    accounts: dict[str, PlaidAccount] = Field(default_factory=dict, repr=False,
                                              description="our customer id -> linked account (JSON secret)")


Config = PlaidConfig


def skip_reason(event: EventJson, config: PlaidConfig | None) -> str | None:
    """Only finalized invoices with money due, of customers with a linked account, are settled here
    (``config=None``: the invoice checks only). A void, or a credit note crediting the whole invoice, cancels
    the invoice's debit while it is pending; a partial credit note is not a debit to cancel."""
    invoice = (event.get("data") or {}).get("invoice")
    if not isinstance(invoice, dict):
        return "event carries no invoice"
    if operation(event) != "invoice":
        reason = correction_skip(event, "Plaid")
        if reason is None and operation(event) == "credit_note" and not invoice.get("credit_note_of"):
            reason = f"credit note {invoice.get('id')} names no invoice it credits"
        return reason
    if invoice.get("kind") != "invoice":
        return f"{invoice.get('kind')} {invoice.get('id')} is not settled by a debit"
    if invoice.get("status") not in SENDABLE:
        return f"invoice {invoice.get('id')} is {invoice.get('status')}; only finalized invoices are debited"
    customer_doc: Mapping[str, Any] = invoice.get("customer") or {}
    customer = str(customer_doc.get("id") or "")
    if config is not None and customer not in config.accounts:
        return f"customer {customer!r} has no linked bank account for Plaid"
    if str(invoice.get("amount_due", "0")).strip().lstrip("-").strip("0.") == "":
        return f"invoice {invoice.get('id')} has nothing to pay"
    return None


def idempotency_key(event: EventJson, config: PlaidConfig | None = None) -> str:
    """Plaid's authorization key (<= 50 chars): one debit per tenant and invoice.

    An event this adapter skips (a draft, no invoice) gets a key of its own: it never stands for a delivery
    of the invoice when the worker dedupes on equal keys."""
    if skip_reason(event, config) is not None:
        return f"plaid:skip:{event.get('tenant_id', '')}:{event.get('id')}"
    inv = invoice_of(event)
    if operation(event) != "invoice":  # the cancel of the invoice's transfer: a key of its own
        return f"plaid:{event.get('tenant_id', '')}:{inv.get('id')}:{operation(event)}"[:200]
    return transfer_key(str(event.get("tenant_id", "")), str(inv.get("id")))


def transfer_key(tenant_id: str, invoice_id: str) -> str:
    """The key of the delivery that debited our invoice ``invoice_id`` (what a correction looks up)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"evbill:{tenant_id}:{invoice_id}:transfer"))


def amount(invoice: InvoiceJson) -> str:
    """``amount_due`` as Plaid's decimal string with 2 decimals ("10.76"; the older "1076" reads the same)."""
    cur = str(invoice.get("currency") or "").upper()
    if cur != "USD":
        raise ValueError(f"invoice.currency: Plaid Transfer moves USD, invoice {invoice.get('id')} is in {cur}")
    raw = invoice.get("amount_due")
    text = raw.strip() if isinstance(raw, str) else str(raw) if type(raw) is int else ""
    if not MONEY_TEXT.fullmatch(text):
        raise ValueError(f"invoice.amount_due: expected a decimal amount, got {text!r}")
    cents = Decimal(text).scaleb(minor_units(cur)) if "." in text else Decimal(int(text))
    if cents != cents.to_integral_value() or cents <= 0:
        raise ValueError(f"invoice.amount_due: {text} is not a positive amount in whole cents")
    return f"{cents.scaleb(-minor_units(cur)):f}"


def build_authorization(event: EventJson, config: PlaidConfig) -> dict[str, Any]:
    """``/transfer/authorization/create`` body (credentials go in headers, not here)."""
    inv = invoice_of(event)
    account = config.accounts[str((inv.get("customer") or {}).get("id") or "")]
    user: dict[str, Any] = {"legal_name": account.legal_name}
    if account.email_address:
        user["email_address"] = account.email_address
    return {"access_token": account.access_token, "account_id": account.account_id, "type": "debit",
            "network": config.network, "amount": amount(inv), "ach_class": config.ach_class, "user": user,
            "iso_currency_code": "USD", "idempotency_key": idempotency_key(event, config)}


def description(invoice: InvoiceJson, config: PlaidConfig) -> str:
    """<= 15 characters, letters/digits/spaces only (shows on the customer's bank statement)."""
    ref = re.sub(r"[^A-Za-z0-9]", "", str(invoice.get("number") or invoice["id"]))
    return f"{config.description_prefix} {ref}".strip()[:15]


def build_transfer(event: EventJson, config: PlaidConfig, authorization_id: str) -> dict[str, Any]:
    inv = invoice_of(event)
    account = config.accounts[str((inv.get("customer") or {}).get("id") or "")]
    return {"access_token": account.access_token, "account_id": account.account_id,
            "authorization_id": authorization_id, "description": description(inv, config),
            "metadata": {"invoice_id": str(inv["id"])[:500], "tenant_id": str(event.get("tenant_id", ""))[:500]}}


def _cancel(event: EventJson, config: PlaidConfig, ctx: DeliveryContext, headers: dict[str, str],
            base: str) -> dict[str, Any]:
    """Cancel the pending debit of a voided invoice (or one credited in full): ``/transfer/get`` first, so a
    redelivery acts once; a transfer that already moved money is not cancellable, which is said, not hidden."""
    inv = invoice_of(event)
    tenant = str(event.get("tenant_id", ""))
    original = str(inv.get("credit_note_of") if operation(event) == "credit_note" else inv.get("id"))
    if ctx.refs is None:
        raise PermanentError("a Plaid cancel needs the record of sent deliveries (run it through the outbox worker)")
    sent = ctx.refs.result_of(tenant, NAME, transfer_key(tenant, original))
    if sent is None:
        return {"status": "skipped", "reason": f"invoice {original} was not debited through Plaid (no transfer "
                                               "recorded), so there is nothing to cancel"}
    transfer_id = str(sent.get("ref") or "")
    if operation(event) == "credit_note" and sent.get("amount") not in (None, amount(inv)):
        return {"status": "skipped", "ref": transfer_id,
                "reason": f"credit note {inv.get('number')} credits {amount(inv)} of the {sent.get('amount')} debited "
                          f"by transfer {transfer_id}; only a debit credited in full is cancelled"}
    found = (ctx.http.send("POST", f"{base}/transfer/get", json={"transfer_id": transfer_id}, headers=headers)
             .json() or {}).get("transfer") or {}
    status = found.get("status")
    if status in CANCELLED:
        return {"status": "sent", "ref": transfer_id, "transfer_status": status, "note": "already cancelled"}
    if found and not found.get("cancellable"):
        raise PermanentError(f"Plaid transfer {transfer_id} is {status} and no longer cancellable: our invoice "
                             f"{original} was {'credited' if operation(event) == 'credit_note' else 'voided'}, so "
                             "refund the customer (Plaid /transfer/refund/create or by hand)")
    ctx.http.send("POST", f"{base}/transfer/cancel", json={"transfer_id": transfer_id}, headers=headers)
    return {"status": "sent", "ref": transfer_id, "transfer_status": "cancelled"}


def deliver(event: EventJson, config: PlaidConfig, ctx: DeliveryContext) -> dict[str, Any]:
    """Authorize (idempotent on the key), then create the transfer (idempotent on the authorization); a void
    or a full credit note cancels the pending transfer."""
    reason = skip_reason(event, config)
    if reason is not None:
        return {"status": "skipped", "reason": reason}
    if operation(event) != "invoice":
        headers = {"PLAID-CLIENT-ID": config.client_id, "PLAID-SECRET": config.secret,
                   "Plaid-Version": PLAID_VERSION}
        try:
            return _cancel(event, config, ctx, headers, config.api_base.rstrip("/"))
        except ValueError as exc:
            raise PermanentError(str(exc)) from exc
    try:
        auth_body = build_authorization(event, config)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    base = config.api_base.rstrip("/")
    headers = {"PLAID-CLIENT-ID": config.client_id, "PLAID-SECRET": config.secret, "Plaid-Version": PLAID_VERSION}
    answer = ctx.http.send("POST", f"{base}/transfer/authorization/create", json=auth_body, headers=headers).json() or {}
    auth = answer.get("authorization") or {}
    if answer.get("dry_run") is True:  # DryRunSender: nothing was sent; write the transfer request too
        auth = {"id": "dry-run-authorization", "decision": "approved"}
    if auth.get("decision") != "approved":
        rationale = (auth.get("decision_rationale") or {}).get("description") or auth.get("decision")
        raise PermanentError(f"Plaid authorization {auth.get('id')} not approved: {rationale}")
    transfer = (ctx.http.send("POST", f"{base}/transfer/create", json=build_transfer(event, config, auth["id"]),
                          headers=headers).json() or {}).get("transfer") or {}
    return {"status": "sent", "ref": transfer.get("id"), "authorization_id": auth["id"],
            "amount": transfer.get("amount"), "transfer_status": transfer.get("status")}

"""Twilio SendGrid: an email receipt for every new billing record (``session.billed`` / ``invoice.finalized``).

SendGrid has no idempotency key: the delivery key is the invoice id, so the worker sends one receipt per
invoice whichever event carries it. See docs/platforms/sendgrid.md."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from connector.models.documents import EventJson, InvoiceJson
from connector.platforms.context import DeliveryContext
from connector.receipts import Brand, Operator, render_invoice_pdf, render_receipt

NAME = "sendgrid"
EVENTS = ("session.billed", "invoice.finalized", "credit_note.issued")
# Invoices that are still being accumulated (monthly billing) get their receipt when finalized.
FINAL_STATUSES = frozenset({"finalized", "issued", "open", "paid"})


class SendGridConfig(BaseModel):
    """Per-tenant settings. ``api_key`` is a secret (Bearer); ``base_url`` lets EU sub-users and tests point elsewhere."""

    model_config = ConfigDict(extra="forbid")

    api_key: str = Field(min_length=1, repr=False)
    from_email: str = Field(min_length=3)
    from_name: str = "EV Charge Billing"
    reply_to: str | None = None
    support_email: str | None = None
    base_url: str = "https://api.sendgrid.com"
    categories: list[str] = Field(default_factory=lambda: ["ev-receipt"])
    bcc: list[str] = Field(default_factory=list)
    time_zone: str | None = Field(default=None, description="Shown times; default UTC")
    events: list[str] = Field(default_factory=lambda: list(EVENTS))
    sandbox_mode: bool = False
    attach_pdf: bool = Field(default=False, description="Attach the invoice/credit note as PDF (the seller's "
                             "details come from the EVBILL_OPERATOR_* settings)")


def invoice_of(event: EventJson) -> InvoiceJson | None:
    data = event.get("data") or {}
    invoice = data.get("invoice")
    return invoice if isinstance(invoice, dict) else None


def idempotency_key(event: EventJson, config: SendGridConfig | None = None) -> str:
    """One receipt per invoice, whichever event carried it."""
    invoice: Mapping[str, Any] = invoice_of(event) or {}
    return f"sendgrid:receipt:{event.get('tenant_id', '')}:{invoice.get('id') or event.get('id')}"


def skip_reason(event: EventJson, config: SendGridConfig) -> str | None:
    """Why this event sends no email (None = send). Skips are normal outcomes, not errors."""
    if event.get("type") not in config.events:
        return f"event type {event.get('type')!r} is not configured for receipts"
    invoice = invoice_of(event)
    if invoice is None:
        return "event carries no invoice"
    if invoice.get("status") and invoice["status"] not in FINAL_STATUSES:
        return f"invoice {invoice.get('id')} is {invoice['status']}; the receipt goes out when it is finalized"
    if not (invoice.get("customer") or {}).get("email"):
        return f"customer of invoice {invoice.get('id')} has no email address"
    return None


def build_mail(event: EventJson, config: SendGridConfig, operator: Operator | None = None) -> dict[str, Any]:
    """The ``/v3/mail/send`` body: one personalization, text/plain then text/html (SendGrid's required order);
    with ``attach_pdf`` the invoice's PDF as an attachment (``operator``: the seller, default from settings)."""
    invoice = invoice_of(event)
    if invoice is None:
        raise ValueError("data.invoice: required for a receipt")
    receipt = render_receipt(invoice, Brand(name=config.from_name, support_email=config.support_email),
                             config.time_zone)
    to: dict[str, str] = {"email": str(receipt.to_email)}
    if receipt.to_name:
        to["name"] = receipt.to_name
    personalization: dict[str, Any] = {
        "to": [to],
        # personalizations[].custom_args is an object of strings (the top-level one is typed string: avoid it)
        "custom_args": {"event_id": str(event.get("id", "")), "invoice_id": receipt.invoice_id,
                        "tenant_id": str(event.get("tenant_id", "")), "event_type": str(event.get("type", ""))},
    }
    if config.bcc:
        personalization["bcc"] = [{"email": e} for e in config.bcc if e != receipt.to_email]
        if not personalization["bcc"]:
            del personalization["bcc"]
    body: dict[str, Any] = {
        "personalizations": [personalization],
        "from": {"email": config.from_email, "name": config.from_name},
        "subject": receipt.subject,
        "content": [{"type": "text/plain", "value": receipt.text}, {"type": "text/html", "value": receipt.html}],
        "categories": config.categories,
    }
    if config.reply_to:
        body["reply_to"] = {"email": config.reply_to}
    if config.attach_pdf:
        pdf = render_invoice_pdf(invoice, operator or Operator.from_settings(), config.time_zone)
        name = str(invoice.get("number") or receipt.invoice_id)
        body["attachments"] = [{"content": base64.b64encode(pdf).decode("ascii"), "type": "application/pdf",
                                "filename": f"{name}.pdf", "disposition": "attachment"}]
    if config.sandbox_mode:
        body["mail_settings"] = {"sandbox_mode": {"enable": True}}
    return body


def endpoint(config: SendGridConfig) -> str:
    return config.base_url.rstrip("/") + "/v3/mail/send"


def deliver(event: EventJson, config: SendGridConfig, ctx: DeliveryContext) -> dict[str, Any]:
    """Send the receipt through the shared sender (``ctx.http.send``: retries 429/5xx itself, raises
    ``RetryableError``/``PermanentError``). Dedupe is the dispatcher's, on :func:`idempotency_key`."""
    from connector.platforms.errors import PermanentError

    reason = skip_reason(event, config)
    if reason is not None:
        return {"status": "skipped", "reason": reason}
    try:
        body = build_mail(event, config)
    except ValueError as exc:  # ReceiptDataError included: bad data never gets better by retrying
        raise PermanentError(str(exc)) from exc
    resp = ctx.http.send("POST", endpoint(config), json=body, headers={"Authorization": f"Bearer {config.api_key}"})
    return {"status": "sent", "ref": resp.headers.get("X-Message-Id"), "to": body["personalizations"][0]["to"][0]["email"]}


Config = SendGridConfig

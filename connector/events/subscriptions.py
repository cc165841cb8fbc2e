"""Webhook subscriptions of a tenant (the API's ``/v1/subscriptions``; Power Automate / Logic Apps triggers).

The signing secret is generated here and returned only by ``create_subscription``: a receiver stores it
when it subscribes, and nobody can read it back later through the API (list never shows it).
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.events.envelope import EventError, iso
from connector.security import egress
from connector.storage.tables.outbox import WebhookSubscriptionRow
from connector.validation import NotFound

EVENT_TYPES = ("session.billed", "session.interim", "session.rerated", "invoice.finalized", "invoice.voided",
               "invoice.paid", "invoice.vat_restated", "credit_note.issued", "journal.posted",
               "reconciliation.completed", "billing.anomaly")


def _public(row: WebhookSubscriptionRow) -> dict[str, Any]:
    return {"id": row.id, "callback_url": row.url, "event_types": list(row.types),
            "created_at": iso(row.created_at)}


def _validate(url: str, types: list[str]) -> None:
    parsed = urlparse(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise EventError("callback_url", "required: an absolute http(s) URL")
    try:
        egress.check_url(url)
    except egress.EgressRefused as exc:
        raise EventError("callback_url", f"not a permitted webhook target: {exc}") from exc
    if not isinstance(types, list) or not types:
        raise EventError("event_types", "required: a non-empty array of event types")
    unknown = [t for t in types if t not in EVENT_TYPES and t != "*"]
    if unknown:
        raise EventError("event_types", f"unknown event type(s) {unknown}; known: {list(EVENT_TYPES)}")


def create_subscription(db: Session, tenant_id: str, url: str, types: list[str]) -> dict[str, Any]:
    """Store the subscription; the result carries ``secret`` (shown this once)."""
    _validate(url, types)
    row = WebhookSubscriptionRow(id=f"sub_{uuid.uuid4().hex}", tenant_id=tenant_id, url=url,
                                 types=list(dict.fromkeys(types)), secret=f"whsec_{secrets.token_hex(24)}")
    db.add(row)
    db.flush()
    return {**_public(row), "secret": row.secret}


def list_subscriptions(db: Session, tenant_id: str) -> dict[str, Any]:
    rows = db.scalars(select(WebhookSubscriptionRow).where(WebhookSubscriptionRow.tenant_id == tenant_id)
                      .order_by(WebhookSubscriptionRow.created_at, WebhookSubscriptionRow.id))
    return {"items": [_public(r) for r in rows]}


def delete_subscription(db: Session, tenant_id: str, subscription_id: str) -> None:
    """Remove the tenant's subscription (``NotFound`` when it has none by that id); pending deliveries stay."""
    row = db.get(WebhookSubscriptionRow, subscription_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound(f"subscription '{subscription_id}' does not exist")
    db.delete(row)
    db.flush()


def matching(db: Session, tenant_id: str, event_type: str) -> list[WebhookSubscriptionRow]:
    """Subscriptions of the tenant that want ``event_type`` (``*`` = every type)."""
    rows = db.scalars(select(WebhookSubscriptionRow).where(WebhookSubscriptionRow.tenant_id == tenant_id))
    return [r for r in rows if event_type in r.types or "*" in r.types]

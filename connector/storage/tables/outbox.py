"""Tables of the transactional outbox: events, one delivery row per (event, target), webhook subscriptions.

An event is inserted in the same transaction as the change that caused it (``outbox.emit``); the worker
later fans it out to ``outbox_deliveries`` rows, whose unique ``(event_id, target)`` makes the fan-out
idempotent even when two workers race or one is killed half way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connector.models.documents import EventDataJson
from connector.storage.db import Base

DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "dead")


def utcnow() -> datetime:
    return datetime.now(UTC)


class EventRow(Base):
    """One event envelope; ``fanned_out`` flips once its delivery rows exist (keeps the worker's scan small)."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    data: Mapped[EventDataJson] = mapped_column(JSON)
    fanned_out: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_events_tenant_created", "tenant_id", "created_at"),
        Index("ix_events_tenant_type_created", "tenant_id", "type", "created_at"),  # the list filtered by type
        Index("ix_events_fanned_out", "fanned_out"),
    )


class DeliveryRow(Base):
    """Delivery of one event to one target (``webhook:<subscription id>`` or ``platform:<name>``)."""

    __tablename__ = "outbox_deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40))
    tenant_id: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_owner: Mapped[str | None] = mapped_column(String(40))  # who holds the claim: results need it
    idempotency_key: Mapped[str | None] = mapped_column(String(300))  # what the receiver dedupes on
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("event_id", "target", name="uq_outbox_deliveries_event_target"),
        Index("ix_outbox_deliveries_due", "status", "next_attempt_at"),
        Index("ix_outbox_deliveries_tenant_status", "tenant_id", "status"),
        Index("ix_outbox_deliveries_target_key", "target", "idempotency_key"),
    )


class WebhookSubscriptionRow(Base):
    """A callback URL and the event types it wants; ``secret`` signs each delivery (shown once on create)."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    types: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

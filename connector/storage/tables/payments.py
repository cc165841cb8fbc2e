"""Payments that came back from payment platforms, the vendor events already handled, and polling cursors.

A payment row is one fact a vendor told us (a payment, or the reversal of one), in our invoice's minor units.
``(tenant_id, platform, kind, vendor_ref)`` is unique: the same vendor payment reported by a webhook, a
redelivered webhook and the catch-up poll is recorded once. An invoice's paid amount is the sum of its
``applied`` payments minus its reversals; ``duplicate`` rows (money for an invoice another platform had already
settled) are kept for finance but never move the ledger.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, DateTime, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connector.storage.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class PaymentRow(Base):
    """One payment (or reversal of a payment) a vendor reported for one of our invoices."""

    __tablename__ = "payments"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    payment_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(String(40))
    platform: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # payment | reversal
    status: Mapped[str] = mapped_column(String(16))  # applied | duplicate
    vendor_ref: Mapped[str] = mapped_column(String(200))  # the vendor's payment / charge / transfer id
    vendor_invoice: Mapped[str | None] = mapped_column(String(200))  # the vendor's invoice id, when there is one
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units of our currency, always > 0
    method: Mapped[str | None] = mapped_column(String(60))
    paid_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    vendor_settled: Mapped[bool] = mapped_column(Boolean, default=False)  # the vendor says: invoice fully paid
    reason: Mapped[str | None] = mapped_column(String(300))  # failure / return reason of a reversal
    entry_id: Mapped[str | None] = mapped_column(String(40))  # the journal entry it posted
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        UniqueConstraint("tenant_id", "platform", "kind", "vendor_ref", name="uq_payments_vendor_ref"),
        Index("ix_payments_tenant_invoice", "tenant_id", "invoice_id"),
        CheckConstraint("kind IN ('payment', 'reversal')", name="kind"),
        CheckConstraint("status IN ('applied', 'duplicate')", name="status"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.payment_id, "invoice_id": self.invoice_id, "platform": self.platform,
                "kind": self.kind, "status": self.status, "vendor_ref": self.vendor_ref,
                "vendor_invoice": self.vendor_invoice, "currency": self.currency, "amount_minor": self.amount,
                "method": self.method, "paid_at": self.paid_at.isoformat() if self.paid_at else None,
                "vendor_settled": self.vendor_settled, "reason": self.reason, "entry_id": self.entry_id}


class PaymentEventRow(Base):
    """A vendor webhook event already handled: the vendor's event id makes redelivery a no-op."""

    __tablename__ = "payment_events"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100), default="")
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PaymentCursorRow(Base):
    """Where polling a vendor's event feed stopped (Plaid ``/transfer/event/sync`` ``after_id``)."""

    __tablename__ = "payment_cursors"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

"""The use case behind every payment webhook route and the catch-up poll: verify, dedupe, apply.

Order matters: the vendor's signature is checked on the raw body before anything is parsed or stored; then
the vendor's event id is looked up (a redelivered event changes nothing); then the facts the vendor module
read (a payment, a partial payment, a failed or returned one) are applied to our invoices in the caller's
transaction, and the event id is stored with what happened. A signed delivery is never refused because it
does not match the vendor's published schema: what cannot be read is stored as ``ignored`` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from connector.billing.payments.amounts import AmountError
from connector.billing.payments.record import VendorPayment, VendorReversal, apply_payment, apply_reversal
from connector.platforms import registry
from connector.platforms import settings as platform_settings
from connector.platforms.sender import Sender
from connector.storage.tables.billing import InvoiceRow
from connector.storage.tables.payments import PaymentCursorRow, PaymentEventRow, PaymentRow
from connector.validation import NotFound

Fact = VendorPayment | VendorReversal


@dataclass(frozen=True)
class Delivery:
    """One webhook request as received: the raw body, the headers (names lower-cased) and the full URL."""

    body: bytes
    headers: Mapping[str, str]
    url: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Handled:
    """What one vendor event means for our invoices (``facts``), or why it means nothing (``note``)."""

    event_id: str | None
    event_type: str
    facts: list[Fact] = field(default_factory=list)
    note: str | None = None


@dataclass(frozen=True)
class VendorContext:
    """What a vendor module may use: the tenant's database session, its platform config, the sender, a clock."""

    db: DbSession
    tenant_id: str
    config: Any
    http: Sender
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


class Receiver(Protocol):
    NAME: str

    def receive(self, ctx: VendorContext, delivery: Delivery) -> Handled: ...


# ------------------------------------------------------------------------------------ helpers for vendors


def invoice_by_number(db: DbSession, tenant_id: str, number: str) -> str | None:
    """Our invoice id for our invoice number (``INV-000042``)."""
    return db.scalar(select(InvoiceRow.invoice_id).where(InvoiceRow.tenant_id == tenant_id,
                                                         InvoiceRow.number == number, InvoiceRow.kind == "invoice"))


def invoice_exists(db: DbSession, tenant_id: str, invoice_id: str) -> bool:
    return db.get(InvoiceRow, (tenant_id, invoice_id)) is not None


def recorded_total(db: DbSession, tenant_id: str, platform: str, vendor_invoice: str) -> int:
    """What we recorded from ``platform`` for its invoice ``vendor_invoice`` (payments of any status minus
    reversals): the base a cumulative "amount paid so far" is compared with."""
    rows = db.execute(select(PaymentRow.kind, func.sum(PaymentRow.amount)).where(
        PaymentRow.tenant_id == tenant_id, PaymentRow.platform == platform,
        PaymentRow.vendor_invoice == vendor_invoice).group_by(PaymentRow.kind)).all()
    sums = {kind: int(total or 0) for kind, total in rows}
    return sums.get("payment", 0) - sums.get("reversal", 0)


def standing_refs(db: DbSession, tenant_id: str, platform: str, vendor_invoice: str) -> dict[str, int]:
    """The vendor payment refs recorded for ``vendor_invoice`` and not reversed since, with their amounts."""
    rows = db.execute(select(PaymentRow.kind, PaymentRow.vendor_ref, PaymentRow.amount).where(
        PaymentRow.tenant_id == tenant_id, PaymentRow.platform == platform,
        PaymentRow.vendor_invoice == vendor_invoice)).all()
    reversed_refs = {ref.removesuffix(":reversed") for kind, ref, _ in rows if kind == "reversal"}
    return {ref: amount for kind, ref, amount in rows if kind == "payment" and ref not in reversed_refs}


def cumulative(platform: str, tenant_id: str, db: DbSession, *, invoice_id: str, vendor_invoice: str,
               paid_so_far: int, currency: str, paid_at: datetime, settled: bool,
               method: str | None) -> list[Fact]:
    """A vendor that reports "paid so far" on its invoice: the part we have not recorded yet, as one payment
    keyed on the cumulative amount (the same report twice is the same payment)."""
    delta = paid_so_far - recorded_total(db, tenant_id, platform, vendor_invoice)
    if delta <= 0:
        return []
    return [VendorPayment(platform, invoice_id, f"{vendor_invoice}:{paid_so_far}", delta, currency, paid_at,
                          method, vendor_invoice, settled)]


# ----------------------------------------------------------------------------------------- the use case


def _config(db: DbSession, tenant_id: str, name: str) -> BaseModel | None:
    """The tenant's enabled platform config with secrets resolved; ``NotFound`` when the platform is off."""
    platform = registry.get(name)
    current = platform_settings.effective(db, tenant_id, name)
    if not current.enabled:
        raise NotFound(f"platform '{name}' is not enabled for this tenant")
    return platform_settings.build_config(platform, current)


def apply(db: DbSession, tenant_id: str, facts: list[Fact]) -> list[dict[str, Any]]:
    return [apply_payment(db, tenant_id, f) if isinstance(f, VendorPayment) else apply_reversal(db, tenant_id, f)
            for f in facts]


def seen(db: DbSession, tenant_id: str, platform: str, event_id: str) -> bool:
    return db.get(PaymentEventRow, (tenant_id, platform, event_id[:200])) is not None


def settle(db: DbSession, tenant_id: str, platform: str, handled: Handled) -> dict[str, Any]:
    """Apply one vendor event once (by its id) and remember it. Never commits."""
    if handled.event_id and seen(db, tenant_id, platform, handled.event_id):
        return {"status": "duplicate", "event_id": handled.event_id}
    results = apply(db, tenant_id, handled.facts)
    outcome: dict[str, Any] = {"results": results}
    if handled.note:
        outcome["note"] = handled.note
    if handled.event_id:
        db.add(PaymentEventRow(tenant_id=tenant_id, platform=platform, event_id=handled.event_id[:200],
                               event_type=handled.event_type[:100], outcome=outcome))
        db.flush()
    return {"status": "processed" if results else "ignored", "event_id": handled.event_id,
            "event_type": handled.event_type, **outcome}


def receive_webhook(db: DbSession, tenant_id: str, module: ModuleType, delivery: Delivery, http: Sender,
                    now: Callable[[], datetime] | None = None) -> dict[str, Any]:
    """Verify ``delivery`` with the tenant's settings of ``module``'s platform, then settle it. Never commits.

    Raises ``NotFound`` (platform off: 404), ``SignatureError`` (401), ``RetryableError`` when a vendor read
    failed (the route answers 503 so the vendor redelivers)."""
    config = _config(db, tenant_id, module.NAME)
    ctx = VendorContext(db, tenant_id, config, http, now or (lambda: datetime.now(UTC)))
    try:
        handled: Handled = module.receive(ctx, delivery)
    except AmountError as exc:
        handled = Handled(None, "unreadable", note=str(exc))
    return settle(db, tenant_id, module.NAME, handled)


def load_cursor(db: DbSession, tenant_id: str, platform: str) -> str | None:
    row = db.get(PaymentCursorRow, (tenant_id, platform))
    return None if row is None else row.cursor


def save_cursor(db: DbSession, tenant_id: str, platform: str, cursor: str) -> None:
    row = db.get(PaymentCursorRow, (tenant_id, platform))
    if row is None:
        db.add(PaymentCursorRow(tenant_id=tenant_id, platform=platform, cursor=cursor))
    else:
        row.cursor = cursor
    db.flush()

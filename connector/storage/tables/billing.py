"""Billing tables: invoices + lines, gapless number counters, the append-only journal, account mappings,
and the audit log — all on the shared ``Base`` and keyed by ``tenant_id`` first.

Money columns hold integers in the currency's minor unit (cents for EUR, yen for JPY): exact, summable in
SQL, and the Invoice JSON prints them as strings as they are. Quantities and unit prices keep full
precision as decimal strings (a unit price may be a fraction of a cent).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    Sequence,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from connector.storage.db import Base

OPEN_DRAFT = "status = 'draft' AND kind = 'invoice' AND per_session = false"


def utcnow() -> datetime:
    return datetime.now(UTC)


class InvoiceRow(Base):
    """An invoice or credit note. ``number`` stays NULL until finalized (then gapless per tenant/series)."""

    __tablename__ = "invoices"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    number: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft|finalized|paid|void
    kind: Mapped[str] = mapped_column(String(16), default="invoice")  # invoice|credit_note
    credit_note_of: Mapped[str | None] = mapped_column(String(40))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    per_session: Mapped[bool] = mapped_column(default=False)  # holds one session only, never more lines
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    payment_reference: Mapped[str | None] = mapped_column(String(200))
    net_total: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_total: Mapped[int] = mapped_column(BigInteger, default=0)
    gross_total: Mapped[int] = mapped_column(BigInteger, default=0)
    incentive_total: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_due: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("tenant_id", "number", name="uq_invoices_tenant_number"),
        Index("ix_invoices_tenant_customer_status", "tenant_id", "customer_id", "status"),
        # At most one open collecting draft per (customer, currency): the invariant that lets sessions of a
        # customer with no row to lock (not registered yet) still meet on one draft under concurrency.
        Index("uq_invoices_open_draft", "tenant_id", "customer_id", "currency", unique=True,
              sqlite_where=text(OPEN_DRAFT), postgresql_where=text(OPEN_DRAFT)),
        CheckConstraint("status IN ('draft', 'finalized', 'paid', 'void')", name="status"),
        CheckConstraint("kind IN ('invoice', 'credit_note')", name="kind"),
    )


# PostgreSQL: a session's lines take positions ``nextval * LINE_POSITION_BLOCK + i`` from this sequence, so
# concurrent session ends append to one draft without taking its row lock to read the highest position; a
# session's lines stay together and in order. SQLite has one writer at a time and reads the highest position.
LINE_POSITION_SEQUENCE = Sequence("invoice_line_position_seq", metadata=Base.metadata)
LINE_POSITION_BLOCK = 1024


class InvoiceLineRow(Base):
    """One line as the customer sees it (from ``result.invoice``); ``taxes`` = [{name, rate, compound, amount}]."""

    __tablename__ = "invoice_lines"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    line_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    session_id: Mapped[str | None] = mapped_column(String(64))
    station_id: Mapped[str | None] = mapped_column(String(64))
    # the session's start/end (UTC) and IANA zone: invoices and PDFs show when and where it was charged
    session_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    session_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    session_time_zone: Mapped[str | None] = mapped_column(String(64))
    tariff_id: Mapped[str | None] = mapped_column(String(36))
    customer_class: Mapped[str | None] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))  # charge|price_cap|discount|surcharge|rounding|incentive|credit
    category: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(String(300), default="")
    quantity: Mapped[str] = mapped_column(String(40), default="1")
    unit: Mapped[str] = mapped_column(String(20), default="")
    unit_price: Mapped[str] = mapped_column(String(40), default="0")  # major units, full precision
    net: Mapped[int] = mapped_column(BigInteger, default=0)
    tax: Mapped[int] = mapped_column(BigInteger, default=0)
    gross: Mapped[int] = mapped_column(BigInteger, default=0)
    taxes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # invoiced tax minus the rated tax: what the invoice's VAT policy (per_rate) moved (docs/rating.md)
    vat_rounding: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    credits_line: Mapped[str | None] = mapped_column(String(40))  # credit-note line: the line it credits
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        # with position: the next position of a line is read from the index, not by scanning a large draft
        Index("ix_invoice_lines_tenant_invoice_position", "tenant_id", "invoice_id", "position"),
        # covering for reconciliation: a session's lines with their invoice and amounts, without the rows
        Index("ix_invoice_lines_tenant_session_amounts", "tenant_id", "session_id", "invoice_id", "gross",
              "vat_rounding"),
        CheckConstraint("category IN ('energy', 'time', 'parking', 'fixed', 'reservation', 'adjustment', "
                        "'incentive')", name="category"),
    )


class InvoiceCounterRow(Base):
    """The next number per (tenant, series). Taken with ``UPDATE ... RETURNING`` inside the finalizing
    transaction: the row stays locked until commit and a rollback gives the number back (no gaps)."""

    __tablename__ = "invoice_counters"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    series: Mapped[str] = mapped_column(String(16), primary_key=True)  # INV | CN
    last_value: Mapped[int] = mapped_column(BigInteger, default=0)


class BillingSessionRow(Base):
    """Which invoice billed a session (one row per billed session: the unique key makes billing idempotent
    even if two callers got past the session lock)."""

    __tablename__ = "billed_sessions"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(String(40))
    entry_id: Mapped[str | None] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    amount_due: Mapped[str] = mapped_column(String(40))  # major units, as the rating gave it
    billed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JournalEntryRow(Base):
    """A posted double-entry journal entry. Append-only: corrections are reversing entries."""

    __tablename__ = "journal_entries"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    date: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    currency: Mapped[str] = mapped_column(String(3))
    memo: Mapped[str] = mapped_column(String(300), default="")
    reference: Mapped[str | None] = mapped_column(String(100))  # invoice or session id
    source: Mapped[str] = mapped_column(String(40), default="")  # session.billed | invoice.voided | ...
    reverses: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_journal_entries_tenant_date", "tenant_id", "date"),
                      Index("ix_journal_entries_tenant_reference", "tenant_id", "reference"))


class JournalLineRow(Base):
    """One debit or credit (minor units, never both, never negative)."""

    __tablename__ = "journal_lines"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(40))
    debit: Mapped[int] = mapped_column(BigInteger, default=0)
    credit: Mapped[int] = mapped_column(BigInteger, default=0)
    description: Mapped[str] = mapped_column(String(300), default="")

    __table_args__ = (
        CheckConstraint("debit >= 0 AND credit >= 0 AND (debit = 0 OR credit = 0)", name="one_side"),
    )


class AccountMappingRow(Base):
    """A tenant's override of one account key (``revenue:energy``, ``tax:VAT``, ``accounts_receivable``...);
    keys without a row use the defaults in ``connector.billing.ledger.accounts``."""

    __tablename__ = "account_mappings"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    account: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class AuditLogRow(Base):
    """Who changed what: tariffs, invoices, account mappings (before/after as JSON)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(120), default="system")
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_audit_log_tenant_entity", "tenant_id", "entity", "entity_id"),)


def _append_only(_mapper: Any, _connection: Any, target: Any) -> None:
    raise PermissionError(f"{type(target).__tablename__} is append-only: post a reversing entry instead")


for _cls in (JournalEntryRow, JournalLineRow, AuditLogRow):
    event.listen(_cls, "before_update", _append_only)
    event.listen(_cls, "before_delete", _append_only)

invoices = InvoiceRow.__table__
invoice_lines = InvoiceLineRow.__table__
journal_entries = JournalEntryRow.__table__
journal_lines = JournalLineRow.__table__

"""The API's tables: tenants, API keys, tariffs + versions, customers, sessions + events, idempotency keys.

Every row carries ``tenant_id`` and every primary key starts with it, so a query that forgets the tenant
cannot find another tenant's row by id alone. Billing (``connector.storage.tables.billing``) and events
(``connector.storage.tables.outbox``) add their own tables on the same ``Base``.

Stored documents: a tariff version is the OCPI Tariff JSON as text (``document``, exactly what rating
reads back); a session is the ``Session`` JSON (``document``, plus ingest extras) and its last rating.
Columns next to the documents (station, start, status...) exist for filtering and listing only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from connector.models.documents import RatedSessionJson
from connector.models.limits import (
    CUSTOMER_CLASS_MAX,
    CUSTOMER_ID_MAX,
    CUSTOMER_NAME_MAX,
    EMAIL_MAX,
    EVENT_ID_MAX,
    LOCALE_MAX,
    SESSION_ID_MAX,
    STATION_ID_MAX,
    TARIFF_ID_MAX,
    TAX_REGION_MAX,
    TENANT_ID_MAX,
)
from connector.storage import session_facts
from connector.storage.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class TenantRow(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(TENANT_ID_MAX), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiKeyRow(Base):
    """Only the SHA-256 of a key is stored; ``prefix`` (first characters) lets an operator tell keys apart."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID_MAX), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(200))
    roles: Mapped[str] = mapped_column(String(200), default="")  # space separated, empty = all
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),)


class TariffRow(Base):
    """A tariff id of a tenant; its prices live in the versions."""

    __tablename__ = "tariffs"

    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID_MAX), primary_key=True)
    tariff_id: Mapped[str] = mapped_column(String(TARIFF_ID_MAX), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class TariffVersionRow(Base):
    """One version of a tariff (OCPI Tariff JSON as text). ``effective_at``/``end_at`` mirror the
    document's ``start_date_time``/``end_date_time``; ``policy`` is how running sessions were treated."""

    __tablename__ = "tariff_versions"

    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID_MAX), primary_key=True)
    tariff_id: Mapped[str] = mapped_column(String(TARIFF_ID_MAX), primary_key=True)
    version_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    effective_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    policy: Mapped[str | None] = mapped_column(String(40))
    document: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "tariff_id"], ["tariffs.tenant_id", "tariffs.tariff_id"]),
    )


class CustomerRow(Base):
    __tablename__ = "customers"

    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID_MAX), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(CUSTOMER_ID_MAX), primary_key=True)
    customer_class: Mapped[str] = mapped_column(String(CUSTOMER_CLASS_MAX), default="public")
    tax_region: Mapped[str | None] = mapped_column(String(TAX_REGION_MAX))
    tax_exempt: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str | None] = mapped_column(String(CUSTOMER_NAME_MAX))
    email: Mapped[str | None] = mapped_column(String(EMAIL_MAX))
    locale: Mapped[str] = mapped_column(String(LOCALE_MAX), default="en_US")
    invoice_per_session: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.customer_id, "customer_class": self.customer_class, "tax_region": self.tax_region,
            "tax_exempt": bool(self.tax_exempt), "name": self.name, "email": self.email, "locale": self.locale,
            "invoice_per_session": bool(self.invoice_per_session),
        }


RECON_INDEX = ("tenant_id", "recon_kind", "start_at", "time_zone", "station_id", "tariff_id", "rated_class",
               "rated_currency", "due_minor", "rated_energy", "energy_key", "session_id")


class SessionRow(Base):
    """A charging session: ``document`` is the ``Session`` JSON (+ ingest extras), ``rating`` the last
    ``RatedSession.to_dict()``. ``status``: active | ended | rated | billed."""

    __tablename__ = "sessions"

    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID_MAX), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(SESSION_ID_MAX), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    rating: Mapped[RatedSessionJson | None] = mapped_column(JSON)
    station_id: Mapped[str | None] = mapped_column(String(STATION_ID_MAX))
    customer_id: Mapped[str | None] = mapped_column(String(CUSTOMER_ID_MAX))
    tariff_id: Mapped[str | None] = mapped_column(String(TARIFF_ID_MAX))
    start_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    # derived from document + rating on every write (connector.storage.session_facts): what a set-based
    # reconciliation sums and compares, as exact integers (money in minor units, energy in 1e-6 kWh)
    time_zone: Mapped[str | None] = mapped_column(String(session_facts.TIME_ZONE_MAX))
    energy_key: Mapped[str | None] = mapped_column(String(session_facts.ENERGY_KEY_MAX))
    rated_energy: Mapped[int | None] = mapped_column(BigInteger)
    due_minor: Mapped[int | None] = mapped_column(BigInteger)
    rated_currency: Mapped[str | None] = mapped_column(String(3))
    rated_class: Mapped[str | None] = mapped_column(String(session_facts.CLASS_MAX))
    recon_kind: Mapped[int] = mapped_column(SmallInteger, default=session_facts.PER_SESSION,
                                            server_default=text("0"))

    __table_args__ = (
        Index("ix_sessions_tenant_start", "tenant_id", "start_at"),
        # with start and id: the duplicate-session check reads its first few candidates straight from the index
        Index("ix_sessions_tenant_station_start", "tenant_id", "station_id", "start_at", "session_id"),
        # covering index of the set-based reconciliation: its scans read this, never the wide document rows
        Index("ix_sessions_recon", *RECON_INDEX),
    )


def _derive_facts(_mapper: Any, _connection: Any, target: SessionRow) -> None:
    for key, value in session_facts.derive(target.document, target.rating, target.start_at,
                                           target.tariff_id).items():
        setattr(target, key, value)


event.listen(SessionRow, "before_insert", _derive_facts)
event.listen(SessionRow, "before_update", _derive_facts)


class SessionEventRow(Base):
    """The event log: one row per (tenant, event_id); the unique constraint is what makes ingest idempotent."""

    __tablename__ = "session_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID_MAX))
    event_id: Mapped[str] = mapped_column(String(EVENT_ID_MAX))
    session_id: Mapped[str] = mapped_column(String(SESSION_ID_MAX))
    type: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(40), default="api")
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        UniqueConstraint("tenant_id", "event_id", name="uq_session_events_tenant_event"),
        Index("ix_session_events_tenant_session", "tenant_id", "session_id"),
    )


class IdempotencyKeyRow(Base):
    """A POST with ``Idempotency-Key``: the request's hash and, once done, the stored response."""

    __tablename__ = "idempotency_keys"

    tenant_id: Mapped[str] = mapped_column(String(TENANT_ID_MAX), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)  # None while the first request runs
    response_body: Mapped[str | None] = mapped_column(Text)
    response_headers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# Table objects for Core-style queries (billing joins on these).
tenants = TenantRow.__table__
api_keys = ApiKeyRow.__table__
tariffs = TariffRow.__table__
tariff_versions = TariffVersionRow.__table__
customers = CustomerRow.__table__
sessions = SessionRow.__table__
session_events = SessionEventRow.__table__
idempotency_keys = IdempotencyKeyRow.__table__

"""OCPI 2.2.1 roaming partners and what was pushed to them.

``ocpi_partners``: one row per partner of a tenant. The token the partner calls us with (token A while
invited, then token C) is kept only as its SHA-256 (like API keys); the token we call the partner with is
needed in clear to send, so it is kept Fernet-encrypted (key ``EVBILL_TOKEN_KEY``). ``endpoints`` is the
partner's version-details endpoint list, as it answered. ``ocpi_pushes``: one row per object pushed to one
partner, so a retried outbox delivery does not send a CDR twice to a partner that already has it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from connector.storage.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class OcpiPartnerRow(Base):
    """A roaming partner: ``status`` is ``invited`` (token A issued), ``registered`` or ``unregistered``."""

    __tablename__ = "ocpi_partners"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    country_code: Mapped[str | None] = mapped_column(String(2))
    party_id: Mapped[str | None] = mapped_column(String(3))
    roles: Mapped[list[Any]] = mapped_column(JSON, default=list)
    versions_url: Mapped[str | None] = mapped_column(String(255))
    endpoints: Mapped[list[Any]] = mapped_column(JSON, default=list)
    inbound_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    outbound_token: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class OcpiPushRow(Base):
    """One object (``cdr:<id>``, ``tariff:<id>@<version>``) delivered to one partner."""

    __tablename__ = "ocpi_pushes"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    object_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

"""Ingest-side state: the OCPP station registry and the cursors of scheduled importers.

``ocpp_stations``: who may connect to ``evbill csms`` and how (OCPP security profile 1, 2 or 3). Only a
scrypt hash of a station's Basic-auth password is kept (``connector.security.passwords``); a CSMS-initiated
password rotation is requested by setting ``rotation_requested_at`` and the new password never reaches the
database in clear. ``session_fields`` are the Session fields every transaction of the station starts with
(``time_zone``, ``location_id``, ``tariff_id``, ``currency``, ``customer_id``).

``ingest_cursors``: how far a polling importer (ChargePoint's SOAP API) has read, per tenant and source,
so the next run asks only for what is new.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from connector.storage.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class OcppStationRow(Base):
    __tablename__ = "ocpp_stations"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(48), primary_key=True)  # OCPP identity (URL path, Basic user)
    security_profile: Mapped[int] = mapped_column(Integer, default=1)
    password_hash: Mapped[str | None] = mapped_column(String(200))  # profiles 1 and 2; None for profile 3
    session_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rotation_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IngestCursorRow(Base):
    __tablename__ = "ingest_cursors"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)  # e.g. "chargepoint"
    cursor: Mapped[str] = mapped_column(Text)  # the source's own position (an ISO instant for ChargePoint)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

"""Per-tenant platform configuration: one row per (tenant, platform adapter).

``config`` holds the adapter's ``Config`` fields; secrets are stored as references (``env:VAR``) and
resolved at send time (``connector.platforms.settings``), so the database never holds a vendor key in
clear. ``field_mapping`` holds the tenant's accounts, tax codes and item codes for the adapter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from connector.storage.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class PlatformConfigRow(Base):
    __tablename__ = "platform_configs"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    field_mapping: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

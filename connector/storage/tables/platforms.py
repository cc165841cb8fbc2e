"""Per-tenant platform configuration: one row per (tenant, platform adapter).

``config`` holds the adapter's ``Config`` fields; secrets are stored as references (``env:VAR``) and
resolved at send time (``connector.platforms.settings``), so the database never holds a vendor key in
clear. ``field_mapping`` holds the tenant's accounts, tax codes and item codes for the adapter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, DateTime, Integer, String, Table, Text, UniqueConstraint
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


# Adapter-owned tables (Core tables, migrated by 0004): dedupe and token stores the adapters keep.

# OAuth: the newest rotated refresh token of each consent, encrypted (connector.platforms.oauth)
oauth_refresh_tokens = Table(
    "platform_oauth_refresh_tokens", Base.metadata,
    Column("consent", String(64), primary_key=True),  # sha256(token_url, client_id, configured refresh token)
    Column("ciphertext", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Jira: one ticket per anomaly fingerprint
jira_anomaly_tickets = Table(
    "platform_jira_anomaly_tickets", Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("project_key", String(16), nullable=False),
    Column("fingerprint", String(200), nullable=False),
    Column("issue_key", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant_id", "project_key", "fingerprint", name="uq_jira_anomaly_ticket"),
)

# Slack: the daily digest's items and posts
slack_digest_items = Table(
    "platform_slack_digest_items", Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("target", String(200), nullable=False),
    Column("day", String(10), nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("item", Text, nullable=False),
    UniqueConstraint("tenant_id", "target", "event_id", name="uq_slack_digest_item_event"),
)
slack_digests = Table(
    "platform_slack_digests", Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("target", String(200), nullable=False),
    Column("day", String(10), nullable=False),
    Column("status", String(16), nullable=False),  # sending | sent
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("ts", String(64)),
    UniqueConstraint("tenant_id", "target", "day", name="uq_slack_digest_day"),
)

# SAP Concur: one Quick Expense per session
concur_quick_expenses = Table("concur_quick_expenses", Base.metadata,
                 Column("tenant_id", String(64), primary_key=True),
                 Column("session_id", String(64), primary_key=True),
                 Column("uri", String(500), nullable=False),
                 Column("created_at", DateTime(timezone=True), nullable=False))

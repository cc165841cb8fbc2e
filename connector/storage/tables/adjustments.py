"""Tables of interim billing, re-rating and the adjustments engine (promotions, rules, incentive usage).

Why separate tables (not columns on ``sessions``): ingest rewrites the session document on every event, and
billing state must survive that; each row carries ``tenant_id`` first in its key like the API's tables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connector.models.documents import RatedSessionJson
from connector.storage.db import Base

DEFAULT_INTERIM_INTERVAL_MINUTES = 15
# Money as decimal text: exact on SQLite too (its NUMERIC is a float), compared/summed in Python.
MONEY = String(40)


def utcnow() -> datetime:
    return datetime.now(UTC)


class BillingSettingsRow(Base):
    """Per-operator billing settings: interim interval and the adjustment rules (validated JSON, see
    ``connector.billing.pricing.adjustments.BillingRules``)."""

    __tablename__ = "billing_settings"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    interim_interval_minutes: Mapped[int] = mapped_column(Integer, default=DEFAULT_INTERIM_INTERVAL_MINUTES)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class SessionInterimRow(Base):
    """The latest interim figure of an open session (what the driver last saw)."""

    __tablename__ = "session_interims"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    currency: Mapped[str] = mapped_column(String(3))
    amount_due: Mapped[str] = mapped_column(MONEY)
    rating: Mapped[RatedSessionJson] = mapped_column(JSON)
    count: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class SessionRerateRow(Base):
    """One re-rating of one session: before/after ratings and the difference (never overwritten)."""

    __tablename__ = "session_rerates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(64))
    tariff_id: Mapped[str | None] = mapped_column(String(36))
    version_no: Mapped[int | None] = mapped_column(Integer)
    policy: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(16))  # changed | unchanged | corrected | error
    reason: Mapped[str | None] = mapped_column(Text)
    before: Mapped[RatedSessionJson | None] = mapped_column(JSON)
    after: Mapped[RatedSessionJson | None] = mapped_column(JSON)
    difference_net: Mapped[str] = mapped_column(MONEY, default="0")
    difference_gross: Mapped[str] = mapped_column(MONEY, default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_session_rerates_tenant_session", "tenant_id", "session_id"),)


class PromotionRow(Base):
    """A promo code: percentage or fixed discount, validity window, usage limits, customer classes."""

    __tablename__ = "promotions"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # percent | fixed
    value: Mapped[str] = mapped_column(MONEY)
    valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    max_uses: Mapped[int | None] = mapped_column(Integer)
    max_uses_per_customer: Mapped[int | None] = mapped_column(Integer)
    customer_classes: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PromotionRedemptionRow(Base):
    """A code applied to one session; counted against the usage limits when it is made."""

    __tablename__ = "promotion_redemptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    redeemed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        UniqueConstraint("tenant_id", "code", "session_id", name="uq_promotion_redemptions_code_session"),
        Index("ix_promotion_redemptions_tenant_session", "tenant_id", "session_id"),
    )


class IncentiveUsageRow(Base):
    """Incentive granted to a customer for one billed session: the state behind the monthly cap and the
    authority report (``month`` = YYYY-MM of the session start in the session's time zone)."""

    __tablename__ = "incentive_usage"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    month: Mapped[str] = mapped_column(String(7))
    currency: Mapped[str] = mapped_column(String(3))
    energy_kwh: Mapped[str] = mapped_column(MONEY)
    amount: Mapped[str] = mapped_column(MONEY)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_incentive_usage_tenant_month", "tenant_id", "month", "customer_id"),)


class TariffRerateRunRow(Base):
    """One re-rating run of a tariff version and the instant it rated up to: the scheduler re-runs a version
    published ahead of its effective time once that time has passed (the split only shows then)."""

    __tablename__ = "tariff_rerate_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    tariff_id: Mapped[str] = mapped_column(String(36))
    version_no: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_tariff_rerate_runs_version", "tenant_id", "tariff_id", "version_no"),)

"""Tables of reconciliation runs and billing anomalies (per-tenant rule thresholds, detected anomalies).

A reconciliation keeps its whole report as JSON: it is a snapshot of a moment (later billing must not change
an old report), read back as a whole by the API and the exports. An anomaly's primary key is its
deterministic id, so detecting the same anomaly twice (two billing runs, a rerun reconciliation) finds the
row and emits nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from connector.storage.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class ReconciliationRow(Base):
    """One reconciliation run: period as local dates (inclusive), stations (None = all), report JSON."""

    __tablename__ = "reconciliations"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reconciliation_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # daily | monthly
    period: Mapped[str] = mapped_column(String(10))  # 2026-01-13 | 2026-01
    period_start: Mapped[str] = mapped_column(String(10))
    period_end: Mapped[str] = mapped_column(String(10))
    stations: Mapped[list[str] | None] = mapped_column(JSON)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_reconciliations_tenant_period", "tenant_id", "kind", "period"),)


class AnomalyRow(Base):
    """A detected anomaly (the ``billing.anomaly`` event's ``Anomaly`` JSON, kept for GET /v1/anomalies)."""

    __tablename__ = "anomalies"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    anomaly_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    rule: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(16))
    session_id: Mapped[str | None] = mapped_column(String(64))
    station_id: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(String(500))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        Index("ix_anomalies_tenant_created", "tenant_id", "created_at"),
        Index("ix_anomalies_tenant_session", "tenant_id", "session_id"),
    )

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.anomaly_id, "rule": self.rule, "severity": self.severity,
                "session_id": self.session_id, "station_id": self.station_id, "message": self.message,
                "details": self.details or {}}


class AnomalyRulesRow(Base):
    """A tenant's anomaly thresholds (``connector.billing.anomalies.Thresholds`` JSON); no row = defaults."""

    __tablename__ = "anomaly_rules"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


reconciliations = ReconciliationRow.__table__
anomalies = AnomalyRow.__table__
anomaly_rules = AnomalyRulesRow.__table__

"""Government incentive state: what each customer got per month (for the cap), and the authority report.

Why derived from billed sessions: the incentive amount is what the rating core put on the final bill
(``invoice.incentive_total`` of the stored rating); ``sync_usage`` copies it into ``incentive_usage`` once
per session, so the cap works whoever billed the session and the report reads one table.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from connector.models import Session
from connector.rating.periods import zone
from connector.storage import inserts, repo
from connector.storage.tables.adjustments import IncentiveUsageRow
from connector.storage.tables.core import SessionRow
from connector.validation import FieldError


class MonthError(FieldError):
    def __init__(self, value: str) -> None:
        super().__init__("month", f"'{value}' is not YYYY-MM")


def parse_month(value: str) -> str:
    try:
        datetime.strptime(value, "%Y-%m")
    except (TypeError, ValueError) as exc:
        raise MonthError(str(value)) from exc
    if len(value) != 7:
        raise MonthError(value)
    return value


def month_of(session: Session) -> str:
    """The month a session counts in: its start in its own time zone (the driver's calendar)."""
    return session.start.astimezone(zone(session.time_zone)).strftime("%Y-%m")


def sync_usage(db: DbSession, tenant_id: str, customer_id: str | None = None) -> int:
    """Record the incentive of every billed session not yet in ``incentive_usage``; returns how many."""
    known = select(IncentiveUsageRow.session_id).where(IncentiveUsageRow.tenant_id == tenant_id)
    query = select(SessionRow).where(SessionRow.tenant_id == tenant_id, SessionRow.status == "billed",
                                     SessionRow.customer_id.is_not(None), SessionRow.session_id.not_in(known))
    if customer_id is not None:
        query = query.where(SessionRow.customer_id == customer_id)
    added = 0
    for row in db.scalars(query):
        rating: Mapping[str, Any] = row.rating or {}
        amount = Decimal(str((rating.get("invoice") or {}).get("incentive_total") or "0"))
        if amount <= 0:
            continue
        tz = str(rating.get("time_zone") or row.document.get("time_zone") or "UTC")
        start = repo.aware(row.start_at) or datetime.fromisoformat(str(rating["start"]))
        inserts.insert_new(db, IncentiveUsageRow, {
            "tenant_id": tenant_id, "session_id": row.session_id, "customer_id": row.customer_id,
            "month": start.astimezone(zone(tz)).strftime("%Y-%m"), "currency": str(rating.get("currency") or ""),
            "energy_kwh": str(rating.get("total_energy") or "0"), "amount": str(amount),
            "created_at": datetime.now(UTC),
        })
        added += 1
    return added


def used_amount(db: DbSession, tenant_id: str, customer_id: str, month: str, exclude_session: str | None = None
                ) -> Decimal:
    """Incentive already granted to the customer in ``month`` (other sessions only)."""
    sync_usage(db, tenant_id, customer_id)
    query = select(IncentiveUsageRow.amount).where(
        IncentiveUsageRow.tenant_id == tenant_id, IncentiveUsageRow.customer_id == customer_id,
        IncentiveUsageRow.month == month)
    if exclude_session is not None:
        query = query.where(IncentiveUsageRow.session_id != exclude_session)
    return sum((Decimal(v) for v in db.scalars(query)), Decimal(0))


def incentive_report(db: DbSession, tenant_id: str, month: str) -> dict[str, Any]:
    """Per customer and currency: sessions, kWh, incentive granted in ``month`` (for the authority)."""
    parse_month(month)
    sync_usage(db, tenant_id)
    rows = db.scalars(select(IncentiveUsageRow).where(
        IncentiveUsageRow.tenant_id == tenant_id, IncentiveUsageRow.month == month
    ).order_by(IncentiveUsageRow.customer_id, IncentiveUsageRow.session_id)).all()
    per: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        item = per.setdefault((r.customer_id, r.currency), {
            "customer_id": r.customer_id, "currency": r.currency, "sessions": 0,
            "energy_kwh": Decimal(0), "amount": Decimal(0)})
        item["sessions"] += 1
        item["energy_kwh"] += Decimal(r.energy_kwh)
        item["amount"] += Decimal(r.amount)
    customers = [{**v, "energy_kwh": format(v["energy_kwh"], "f"), "amount": format(v["amount"], "f")}
                 for v in per.values()]
    totals: dict[str, Decimal] = {}
    for v in per.values():
        totals[v["currency"]] = totals.get(v["currency"], Decimal(0)) + v["amount"]
    return {"tenant_id": tenant_id, "month": month, "customers": customers,
            "totals": {c: format(a, "f") for c, a in totals.items()},
            "sessions": [{"session_id": r.session_id, "customer_id": r.customer_id, "currency": r.currency,
                          "energy_kwh": r.energy_kwh, "amount": r.amount} for r in rows]}


def report_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["month", "customer_id", "currency", "sessions", "energy_kwh", "amount"])
    for c in report["customers"]:
        writer.writerow([report["month"], c["customer_id"], c["currency"], c["sessions"], c["energy_kwh"], c["amount"]])
    return out.getvalue()


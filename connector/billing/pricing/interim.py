"""Interim billing: the running cost of every open session, from the same ``rate()`` call as the final bill.

Why the interval check lives here and not in the scheduler: the scheduler ticks every minute for all
operators; each operator's ``interim_interval_minutes`` decides whether a session is due, so an API call,
the CLI and the job all behave the same.

One bad session never stops a tenant's run: a session whose rating fails (a refusal, or a value the core
cannot compute) becomes an ``error`` row of the result and a ``rating_failure`` anomaly; the others are
rated and emitted as usual. Only a database failure stops the run.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session as DbSession

from connector.billing import anomalies
from connector.billing.pricing.adjustments import get_settings
from connector.billing.pricing.inputs import BatchCache, rate_row
from connector.events.outbox import emit
from connector.models.session_event import IngestError
from connector.money import money_str
from connector.rating import RatingError
from connector.storage import repo
from connector.storage.tables.adjustments import SessionInterimRow
from connector.storage.tables.core import SessionRow
from connector.validation import FieldError, NotFound

LOG = logging.getLogger("connector.billing.interim")


class AsOfError(FieldError):
    def __init__(self, reason: str) -> None:
        super().__init__("as_of", reason)


def session_json(row: SessionRow) -> dict[str, Any]:
    """The session part of an event: the stored document without internal keys."""
    doc = {k: v for k, v in row.document.items() if k not in ("status", "tenant_id")}
    return {"id": row.session_id, "status": row.status, **{k: v for k, v in doc.items() if k != "id"}}


def latest_interim(db: DbSession, tenant_id: str, session_id: str) -> SessionInterimRow | None:
    return db.get(SessionInterimRow, (tenant_id, session_id))


def run_interim(db: DbSession, tenant_id: str, as_of: datetime, force: bool = False) -> list[dict[str, Any]]:
    """Rate every active session as of ``as_of``; store + emit ``session.interim`` for those whose last
    interim is at least the operator's interval old (all of them with ``force``)."""
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise AsOfError("must carry a time zone offset")
    interval = timedelta(minutes=get_settings(db, tenant_id).interim_interval_minutes)
    rows = db.scalars(select(SessionRow).where(
        SessionRow.tenant_id == tenant_id, SessionRow.status == "active", SessionRow.end_at.is_(None)
    ).order_by(SessionRow.start_at, SessionRow.session_id)).all()
    latest = {r.session_id: r for r in db.scalars(select(SessionInterimRow).join(SessionRow, and_(
        SessionRow.tenant_id == SessionInterimRow.tenant_id, SessionRow.session_id == SessionInterimRow.session_id)
    ).where(SessionInterimRow.tenant_id == tenant_id, SessionRow.status == "active", SessionRow.end_at.is_(None)))}
    due = [row for row in rows if _due(row, latest.get(row.session_id), as_of, interval, force)]
    cache = BatchCache.load(db, tenant_id, due)
    out: list[dict[str, Any]] = []
    for row in due:
        previous = latest.get(row.session_id)
        try:
            with db.no_autoflush:  # reads only: the rows written so far need no flush before them
                rated = rate_row(db, tenant_id, row, as_of, cache)
        except (RatingError, IngestError) as exc:
            out.append(_failed(db, tenant_id, row, exc.field, exc.reason))
            continue
        except SQLAlchemyError:
            raise
        except Exception as exc:  # noqa: BLE001 - this session only: the others still get their figure
            LOG.warning("interim rating of %s/%s failed", tenant_id, row.session_id, exc_info=True)
            out.append(_failed(db, tenant_id, row, "session", f"could not be rated ({type(exc).__name__})"))
            continue
        rating = rated.to_dict()
        amount = money_str(rated.invoice.amount_due, rated.currency)
        if previous is None:
            db.add(SessionInterimRow(tenant_id=tenant_id, session_id=row.session_id, as_of=as_of,
                                     currency=rated.currency, amount_due=amount, rating=rating, count=1))
        else:
            previous.as_of, previous.currency, previous.amount_due = as_of, rated.currency, amount
            previous.rating, previous.count = rating, previous.count + 1
        event = emit(db, tenant_id, "session.interim",
                     {"session": session_json(row), "rating": rating, "as_of": as_of.isoformat()})
        out.append({"session_id": row.session_id, "status": "emitted", "as_of": as_of.isoformat(),
                    "currency": rated.currency, "amount_due": amount,
                    "total_cost": rated.total_cost.to_dict(), "event_id": event["id"]})
    return out


def _failed(db: DbSession, tenant_id: str, row: SessionRow, field: str, reason: str) -> dict[str, Any]:
    """The error row of a session that could not be rated, recorded once as a ``rating_failure`` anomaly."""
    anomalies.record_rating_failure(db, tenant_id, row.session_id, row.station_id, field, reason)
    return {"session_id": row.session_id, "status": "error", "error": {"field": field, "reason": reason}}


def _due(row: SessionRow, previous: SessionInterimRow | None, as_of: datetime, interval: timedelta,
         force: bool) -> bool:
    start = repo.aware(row.start_at)
    if start is not None and as_of < start:
        return False  # not started yet as of that instant
    if force or previous is None:
        return True
    return as_of - repo.aware(previous.as_of) >= interval


def interim_cost(db: DbSession, tenant_id: str, session_id: str, as_of: datetime) -> Decimal | None:
    """Amount due so far of one open session (what an OCPP 2.0.1 ``CostUpdated`` shows); None when ended."""
    row = repo.get_session_row(db, tenant_id, session_id)
    if row is None:
        raise NotFound(f"session '{session_id}' does not exist")
    if row.end_at is not None or row.status != "active":
        return None
    return rate_row(db, tenant_id, row, as_of).invoice.amount_due

"""Delivery rows: claiming with a lease, recording outcomes, backoff, listing and redelivery by hand.

Claiming is safe with several workers: on PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED``; on SQLite
(one writer at a time) a conditional ``UPDATE ... WHERE status is still claimable``. A claim sets
``locked_until``; a worker killed mid-delivery leaves the row ``sending`` and the next worker re-claims it
once the lease has expired, so nothing is lost. Outcomes are written only while the claim is still ours
(``lease_owner``), so a slow worker cannot overwrite a newer attempt.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, overload

from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from connector.events.envelope import iso
from connector.storage.tables.outbox import DELIVERY_STATUSES, DeliveryRow
from connector.validation import Conflict, NotFound


class Policy(BaseModel):
    """Retry policy: exponential backoff with full jitter, ``max_attempts`` then ``dead``; how many
    deliveries run at once; when a target's circuit breaker opens (``connector.events.breaker``)."""

    max_attempts: int = Field(default=10, ge=1, le=100)
    base_delay: float = Field(default=5.0, gt=0)
    max_delay: float = Field(default=3600.0, gt=0)
    lease_seconds: float = Field(default=120.0, gt=0)
    batch: int = Field(default=100, ge=1, le=10_000)
    concurrency: int = Field(default=8, ge=1, le=256)  # deliveries in flight per worker
    per_target: int = Field(default=4, ge=1, le=256)  # of which to one webhook subscription
    breaker_failures: int = Field(default=3, ge=1, le=1000)  # consecutive retryable failures that open it
    breaker_cooldown: float = Field(default=60.0, gt=0)  # seconds a lane is left alone once open


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
@overload
def aware(value: datetime | None) -> datetime | None: ...
def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything here is stored in UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def backoff(attempts: int, policy: Policy, retry_after: float | None, rng: random.Random) -> float:
    """Seconds until the next attempt: the vendor's ``Retry-After`` when given, else full jitter
    ``uniform(0, min(max_delay, base * 2**(attempts-1)))`` (spreads a burst of failures over time)."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), policy.max_delay)
    return rng.uniform(0.0, min(policy.max_delay, policy.base_delay * 2 ** max(attempts - 1, 0)))


def _claimable(now: datetime) -> Any:
    return or_(and_(DeliveryRow.status == "pending", DeliveryRow.next_attempt_at <= now),
               and_(DeliveryRow.status == "sending", DeliveryRow.locked_until < now))


def claim(db: Session, now: datetime, policy: Policy) -> list[DeliveryRow]:
    """Claim up to ``policy.batch`` due rows for this worker and commit the claim."""
    owner = uuid.uuid4().hex
    until = now + timedelta(seconds=policy.lease_seconds)
    query = (select(DeliveryRow).where(_claimable(now))
             .order_by(DeliveryRow.next_attempt_at, DeliveryRow.id).limit(policy.batch))
    claimed: list[str] = []
    if db.get_bind().dialect.name == "postgresql":
        for row in db.scalars(query.with_for_update(skip_locked=True)).all():
            row.status, row.locked_until, row.lease_owner = "sending", until, owner
            row.attempts = (row.attempts or 0) + 1
            claimed.append(row.id)
    else:
        for row_id in db.scalars(query.with_only_columns(DeliveryRow.id)).all():
            done = db.execute(update(DeliveryRow).where(DeliveryRow.id == row_id, _claimable(now)).values(
                status="sending", locked_until=until, lease_owner=owner, attempts=DeliveryRow.attempts + 1,
                updated_at=now).execution_options(synchronize_session=False))
            if done.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(row_id)
    db.commit()
    if not claimed:
        return []
    return list(db.scalars(select(DeliveryRow).where(DeliveryRow.id.in_(claimed), DeliveryRow.lease_owner == owner)
                           .order_by(DeliveryRow.next_attempt_at, DeliveryRow.id)))


def renew(db: Session, owner: str, now: datetime, policy: Policy) -> set[str]:
    """Extend every row this claim still holds by a full lease (one UPDATE, commits) and return their ids.

    Called while working through a batch, so rows late in a slow batch are not re-claimed by another
    worker; a row missing from the result was re-claimed already and must be skipped."""
    db.execute(update(DeliveryRow).where(DeliveryRow.lease_owner == owner, DeliveryRow.status == "sending")
               .values(locked_until=now + timedelta(seconds=policy.lease_seconds))
               .execution_options(synchronize_session=False))
    db.commit()
    return set(db.scalars(select(DeliveryRow.id).where(DeliveryRow.lease_owner == owner,
                                                       DeliveryRow.status == "sending")))


def finish(db: Session, row: DeliveryRow, **values: Any) -> bool:
    """Write the outcome if the claim is still ours; commit. False = lease lost to another worker."""
    done = db.execute(update(DeliveryRow).where(DeliveryRow.id == row.id, DeliveryRow.lease_owner == row.lease_owner,
                                                DeliveryRow.status == "sending")
                      .values(locked_until=None, lease_owner=None, **values)
                      .execution_options(synchronize_session=False))  # no scan of the identity map
    db.commit()
    return done.rowcount == 1  # type: ignore[attr-defined]


def public(row: DeliveryRow) -> dict[str, Any]:
    """The API shape of a delivery (no secrets are ever stored on it)."""
    return {"id": row.id, "event_id": row.event_id, "target": row.target, "status": row.status,
            "attempts": row.attempts, "next_attempt_at": iso(aware(row.next_attempt_at))
            if row.status == "pending" and row.next_attempt_at else None,
            "last_error": row.last_error, "result": row.result, "idempotency_key": row.idempotency_key,
            "created_at": iso(aware(row.created_at)) if row.created_at else None,
            "updated_at": iso(aware(row.updated_at)) if row.updated_at else None}


def list_deliveries(db: Session, tenant_id: str, status: str | None = None, event_id: str | None = None,
                    limit: int = 100) -> dict[str, Any]:
    if status is not None and status not in DELIVERY_STATUSES:
        from connector.events.envelope import EventError

        raise EventError("status", f"one of {list(DELIVERY_STATUSES)}")
    query = select(DeliveryRow).where(DeliveryRow.tenant_id == tenant_id)
    if status:
        query = query.where(DeliveryRow.status == status)
    if event_id:
        query = query.where(DeliveryRow.event_id == event_id)
    rows = db.scalars(query.order_by(DeliveryRow.created_at.desc(), DeliveryRow.id).limit(limit))
    return {"items": [public(r) for r in rows]}


def redeliver(db: Session, tenant_id: str, delivery_id: str, now: datetime | None = None) -> dict[str, Any]:
    """Put a dead or failed delivery back in the queue with a fresh attempt budget (no commit).

    ``NotFound`` when the tenant has no such delivery; ``Conflict`` when it is not dead/failed
    (a sent one would be sent twice; a pending/sending one is already queued)."""
    row = db.get(DeliveryRow, delivery_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound(f"delivery {delivery_id} not found")
    if row.status not in ("dead", "failed"):
        raise Conflict(f"delivery {delivery_id} is {row.status}; only dead or failed ones are redelivered")
    row.status, row.attempts, row.next_attempt_at = "pending", 0, now or datetime.now(UTC)
    row.locked_until = row.lease_owner = None
    db.flush()
    return public(row)


def get_delivery(db: Session, tenant_id: str, delivery_id: str) -> dict[str, Any]:
    row = db.get(DeliveryRow, delivery_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound(f"delivery {delivery_id} not found")
    return public(row)

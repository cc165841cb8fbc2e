"""Fan-out: one ``outbox_deliveries`` row per (event, target) for committed events not yet fanned out.

Targets: the tenant's webhook subscriptions that want the type (``webhook:<id>``) and its enabled platforms
whose ``EVENTS`` include it (``platform:<name>``). The unique (event_id, target) pair makes a repeated or
concurrent fan-out harmless; ``events.fanned_out`` keeps the scan to new events.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.events import subscriptions
from connector.platforms import settings
from connector.platforms.registry import Platform
from connector.storage.tables.outbox import DeliveryRow, EventRow


def targets_for(db: Session, event: EventRow, platforms: dict[str, Platform],
                cache: dict[tuple[str, str], list[str]] | None = None) -> list[str]:
    """Targets of one event; ``cache`` (per pass) keeps it to a few queries per tenant and type."""
    key = (event.tenant_id, event.type)
    if cache is not None and key in cache:
        return cache[key]
    hooks = [f"webhook:{s.id}" for s in subscriptions.matching(db, event.tenant_id, event.type)]
    adapters = [f"platform:{name}" for name, p in sorted(platforms.items())
                if event.type in p.events and settings.effective(db, event.tenant_id, name).enabled]
    if cache is not None:
        cache[key] = hooks + adapters
    return hooks + adapters


def webhook_key(event_id: str, target: str) -> str:
    """Stable per event and subscription: what a receiver dedupes redeliveries on."""
    return f"{event_id}:{target}"


def fan_out(db: Session, now: datetime, platforms: dict[str, Platform], batch: int) -> tuple[int, int]:
    """(events fanned out, delivery rows created); commits."""
    query = (select(EventRow).where(EventRow.fanned_out.is_(False))
             .order_by(EventRow.created_at, EventRow.id).limit(batch))
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    events = db.scalars(query).all()
    created = taken = 0
    cache: dict[tuple[str, str], list[str]] = {}
    try:
        for event in events:
            # take the event first: on SQLite this write waits for a concurrent fan-out to commit, then
            # finds the event already taken (rowcount 0); on PostgreSQL the row is ours (SKIP LOCKED)
            took = db.execute(update(EventRow).where(EventRow.id == event.id, EventRow.fanned_out.is_(False))
                              .values(fanned_out=True).execution_options(synchronize_session=False))
            if took.rowcount != 1:  # type: ignore[attr-defined]
                continue
            taken += 1
            existing = set(db.scalars(select(DeliveryRow.target).where(DeliveryRow.event_id == event.id)))
            for target in targets_for(db, event, platforms, cache):
                if target in existing:
                    continue
                db.add(DeliveryRow(id=f"dlv_{uuid.uuid4().hex}", event_id=event.id, tenant_id=event.tenant_id,
                                   target=target, status="pending", attempts=0, next_attempt_at=now,
                                   idempotency_key=webhook_key(event.id, target)
                                   if target.startswith("webhook:") else None, created_at=now, updated_at=now))
                created += 1
        db.commit()
    except IntegrityError:  # another worker fanned the same event out first: theirs stand
        db.rollback()
        return 0, 0
    return taken, created

"""Retention: keep the outbox and the API's idempotency records bounded (``evbill outbox prune``).

What goes, in bounded batches (one short transaction each, safe while workers and the API run):

* an event older than the cut-off that the worker has fanned out and whose deliveries are ALL ``sent``
  (and none of them changed after the cut-off), or that has no delivery at all, with its delivery rows.
  An event with a ``pending``/``sending``/``failed``/``dead`` delivery is kept: it is in flight or needs
  an operator (redelivery). An event not yet fanned out is kept (its deliveries do not exist yet).
* a completed idempotency record (``status_code`` set) older than its cut-off (default 24 h). A record
  still in progress (``status_code`` NULL) is never removed: its request owns the key.

What stays, whatever the age: a ``sent`` platform delivery whose result is a real send (not ``skipped`` /
``duplicate``). That row is the only record of the vendor's id (``connector.platforms.sent_refs``: a void
or credit note months later needs it) and what the worker's cross-event dedupe reads
(``worker._already_sent``); deleting it could send an invoice twice. Its event goes, the small row stays.
Billing tables, the ledger, the audit log and adapters' dedupe tables are never touched.

Concurrency: sent is a final status and an event is a candidate only once fanned out, so no worker
writes to a candidate's rows. On PostgreSQL each batch still locks its events and deliveries ``FOR UPDATE
SKIP LOCKED`` (as fan-out and claim do) and leaves out an event any of whose rows another transaction
holds; every DELETE re-checks its conditions, so a row that changed since it was read is not deleted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, delete, exists, func, not_, or_, select
from sqlalchemy.orm import Session

from connector.config import RetentionSettings
from connector.platforms.sent_refs import holds_vendor_object
from connector.storage.tables.core import IdempotencyKeyRow
from connector.storage.tables.outbox import DeliveryRow, EventRow


def is_reference(target: str, result: dict[str, Any] | None) -> bool:
    """A sent platform delivery that created/changed something at the vendor: kept for SentRefs and dedupe."""
    return target.startswith("platform:") and holds_vendor_object(result)


def _engine(engine_or_session: Engine | Session) -> Engine:
    if isinstance(engine_or_session, Session):
        bind = engine_or_session.get_bind()
        return bind if isinstance(bind, Engine) else bind.engine
    return engine_or_session


def _blocking(cutoff: datetime) -> Any:
    """A delivery that keeps its event: not sent, or touched after the cut-off (a recent redelivery)."""
    return exists().where(DeliveryRow.event_id == EventRow.id,
                          or_(DeliveryRow.status != "sent", DeliveryRow.updated_at >= cutoff))


def _old_events(cutoff: datetime, tenant_id: str | None) -> Any:
    query = EventRow.created_at < cutoff
    return and_(query, EventRow.tenant_id == tenant_id) if tenant_id is not None else query


def _candidates(db: Session, cutoff: datetime, tenant_id: str | None, after: str, batch: int,
                lock: bool) -> list[str]:
    query = (select(EventRow.id).where(_old_events(cutoff, tenant_id), EventRow.fanned_out.is_(True),
                                       not_(_blocking(cutoff)), EventRow.id > after)
             .order_by(EventRow.id).limit(batch))
    if lock:
        query = query.with_for_update(skip_locked=True)
    return list(db.scalars(query))


def _split(rows: list[DeliveryRow]) -> tuple[list[str], int]:
    """(delivery ids to delete, references kept)."""
    gone = [r.id for r in rows if not is_reference(r.target, r.result)]
    return gone, len(rows) - len(gone)


def _prune_events(engine: Engine, cutoff: datetime, tenant_id: str | None, batch: int,
                  dry_run: bool) -> dict[str, int]:
    counts = {"events": 0, "deliveries": 0, "references_kept": 0}
    postgres = engine.dialect.name == "postgresql"
    after = ""
    while True:
        with Session(engine) as db:
            ids = _candidates(db, cutoff, tenant_id, after, batch, lock=postgres and not dry_run)
            if not ids:
                return counts
            after = ids[-1]
            query = select(DeliveryRow).where(DeliveryRow.event_id.in_(ids))
            if postgres and not dry_run:
                rows = list(db.scalars(query.with_for_update(skip_locked=True)))
                everything = dict(db.execute(select(DeliveryRow.event_id, func.count()).where(
                    DeliveryRow.event_id.in_(ids)).group_by(DeliveryRow.event_id)).all())
                locked: dict[str, int] = {}
                for r in rows:
                    locked[r.event_id] = locked.get(r.event_id, 0) + 1
                busy = {e for e, n in everything.items() if locked.get(e, 0) != n}  # a row held elsewhere
                ids = [e for e in ids if e not in busy]
                rows = [r for r in rows if r.event_id not in busy]
            else:
                rows = list(db.scalars(query))
            gone, kept = _split(rows)
            if not dry_run and ids:
                # re-checked in the statement: an event that gained a blocking delivery meanwhile stays
                done = db.execute(delete(EventRow).where(EventRow.id.in_(ids), EventRow.fanned_out.is_(True),
                                                         not_(_blocking(cutoff)))
                                  .execution_options(synchronize_session=False))
                if done.rowcount != len(ids):  # type: ignore[attr-defined]
                    # rare race: recount what really went (their deliveries only)
                    left = set(db.scalars(select(EventRow.id).where(EventRow.id.in_(ids))))
                    ids = [e for e in ids if e not in left]
                    gone, kept = _split([r for r in rows if r.event_id not in left])
                if gone:
                    db.execute(delete(DeliveryRow).where(DeliveryRow.id.in_(gone), DeliveryRow.status == "sent")
                               .execution_options(synchronize_session=False))
                db.commit()
            counts["events"] += len(ids)
            counts["deliveries"] += len(gone)
            counts["references_kept"] += kept


def _prune_idempotency(engine: Engine, cutoff: datetime, tenant_id: str | None, batch: int,
                       dry_run: bool) -> int:
    done_before = and_(IdempotencyKeyRow.created_at < cutoff, IdempotencyKeyRow.status_code.is_not(None))
    if tenant_id is not None:
        done_before = and_(done_before, IdempotencyKeyRow.tenant_id == tenant_id)
    if dry_run:
        with Session(engine) as db:
            return int(db.scalar(select(func.count()).select_from(IdempotencyKeyRow).where(done_before)) or 0)
    total = 0
    while True:
        with Session(engine) as db:
            keys = db.execute(select(IdempotencyKeyRow.tenant_id, IdempotencyKeyRow.key).where(done_before)
                              .order_by(IdempotencyKeyRow.tenant_id, IdempotencyKeyRow.key).limit(batch)).all()
            if not keys:
                return total
            by_tenant: dict[str, list[str]] = {}
            for tenant, key in keys:
                by_tenant.setdefault(tenant, []).append(key)
            for tenant, chunk in by_tenant.items():
                result = db.execute(delete(IdempotencyKeyRow).where(
                    done_before, IdempotencyKeyRow.tenant_id == tenant, IdempotencyKeyRow.key.in_(chunk))
                    .execution_options(synchronize_session=False))
                total += result.rowcount  # type: ignore[attr-defined]
            db.commit()


def prune(engine_or_session: Engine | Session, now: datetime, *, events_older_than: timedelta,
          idempotency_older_than: timedelta, tenant_id: str | None = None, batch: int = 1000,
          dry_run: bool = False) -> dict[str, int]:
    """Delete what retention allows (see the module docstring) and return the counts; ``dry_run`` only counts.

    Counts: ``events`` and ``deliveries`` deleted, ``references_kept`` (sent platform deliveries whose
    event went), ``events_kept`` (events older than the cut-off that stay: a delivery needs attention or
    is in flight), ``idempotency_keys`` deleted, ``idempotency_in_progress`` (older ones still running,
    kept). A Session is used only for its engine: every batch commits on its own connection."""
    if batch < 1:
        raise ValueError("batch: at least 1")
    if events_older_than < timedelta(0) or idempotency_older_than < timedelta(0):
        raise ValueError("older_than: must not be negative")
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    engine = _engine(engine_or_session)
    event_cut, key_cut = now - events_older_than, now - idempotency_older_than
    counts = _prune_events(engine, event_cut, tenant_id, batch, dry_run)
    counts["idempotency_keys"] = _prune_idempotency(engine, key_cut, tenant_id, batch, dry_run)
    with Session(engine) as db:
        old = int(db.scalar(select(func.count()).select_from(EventRow).where(_old_events(event_cut, tenant_id))) or 0)
        running = and_(IdempotencyKeyRow.created_at < key_cut, IdempotencyKeyRow.status_code.is_(None))
        if tenant_id is not None:
            running = and_(running, IdempotencyKeyRow.tenant_id == tenant_id)
        counts["events_kept"] = old - (counts["events"] if dry_run else 0)
        counts["idempotency_in_progress"] = int(
            db.scalar(select(func.count()).select_from(IdempotencyKeyRow).where(running)) or 0)
    return {k: counts[k] for k in ("events", "deliveries", "references_kept", "events_kept",
                                   "idempotency_keys", "idempotency_in_progress")}


def scheduled_prune(engine: Engine, now: datetime | None = None,
                    settings: RetentionSettings | None = None) -> dict[str, int]:
    """The daily job of ``evbill scheduler``: prune every tenant with the configured retention (default: the
    environment, read now)."""
    settings = settings or RetentionSettings.from_environ()
    return prune(engine, now or datetime.now(UTC), events_older_than=settings.events_older_than,
                 idempotency_older_than=settings.idempotency_older_than)

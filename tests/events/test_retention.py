"""Retention (``connector.events.retention.prune``): what goes, what stays, exact counts, leases, schedule."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from connector.config import RetentionSettings
from connector.events import retention
from connector.events.deliveries import Policy, claim, finish
from connector.events.outbox import emit
from connector.storage.tables.core import IdempotencyKeyRow
from connector.storage.tables.outbox import DeliveryRow, EventRow

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=100)
NEW = NOW - timedelta(days=10)
DAYS_90, HOURS_24 = timedelta(days=90), timedelta(hours=24)


def event(db: Session, created: datetime, deliveries: list[tuple[str, str, Any]], *, tenant: str = "t1",
          fanned: bool = True, updated: datetime | None = None) -> str:
    """An event and its delivery rows (target, status, result) as the worker leaves them."""
    env = emit(db, tenant, "invoice.finalized", {"invoice": {"id": uuid.uuid4().hex}}, created_at=created)
    db.get(EventRow, env["id"]).fanned_out = fanned  # type: ignore[union-attr]
    for target, status, result in deliveries:
        db.add(DeliveryRow(id=f"dlv_{uuid.uuid4().hex}", event_id=env["id"], tenant_id=tenant, target=target,
                           status=status, attempts=1, next_attempt_at=created, result=result,
                           idempotency_key=f"{env['id']}:{target}", created_at=created,
                           updated_at=updated or created + timedelta(minutes=1)))
    db.flush()
    return env["id"]


def key(db: Session, name: str, created: datetime, status: int | None, tenant: str = "t1") -> None:
    db.add(IdempotencyKeyRow(tenant_id=tenant, key=name, method="POST", path="/v1/invoices", request_hash="0" * 64,
                             status_code=status, response_body="{}" if status else None, created_at=created))


SENT = {"status": "sent", "http_status": 200}


@pytest.fixture
def world(db: Session) -> dict[str, str]:
    w = {
        "sent2": event(db, OLD, [("webhook:s1", "sent", SENT), ("webhook:s2", "sent", SENT)]),
        "empty": event(db, OLD, []),  # fanned out to no target
        "dead": event(db, OLD, [("webhook:s1", "sent", SENT), ("webhook:s2", "dead", None)]),
        "failed": event(db, OLD, [("webhook:s1", "failed", None)]),
        "pending": event(db, OLD, [("webhook:s1", "pending", None)]),
        "sending": event(db, OLD, [("webhook:s1", "sending", None)]),
        "unfanned": event(db, OLD, [], fanned=False),
        "new": event(db, NEW, [("webhook:s1", "sent", SENT)]),
        "platform": event(db, OLD, [("platform:stripe", "sent", {"status": "sent", "ref": "in_1"}),
                                    ("platform:sendgrid", "sent", {"status": "duplicate", "of": "dlv_x"}),
                                    ("platform:xero", "sent", {"status": "skipped", "reason": "draft"}),
                                    ("webhook:s1", "sent", SENT)]),
        "recent_redelivery": event(db, OLD, [("webhook:s1", "sent", SENT)], updated=NEW),
        "other_tenant": event(db, OLD, [("webhook:s9", "sent", SENT)], tenant="t2"),
    }
    key(db, "old-done", NOW - timedelta(hours=25), 201)
    key(db, "old-4xx", NOW - timedelta(hours=30), 422)
    key(db, "new-done", NOW - timedelta(hours=23), 201)
    key(db, "old-running", NOW - timedelta(hours=48), None)
    key(db, "old-done", NOW - timedelta(hours=25), 201, tenant="t2")
    db.commit()
    return w


def remaining(db: Session) -> tuple[set[str], dict[str, list[str]], set[tuple[str, str]]]:
    db.expire_all()
    events = set(db.scalars(select(EventRow.id)))
    deliveries: dict[str, list[str]] = {}
    for row in db.scalars(select(DeliveryRow).order_by(DeliveryRow.target)):
        deliveries.setdefault(row.event_id, []).append(f"{row.target}={row.status}")
    keys = {(t, k) for t, k in db.execute(select(IdempotencyKeyRow.tenant_id, IdempotencyKeyRow.key))}
    return events, deliveries, keys


# deleted: sent2 (2 rows), empty, platform (3 rows, the Stripe send stays), other_tenant (1 row);
# kept old: dead, failed, pending, sending, unfanned, recent_redelivery
EXPECTED_ALL = {"events": 4, "deliveries": 6, "references_kept": 1, "events_kept": 6,
                "idempotency_keys": 3, "idempotency_in_progress": 1}


def test_dry_run_then_prune_same_exact_counts_and_the_right_rows(engine: Engine, db: Session, world) -> None:
    before = remaining(db)
    dry = retention.prune(engine, NOW, events_older_than=DAYS_90, idempotency_older_than=HOURS_24, batch=2,
                          dry_run=True)
    assert dry == EXPECTED_ALL
    assert remaining(db) == before  # a dry run deletes nothing
    real = retention.prune(db, NOW, events_older_than=DAYS_90, idempotency_older_than=HOURS_24, batch=2)
    assert real == dry
    events, deliveries, keys = remaining(db)
    gone = {"sent2", "empty", "platform", "other_tenant"}
    assert events == {world[k] for k in world if k not in gone}
    assert deliveries[world["platform"]] == ["platform:stripe=sent"]  # the vendor's id stays (SentRefs)
    assert deliveries[world["dead"]] == ["webhook:s1=sent", "webhook:s2=dead"]
    assert world["sent2"] not in deliveries and world["other_tenant"] not in deliveries
    assert keys == {("t1", "new-done"), ("t1", "old-running")}
    # nothing left to do; what stays is still reported
    again = retention.prune(engine, NOW, events_older_than=DAYS_90, idempotency_older_than=HOURS_24)
    assert again == {"events": 0, "deliveries": 0, "references_kept": 0, "events_kept": 6,
                     "idempotency_keys": 0, "idempotency_in_progress": 1}


def test_tenant_filter_prunes_that_tenant_only(engine: Engine, db: Session, world) -> None:
    counts = retention.prune(engine, NOW, events_older_than=DAYS_90, idempotency_older_than=HOURS_24, tenant_id="t2")
    assert counts == {"events": 1, "deliveries": 1, "references_kept": 0, "events_kept": 0,
                      "idempotency_keys": 1, "idempotency_in_progress": 0}
    events, _, keys = remaining(db)
    assert world["other_tenant"] not in events and world["sent2"] in events
    assert ("t1", "old-done") in keys and ("t2", "old-done") not in keys


def test_a_leased_row_is_never_deleted_until_sent(engine: Engine, db: Session) -> None:
    """A worker's claim (status sending, lease) keeps the event even with a zero retention; once the
    worker records ``sent`` the event goes."""
    eid = event(db, NOW - timedelta(hours=1), [("webhook:s1", "pending", None)])
    db.commit()
    policy = Policy(lease_seconds=600, batch=10)
    [row] = claim(db, NOW, policy)  # the worker holds the lease now
    assert (row.status, row.event_id) == ("sending", eid)
    row_id = row.id
    zero = {"events_older_than": timedelta(0), "idempotency_older_than": HOURS_24}
    counts = retention.prune(engine, NOW + timedelta(minutes=1), **zero)
    assert (counts["events"], counts["deliveries"], counts["events_kept"]) == (0, 0, 1)
    db.expire_all()
    assert db.get(DeliveryRow, row.id).lease_owner == row.lease_owner  # type: ignore[union-attr]
    # even after the lease expired (the worker died): the row waits for the next worker, not for prune
    assert retention.prune(engine, NOW + timedelta(hours=1), **zero)["events"] == 0
    assert finish(db, row, status="sent", result=SENT, updated_at=NOW + timedelta(minutes=2))
    assert retention.prune(engine, NOW + timedelta(minutes=3), **zero)["events"] == 1
    db.expunge_all()
    assert db.get(DeliveryRow, row_id) is None and db.get(EventRow, eid) is None


def test_postgresql_skips_rows_another_transaction_holds(engine: Engine, db: Session) -> None:
    """PostgreSQL: a delivery row locked by another transaction (a worker's claim or record step) keeps
    its event out of the batch; prune neither waits nor deletes it, and takes it on the next run."""
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL only (SQLite has one writer at a time)")
    held = event(db, OLD, [("webhook:s1", "sent", SENT), ("webhook:s2", "sent", SENT)])
    free = event(db, OLD, [("webhook:s1", "sent", SENT)])
    db.commit()
    locked_id = db.scalars(select(DeliveryRow.id).where(DeliveryRow.event_id == held,
                                                        DeliveryRow.target == "webhook:s2")).one()
    with engine.connect() as other:
        other.execute(text("SELECT id FROM outbox_deliveries WHERE id = :i FOR UPDATE"), {"i": locked_id})
        result: dict[str, Any] = {}
        worker = threading.Thread(target=lambda: result.update(retention.prune(
            engine, NOW, events_older_than=DAYS_90, idempotency_older_than=HOURS_24)))
        worker.start()
        worker.join(20)
        assert not worker.is_alive(), "prune waited for a locked row"
        other.rollback()
    assert (result["events"], result["deliveries"], result["events_kept"]) == (1, 1, 1)
    db.expire_all()
    assert db.get(EventRow, held) is not None and db.get(EventRow, free) is None
    again = retention.prune(engine, NOW, events_older_than=DAYS_90, idempotency_older_than=HOURS_24)
    assert (again["events"], again["deliveries"], again["events_kept"]) == (1, 2, 0)


def test_bad_arguments_name_the_field(engine: Engine) -> None:
    with pytest.raises(ValueError, match="batch"):
        retention.prune(engine, NOW, events_older_than=DAYS_90, idempotency_older_than=HOURS_24, batch=0)
    with pytest.raises(ValueError, match="older_than"):
        retention.prune(engine, NOW, events_older_than=-DAYS_90, idempotency_older_than=HOURS_24)


def test_daily_job_in_the_scheduler_uses_the_environment(engine: Engine, db: Session, world,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from apscheduler.triggers.cron import CronTrigger

    from connector.billing import scheduler

    monkeypatch.delenv("EVBILL_OUTBOX_PRUNE_AT", raising=False)
    assert "outbox-prune" not in {j.id for j in scheduler.build_scheduler(engine, blocking=False).get_jobs()}
    monkeypatch.setenv("EVBILL_OUTBOX_PRUNE_AT", "03:30")
    job = scheduler.build_scheduler(engine, blocking=False).get_job("outbox-prune")
    assert isinstance(job.trigger, CronTrigger) and job.func is retention.scheduled_prune
    assert job.args[1:] == (None, RetentionSettings())  # the retention read at start-up
    assert job.trigger.get_next_fire_time(None, NOW) == datetime(2026, 12, 1, 3, 30, tzinfo=UTC)
    monkeypatch.setenv("EVBILL_OUTBOX_RETENTION_DAYS", "ninety")
    with pytest.raises(ValueError, match="EVBILL_OUTBOX_RETENTION_DAYS"):
        scheduler.build_scheduler(engine, blocking=False)
    monkeypatch.setenv("EVBILL_OUTBOX_RETENTION_DAYS", "5")  # the 10-day-old event and redelivery go too
    monkeypatch.setenv("EVBILL_IDEMPOTENCY_RETENTION_HOURS", "72")  # and no idempotency record
    counts = retention.scheduled_prune(engine, NOW)
    assert counts == {"events": 6, "deliveries": 8, "references_kept": 1, "events_kept": 5,
                      "idempotency_keys": 0, "idempotency_in_progress": 0}
    monkeypatch.delenv("EVBILL_OUTBOX_RETENTION_DAYS")
    monkeypatch.delenv("EVBILL_IDEMPOTENCY_RETENTION_HOURS")
    defaults = RetentionSettings.from_environ()
    assert (defaults.events_older_than, defaults.idempotency_older_than) == (DAYS_90, HOURS_24)

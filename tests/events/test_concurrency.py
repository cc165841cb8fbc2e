"""Four workers in parallel on one database: every delivery is claimed by one of them, each event reaches
the receiver once (PostgreSQL: SKIP LOCKED; SQLite: conditional UPDATE)."""

from __future__ import annotations

import threading

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from connector.events import worker
from connector.events.deliveries import Policy
from connector.events.outbox import emit
from connector.events.subscriptions import create_subscription
from connector.storage.tables.outbox import DeliveryRow
from tests.events.receiver import Receiver, running

EVENTS = 60


def test_parallel_workers_deliver_each_event_once(engine: Engine, db: Session) -> None:
    policy = Policy(batch=5, lease_seconds=60)
    with running(Receiver()) as rec:
        create_subscription(db, "t1", rec.url + "/a", ["session.billed"])
        create_subscription(db, "t1", rec.url + "/b", ["session.billed"])
        for i in range(EVENTS):
            emit(db, "t1", "session.billed", {"n": i})
        db.commit()
        errors: list[BaseException] = []
        totals: list[dict[str, int]] = []

        def loop() -> None:
            try:
                for _ in range(200):
                    counts = worker.run_once(engine, policy=policy)
                    totals.append(counts)
                    if counts["claimed"] == 0 and counts["events"] == 0:
                        return
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=loop) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert errors == []
    db.expire_all()
    sent = db.scalar(select(func.count()).select_from(DeliveryRow).where(DeliveryRow.status == "sent"))
    assert sent == 2 * EVENTS
    assert sum(c["sent"] for c in totals) == 2 * EVENTS and sum(c["lost"] for c in totals) == 0
    assert sum(c["created"] for c in totals) == 2 * EVENTS
    assert len(rec.requests) == 2 * EVENTS and rec.duplicates == 0 and len(rec.accepted) == 2 * EVENTS


def test_slow_batch_renews_its_claims_so_no_other_worker_steals_them(engine: Engine, db: Session) -> None:
    """Lease 3 s, each delivery 1 s, 5 in one claimed batch: without renewal the 5th lease expires
    mid-batch and the polling second worker would claim and deliver it again."""
    slow = Policy(batch=5, lease_seconds=3.0)
    with running(Receiver(delay=1.0)) as rec:
        create_subscription(db, "t1", rec.url + "/slow", ["session.billed"])
        for i in range(5):
            emit(db, "t1", "session.billed", {"n": i})
        db.commit()
        first: dict[str, int] = {}
        thief: list[dict[str, int]] = []
        done = threading.Event()

        def other() -> None:
            while not done.is_set():
                thief.append(worker.run_once(engine, policy=slow))
                done.wait(0.1)

        a = threading.Thread(target=lambda: first.update(worker.run_once(engine, policy=slow)))
        a.start()
        assert rec.arrived.wait(30)  # the first worker has claimed the batch and is delivering
        b = threading.Thread(target=other)
        b.start()
        a.join(30)
        done.set()
        b.join(30)
    assert (first["claimed"], first["sent"], first["lost"]) == (5, 5, 0)
    assert sum(t["claimed"] for t in thief) == 0
    assert len(rec.requests) == 5 and rec.duplicates == 0
    db.expire_all()
    assert [r.attempts for r in db.scalars(select(DeliveryRow))] == [1] * 5

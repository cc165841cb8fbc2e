"""The worker as an operator runs it (`evbill worker` subprocess), SIGKILLed in the middle of a delivery.

The receiver accepts request number 5 and then hangs, so the worker dies after the receiver processed
the event but before the row was marked sent (the worst moment). A restarted worker re-claims every row
whose lease expired and redelivers with the same Idempotency-Key: the idempotent receiver ends up with
every event exactly once, and nothing is lost.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from connector.events.outbox import emit
from connector.events.subscriptions import create_subscription
from connector.storage.tables.outbox import DeliveryRow
from tests.events.receiver import Receiver, running
from tests.paths import REPO

EVENTS = 25


def start_worker(db_url: str) -> subprocess.Popen:
    # one delivery at a time to the one subscription: the kill lands at a known row (concurrency: tests/faults)
    env = {**os.environ, "DATABASE_URL": db_url, "EVBILL_OUTBOX_PER_TARGET": "1"}
    return subprocess.Popen([sys.executable, "-m", "connector.cli", "worker", "--interval", "0.1", "--lease", "2",
                             "--batch", "10"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def sent_count(db: Session) -> int:
    db.expire_all()
    return int(db.scalar(select(func.count()).select_from(DeliveryRow).where(DeliveryRow.status == "sent")) or 0)


def test_sigkill_mid_delivery_loses_nothing_and_duplicates_nothing(engine: Engine, db: Session, db_url: str) -> None:
    block = threading.Event()
    with running(Receiver(block=block, block_at=5)) as rec:
        sub = create_subscription(db, "t1", rec.url + "/hook", ["session.billed"])
        ids = [emit(db, "t1", "session.billed", {"session": {"id": f"S-{i}"}, "n": i})["id"] for i in range(EVENTS)]
        db.commit()
        first = start_worker(db_url)
        try:
            assert rec.arrived.wait(60), "the worker never reached the 5th delivery"
            os.kill(first.pid, signal.SIGKILL)
        finally:
            first.wait(30)
        assert first.returncode == -signal.SIGKILL
        block.set()
        assert sent_count(db) == 4  # rows 1-4 recorded; 5 was processed by the receiver but not recorded
        second = start_worker(db_url)
        try:
            deadline = time.monotonic() + 60
            while sent_count(db) < EVENTS and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            second.send_signal(signal.SIGTERM)
            out, err = second.communicate(timeout=30)
        assert second.returncode == 0, err.decode()
    assert sent_count(db) == EVENTS
    expected = {f"{event_id}:webhook:{sub['id']}" for event_id in ids}
    assert set(rec.accepted) == expected  # every event, once
    assert rec.duplicates == 1  # the event in flight at the kill came again and was discarded by its key
    assert len(rec.requests) == EVENTS + 1
    bodies = [json.loads(b)["id"] for b in rec.accepted.values()]
    assert sorted(bodies) == sorted(ids)
    rows = db.scalars(select(DeliveryRow)).all()
    # the killed worker held at most a batch of 10 claims (it tops its batch up as rows finish): those leased
    # and lost count 2 attempts, the one in flight among them
    again = [r for r in rows if r.attempts == 2]
    assert max(r.attempts for r in rows) == 2 and 1 <= len(again) <= 10
    assert sum(r.attempts for r in rows) == EVENTS + len(again)

"""Webhook delivery through the real worker: signature, idempotency key, retries, dead letter, redelivery."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from connector.events import worker
from connector.events.deliveries import Policy, list_deliveries, redeliver
from connector.events.outbox import emit
from connector.events.subscriptions import create_subscription
from connector.security import hmac_sign
from connector.storage.tables.outbox import DeliveryRow
from connector.validation import Conflict, NotFound
from tests.events.receiver import Receiver, running

T0 = datetime(2026, 1, 13, 15, 30, tzinfo=UTC)
POLICY = Policy(max_attempts=3, base_delay=10, max_delay=600, lease_seconds=60)


def setup_event(db: Session, url: str) -> tuple[dict, dict]:
    sub = create_subscription(db, "t1", url + "/hook", ["session.billed"])
    event = emit(db, "t1", "session.billed", {"invoice": {"id": "inv_1", "amount_due": "357"}}, created_at=T0)
    emit(db, "t1", "journal.posted", {"entry": {"id": "je_1"}})  # not subscribed: no delivery
    db.commit()
    return sub, event


def only_row(db: Session) -> DeliveryRow:
    db.expire_all()
    [row] = db.scalars(select(DeliveryRow)).all()
    return row


def test_signed_delivery_verifies_and_carries_a_stable_key(engine: Engine, db: Session) -> None:
    with running(Receiver()) as rec:
        sub, event = setup_event(db, rec.url)
        counts = worker.run_once(engine, T0, policy=POLICY)
        assert counts["events"] == 2 and counts["created"] == 1 and counts["sent"] == 1
    [req] = rec.requests
    assert req["path"] == "/hook"
    body, headers = req["body"], req["headers"]
    assert json.loads(body) == event
    hmac_sign.verify(sub["secret"], headers["X-Evbill-Timestamp"], body, headers["X-Evbill-Signature"])
    assert not hmac_sign.is_valid(sub["secret"], headers["X-Evbill-Timestamp"], body + b" ",
                                  headers["X-Evbill-Signature"])
    assert not hmac_sign.is_valid("whsec_other", headers["X-Evbill-Timestamp"], body,
                                  headers["X-Evbill-Signature"])
    assert headers["Idempotency-Key"] == f"{event['id']}:webhook:{sub['id']}"
    assert headers["X-Evbill-Event-Type"] == "session.billed" and headers["X-Evbill-Event-Id"] == event["id"]
    row = only_row(db)
    assert (row.status, row.attempts, row.result) == ("sent", 1, {"status": "sent", "http_status": 200})
    assert headers["X-Evbill-Delivery-Id"] == row.id
    # a second pass finds nothing to do
    assert worker.run_once(engine, T0 + timedelta(hours=1), policy=POLICY)["claimed"] == 0


def test_429_retry_after_then_500_then_200(engine: Engine, db: Session) -> None:
    script = [(429, {"Retry-After": "7"}), (500, {})]
    with running(Receiver(script)) as rec:
        setup_event(db, rec.url)
        assert worker.run_once(engine, T0, policy=POLICY, rng=random.Random(1))["retry"] == 1
        row = only_row(db)
        assert row.status == "pending" and row.attempts == 1 and "HTTP 429" in (row.last_error or "")
        due = row.next_attempt_at.replace(tzinfo=UTC)
        assert due == T0 + timedelta(seconds=7)  # Retry-After honoured exactly
        assert worker.run_once(engine, T0 + timedelta(seconds=6), policy=POLICY)["claimed"] == 0  # not yet due
        assert worker.run_once(engine, due, policy=POLICY, rng=random.Random(1))["retry"] == 1
        row = only_row(db)
        expected = random.Random(1).uniform(0, 20)  # full jitter: uniform(0, base * 2**(2-1))
        assert row.next_attempt_at.replace(tzinfo=UTC) == due + timedelta(seconds=expected)
        assert "HTTP 500" in (row.last_error or "") and row.attempts == 2
        assert worker.run_once(engine, due + timedelta(seconds=20), policy=POLICY)["sent"] == 1
    assert [r["headers"]["Idempotency-Key"] for r in rec.requests] == [row.idempotency_key] * 3
    row = only_row(db)
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)
    assert len(rec.accepted) == 1 and rec.duplicates == 0


def test_dead_after_max_attempts_then_redelivered_by_hand(engine: Engine, db: Session) -> None:
    with running(Receiver([(503, {})] * 3)) as rec:
        setup_event(db, rec.url)
        at = T0
        for _ in range(3):
            worker.run_once(engine, at, policy=POLICY)
            at += timedelta(hours=1)
        row = only_row(db)
        assert (row.status, row.attempts) == ("dead", 3)
        assert [d["id"] for d in list_deliveries(db, "t1", status="dead")["items"]] == [row.id]
        assert list_deliveries(db, "t2", status="dead")["items"] == []
        with pytest.raises(NotFound):
            redeliver(db, "t2", row.id)  # another tenant's delivery does not exist for it
        again = redeliver(db, "t1", row.id, now=at)
        db.commit()
        assert again["status"] == "pending" and again["attempts"] == 0
        assert worker.run_once(engine, at, policy=POLICY)["sent"] == 1
        with pytest.raises(Conflict):
            redeliver(db, "t1", row.id)  # sent: redelivering would send twice
    assert len(rec.requests) == 4 and len(rec.accepted) == 1


def test_4xx_is_permanent_failure(engine: Engine, db: Session) -> None:
    with running(Receiver([(410, {})])) as rec:
        setup_event(db, rec.url)
        assert worker.run_once(engine, T0, policy=POLICY)["failed"] == 1
    row = only_row(db)
    assert row.status == "failed" and row.attempts == 1
    assert row.last_error.startswith("HTTP 410 from http://127.0.0.1:") and row.last_error.endswith('{"error":"try later"}')

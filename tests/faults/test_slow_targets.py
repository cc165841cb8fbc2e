"""Hanging, trickling and 500-ing webhook receivers do not delay another tenant's deliveries.

The worker runs one real pass (``run_once`` with ``HttpSender``) against receivers on 127.0.0.1 that
misbehave at the byte level (tests/faults/receivers.py). Tenant B's ten deliveries must be sent while
tenant A's hanging and trickling ones are still in flight; those are cut off at the request deadline, and
once a target has failed ``breaker_failures`` times in a row its remaining rows go back to the queue
without being called or spending an attempt.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from connector.events import worker
from connector.events.deliveries import Policy
from connector.events.outbox import emit
from connector.events.subscriptions import create_subscription
from connector.platforms.sender import HttpSender
from connector.storage.tables.outbox import DeliveryRow
from tests.faults.receivers import BadReceiver

DEADLINE = 1.5
POLICY = Policy(max_attempts=5, lease_seconds=60, batch=100, concurrency=8, per_target=2, breaker_failures=2,
                breaker_cooldown=300)


def senders(target: str) -> HttpSender:
    return HttpSender(target=target, read_timeout=30.0, deadline=DEADLINE)


def subscribe(db: Session, tenant: str, url: str, events: int) -> str:
    sub = create_subscription(db, tenant, url, ["session.billed"])
    for i in range(events):
        emit(db, tenant, "session.billed", {"session": {"id": f"{tenant}-S-{i}"}})
    db.commit()
    return f"webhook:{sub['id']}"


def rows_of(db: Session, target: str) -> list[DeliveryRow]:
    db.expire_all()
    return list(db.scalars(select(DeliveryRow).where(DeliveryRow.target == target)))


def test_slow_tenants_do_not_delay_the_others(engine: Engine, db: Session) -> None:
    with (BadReceiver("hang") as hang, BadReceiver("trickle", interval=0.3) as trickle,
          BadReceiver("500") as failing, BadReceiver("good") as good):
        hanging = subscribe(db, "A", hang.url, 6)
        trickling = subscribe(db, "T", trickle.url, 2)
        erroring = subscribe(db, "C", failing.url, 4)
        fine = subscribe(db, "B", good.url, 10)
        counts: dict[str, int] = {}
        started = time.monotonic()
        runner = threading.Thread(target=lambda: counts.update(worker.run_once(engine, policy=POLICY,
                                                                               senders=senders)))
        runner.start()
        while len(good.keys()) < 10 and time.monotonic() - started < 10:
            time.sleep(0.02)
        b_done = time.monotonic() - started
        runner.join(30)
        took = time.monotonic() - started
    assert not runner.is_alive()
    # B was served while A's requests were hanging (before the first deadline cut anything off)
    assert b_done < DEADLINE, b_done
    assert [r.status for r in rows_of(db, fine)] == ["sent"] * 10
    # two rounds at most: the first two hanging requests time out, the breaker opens, the rest wait
    # (a slot freed by the first failure may start one more before the second failure opens the breaker)
    assert took < 2 * DEADLINE + 1.0, took
    hung = rows_of(db, hanging)
    called = len(hang.keys())
    assert called in (2, 3)
    assert sorted((r.status, r.attempts) for r in hung) == [("pending", 0)] * (6 - called) + [("pending", 1)] * called
    assert all("no complete answer within 1.5 s" in (r.last_error or "") for r in hung if r.attempts == 1)
    assert all("circuit open" in (r.last_error or "") for r in hung if r.attempts == 0)
    # the trickler was cut off mid-answer (it saw its socket closed), and is retried later
    assert {(r.status, r.attempts) for r in rows_of(db, trickling)} == {("pending", 1)}
    assert "no complete answer" in (rows_of(db, trickling)[0].last_error or "")
    # 500s are answers: two in a row open that breaker too; the others are not called
    failed = len(failing.keys())
    assert failed in (2, 3)
    assert sorted(r.attempts for r in rows_of(db, erroring)) == [0] * (4 - failed) + [1] * failed
    assert counts["sent"] == 10 and counts["retry"] == called + 2 + failed
    assert counts["deferred"] == (6 - called) + (4 - failed)
    # a second pass right away: rows that came due (short backoff) meet open breakers; nothing is called
    calls = len(hang.keys()) + len(failing.keys())
    again = worker.run_once(engine, policy=POLICY, senders=senders)
    assert again["deferred"] == again["claimed"] - again["retry"] and again["sent"] == 0
    assert len(hang.keys()) + len(failing.keys()) == calls


def test_breaker_half_opens_after_the_cooldown(engine: Engine, db: Session) -> None:
    policy = POLICY.model_copy(update={"breaker_cooldown": 60, "base_delay": 1, "max_delay": 1})
    breakers = worker.Breakers(policy.breaker_failures, policy.breaker_cooldown)
    t0 = datetime(2026, 1, 13, 15, 30, tzinfo=UTC)
    with BadReceiver("500") as failing:
        target = subscribe(db, "C", failing.url, 5)
        first = worker.run_once(engine, t0, policy=policy, senders=senders, breakers=breakers)
        called = len(failing.keys())
        assert called in (2, 3) and (first["retry"], first["deferred"]) == (called, 5 - called)
        later = t0.replace(minute=31, second=1)  # cooldown over: one trial goes out, fails, re-opens
        second = worker.run_once(engine, later, policy=policy, senders=senders, breakers=breakers)
        assert (second["retry"], second["deferred"]) == (1, 4) and len(failing.keys()) == called + 1
    with BadReceiver("good") as good:
        with Session(engine) as s:
            sub_id = target.split(":", 1)[1]
            from connector.storage.tables.outbox import WebhookSubscriptionRow

            s.get(WebhookSubscriptionRow, sub_id).url = good.url  # type: ignore[union-attr]
            s.commit()
        back = worker.run_once(engine, t0.replace(minute=33), policy=policy, senders=senders, breakers=breakers)
        assert (back["sent"], back["deferred"]) == (1, 4)  # one trial while half-open; it succeeds: closed
        rest = worker.run_once(engine, t0.replace(minute=35), policy=policy, senders=senders, breakers=breakers)
        assert rest["sent"] == 4 and len(good.keys()) == 5


def test_the_running_worker_serves_new_events_while_a_lane_hangs(engine: Engine, db: Session) -> None:
    """``evbill worker``'s loop (``worker.serve``): events that arrive while another tenant's requests hang
    are delivered at once, not after the hanging requests' deadline."""
    deadline = 4.0
    policy = POLICY.model_copy(update={"breaker_failures": 10})  # keep the hanging lane busy for the whole test

    def slow_senders(target: str) -> HttpSender:
        return HttpSender(target=target, deadline=deadline)

    with BadReceiver("hang") as hang, BadReceiver("good") as good:
        subscribe(db, "A", hang.url, 2)
        fine = subscribe(db, "B", good.url, 0)
        stop = threading.Event()
        loop = threading.Thread(target=worker.serve, args=(engine, stop, 0.1, policy, slow_senders))
        loop.start()
        try:
            while len(hang.keys()) < 2:  # both of A's requests are hanging now
                time.sleep(0.02)
            hung_at = time.monotonic()
            for i in range(5):
                emit(db, "B", "session.billed", {"session": {"id": f"B-late-{i}"}})
            db.commit()
            while len(good.keys()) < 5 and time.monotonic() - hung_at < 3 * deadline:
                time.sleep(0.02)
            served = time.monotonic() - hung_at
        finally:
            stop.set()
            loop.join(3 * deadline)
    assert not loop.is_alive()
    assert served < deadline / 2, served  # before: the pass waited for A's deadline first
    assert [r.status for r in rows_of(db, fine)] == ["sent"] * 5

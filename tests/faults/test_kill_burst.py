"""kill -9 of the API (gunicorn, master and workers) and of the delivery worker during a burst of 1,000
session ends, with and without Idempotency-Keys, on SQLite and PostgreSQL.

After the kill every acknowledged session is already billed exactly once; the client resends every
unacknowledged event unchanged to a restarted API until each is acknowledged; then every session is
billed exactly once, each event stored once, invoices equal their lines, the journal balances and SQLite
passes ``integrity_check``. Meanwhile ``evbill worker`` delivers ``session.billed`` to an idempotent
webhook receiver and is killed too: after a restart every event reaches the receiver, none twice under
its key.
"""

from __future__ import annotations

import os
import threading
import time

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.storage.db import make_engine
from connector.storage.tables.outbox import DeliveryRow, EventRow
from tests.api.conftest import TARIFF
from tests.events.receiver import Receiver, running
from tests.faults.burst import Burst, check_books, lines_per_session
from tests.faults.processes import HEADERS, Api, Worker

EVENTS = int(os.environ.get("EVBILL_FAULT_EVENTS", "1000"))  # the burst; smaller for a quick look
LEASE = {"EVBILL_IDEMPOTENCY_LEASE_SECONDS": "2", "EVBILL_IDEMPOTENCY_WAIT_SECONDS": "0.5"}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'burst.db'}"
    from tests.api.pg import fresh_database, pg_available

    if not pg_available():
        pytest.skip("PostgreSQL not reachable (EVBILL_TEST_PG_URL)")
    context = fresh_database()
    db_url = context.__enter__()
    request.addfinalizer(lambda: context.__exit__(None, None, None))
    return str(db_url)


def delivered(db: Session) -> int:
    db.expire_all()
    return int(db.scalar(select(func.count()).select_from(DeliveryRow).where(DeliveryRow.status == "sent")) or 0)


@pytest.mark.slow
@pytest.mark.timeout(1500)  # 2 to 5 min a variant on a loaded 2-core machine
@pytest.mark.parametrize("keys", [True, False], ids=["with-keys", "without-keys"])
def test_kill9_api_and_worker_mid_burst(url: str, keys: bool) -> None:
    burst = Burst(f"B{int(time.time() * 1000) % 10**8}", EVENTS, keys)
    with running(Receiver()) as rec:
        first = Api(url, extra=LEASE)
        worker = Worker(url)
        try:
            assert requests.post(first.base + "/v1/tariffs", json=TARIFF, headers=HEADERS, timeout=10).status_code == 201
            sub = requests.post(first.base + "/v1/subscriptions", headers=HEADERS, timeout=10,
                                json={"callback_url": rec.url + "/hook", "event_types": ["session.billed"]})
            assert sub.status_code == 201, sub.text
            killed = threading.Event()

            def kill_at_a_third(acked: int) -> None:
                if acked >= EVENTS // 3 and not killed.is_set():
                    killed.set()
                    first.kill9()  # master and workers, mid-request for several clients
                    worker.kill9()  # mid-delivery

            started = time.monotonic()
            burst.send(first.base, burst.events, kill_at_a_third)
            print(f"burst: {time.monotonic() - started:.1f} s, answers {burst.answers}")
        finally:
            first.stop()
            worker.stop()
        assert killed.is_set()
        unacked = burst.unacked()
        assert 0 < len(unacked) < EVENTS
        engine = make_engine(url)
        try:
            # durability: what was acknowledged before the kill is billed already, once
            acked = sorted(burst.acked)
            assert set(lines_per_session(engine, acked).values()) == {1}
            second = Api(url, extra=LEASE)
            worker = Worker(url)
            try:
                started = time.monotonic()
                burst.resend_until_acked(second.base)
                print(f"resend: {time.monotonic() - started:.1f} s, answers {burst.answers}")
                assert burst.unacked() == [], burst.answers
                assert 500 not in burst.answers, burst.answers
                check_books(engine, burst)
                with Session(engine) as db:
                    billed_events = set(db.scalars(select(EventRow.id).where(EventRow.type == "session.billed")))
                    assert len(billed_events) == EVENTS  # one session.billed per session, none twice
                    deadline = time.monotonic() + 180
                    while delivered(db) < EVENTS and time.monotonic() < deadline:
                        time.sleep(0.5)
                    assert delivered(db) == EVENTS
                    print(f"deliveries done after {time.monotonic() - deadline + 180:.1f} s")
            finally:
                second.stop()
                worker.stop()
        finally:
            engine.dispose()
    sub_id = sub.json()["id"]
    assert set(rec.accepted) == {f"{event_id}:webhook:{sub_id}" for event_id in billed_events}

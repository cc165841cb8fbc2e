"""Idempotency keys under faults: a request killed mid-work (its claim left unanswered) and concurrent
duplicates on a small connection pool. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from connector.billing import intake
from connector.storage import repo
from connector.storage.tables.billing import InvoiceLineRow
from tests.api.conftest import TARIFF, A, make_app

END = {"event_id": "S-K:end", "type": "end", "session_id": "S-K", "timestamp": "2026-01-13T15:00:00Z",
       "session": {"start": "2026-01-13T14:00:00Z", "end": "2026-01-13T15:00:00Z", "energy_kwh": "10",
                   "tariff_id": "T-EUR", "station_id": "ST-1"}}


class Killed(BaseException):
    """What kill -9 does to a request, as far as the database can tell: the work stops, nothing answers."""


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'keys.db'}"
    return str(request.getfixturevalue("pg_url"))


def test_a_killed_request_does_not_hold_its_key_for_ever(db_url, monkeypatch):
    sid = f"S-K{time.monotonic_ns()}"  # the PostgreSQL database lives for the whole test session
    end = {**END, "event_id": f"{sid}:end", "session_id": sid}
    app = make_app(db_url, IDEMPOTENCY_LEASE_SECONDS=0.5, IDEMPOTENCY_WAIT_SECONDS=0.2)
    client = app.test_client()
    headers = {**A, "Idempotency-Key": f"crash-{time.monotonic_ns()}"}
    assert client.post("/v1/tariffs", json=TARIFF, headers=A).status_code in (201, 409)
    real = intake.BillingService.complete_in
    calls: list[int] = []

    def crash_once(self: Any, db: Any, row: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise Killed  # mid-bill: the transaction storing the event and its bill never commits, no answer
        return real(self, db, row)

    monkeypatch.setattr(intake.BillingService, "complete_in", crash_once)
    with pytest.raises(Killed):
        client.post("/v1/sessions/events", json=end, headers=headers)
    # within the lease the key is still someone's: a retry is told to come back (409 + Retry-After)
    early = client.post("/v1/sessions/events", json=end, headers=headers)
    assert early.status_code == 409 and early.headers["Retry-After"]
    time.sleep(0.6)
    retry = client.post("/v1/sessions/events", json=end, headers=headers)
    assert retry.status_code == 202, retry.get_data(as_text=True)  # nothing of the crashed request was kept
    body = retry.get_json()
    assert body["status"] == "accepted" and body["billing"]["amount_due"] == "3.57"
    replay = client.post("/v1/sessions/events", json=end, headers=headers)
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.get_json() == body
    engine = create_engine(db_url)
    with Session(engine) as s:
        lines = s.scalar(select(func.count()).select_from(InvoiceLineRow).where(InvoiceLineRow.session_id == sid))
    engine.dispose()
    assert lines == 1 and len(calls) == 2  # billed once


def test_a_killed_request_before_any_work_is_redone_once(sqlite_url):
    app = make_app(sqlite_url, IDEMPOTENCY_LEASE_SECONDS=0.3, IDEMPOTENCY_WAIT_SECONDS=0.1)
    calls: list[int] = []

    @app.post("/v1/crashy")
    def crashy() -> Any:
        from connector.api.idempotency import idempotent

        return idempotent(_work)()

    def _work() -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise Killed
        return {"n": len(calls)}, 201

    client = app.test_client()
    headers = {**A, "Idempotency-Key": "k"}
    with pytest.raises(Killed):
        client.post("/v1/crashy", json={}, headers=headers)
    time.sleep(0.4)
    first = client.post("/v1/crashy", json={}, headers=headers)
    again = client.post("/v1/crashy", json={}, headers=headers)
    assert first.status_code == again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == {"n": 2} and len(calls) == 2


def test_equivalent_json_bodies_are_one_request(client):
    headers = {**A, "Idempotency-Key": "spacing", "Content-Type": "application/json"}
    first = client.post("/v1/customers", data='{"id": "C-9", "name": "N"}', headers=headers)
    second = client.post("/v1/customers", data='{ "name":"N",\n "id":"C-9" }', headers=headers)
    assert first.status_code == second.status_code == 201 and second.headers["Idempotent-Replayed"] == "true"


@contextmanager
def serve(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


@pytest.mark.postgres
def test_concurrent_duplicates_use_one_connection_each(pg_url):
    """A threaded server on a 3-connection pool, 24 concurrent duplicates with one key and a stored API key:
    one connection per request, released while a duplicate waits, so none gets a 500."""
    engine = create_engine(pg_url, pool_size=3, max_overflow=0, pool_timeout=3)
    app = make_app(pg_url, ENGINE=engine, API_KEYS={})
    with Session(engine) as s:
        key = repo.create_api_key(s, "P")
        s.commit()
    headers = {"X-API-Key": key, "Idempotency-Key": "pool-1"}
    with serve(app) as base, ThreadPoolExecutor(max_workers=24) as pool:
        answers = list(pool.map(lambda _: requests.post(base + "/v1/customers", json={"id": "C-POOL"},
                                                        headers=headers, timeout=60), range(24)))
    statuses = [r.status_code for r in answers]
    assert statuses == [201] * 24, [r.text[:200] for r in answers if r.status_code != 201]
    assert sum(1 for r in answers if "Idempotent-Replayed" not in r.headers) == 1
    engine.dispose()

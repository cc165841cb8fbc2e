"""A write lock held past the busy timeout: 503 with Retry-After (nothing written), never a 500; the health
and readiness checks do not wait behind the writer. SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from connector.storage.db import make_engine
from tests.api.conftest import A, assert_problem, make_app


def _app(url: str):
    engine = make_engine(url, busy_timeout=0.3)
    app = make_app(url, ENGINE=engine)
    return app, engine


def test_sqlite_writer_past_busy_timeout_is_503(sqlite_url):
    app, engine = _app(sqlite_url)
    client = app.test_client()
    assert client.post("/v1/customers", json={"id": "C-1"}, headers=A).status_code == 201
    holder = engine.raw_connection()
    holder.execute("BEGIN IMMEDIATE")  # another process's writer, holding the one write lock
    try:
        started = time.monotonic()
        busy = client.post("/v1/customers", json={"id": "C-2"}, headers={**A, "Idempotency-Key": "busy"})
        assert_problem(busy, 503)
        assert int(busy.headers["Retry-After"]) >= 1 and time.monotonic() - started < 10
        health_started = time.monotonic()
        assert client.get("/v1/health").status_code == 200
        assert client.get("/v1/ready").status_code == 200  # a read does not wait behind a writer (WAL)
        assert time.monotonic() - health_started < 0.3
    finally:
        holder.rollback()
        holder.close()
    # nothing was half-written, and the key was released: the retry does the work
    retry = client.post("/v1/customers", json={"id": "C-2"}, headers={**A, "Idempotency-Key": "busy"})
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers
    engine.dispose()


@pytest.mark.postgres
def test_postgres_row_lock_past_lock_timeout_is_503(pg_url):
    app, engine = _app(pg_url)
    client = app.test_client()
    assert client.post("/v1/customers", json={"id": "C-LOCK"}, headers=A).status_code in (201, 409)
    with engine.connect() as holder:
        holder.execute(text("UPDATE customers SET name = 'held' WHERE tenant_id = 'A' AND customer_id = 'C-LOCK'"))
        busy = client.patch("/v1/customers/C-LOCK", json={"name": "N"}, headers=A)
        assert_problem(busy, 503)
        assert busy.headers["Retry-After"]
        started = time.monotonic()
        assert client.get("/v1/health").status_code == 200 and client.get("/v1/ready").status_code == 200
        assert time.monotonic() - started < 0.3
        holder.rollback()
    assert client.patch("/v1/customers/C-LOCK", json={"name": "N"}, headers=A).get_json()["name"] == "N"
    engine.dispose()

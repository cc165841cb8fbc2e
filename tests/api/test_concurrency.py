"""50 concurrent duplicates of one session-end event against gunicorn (SQLite and PostgreSQL):
exactly one event stored, one priced session, and every answer carries the same price."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.storage.db import make_engine
from connector.storage.tables.core import SessionEventRow, SessionRow
from tests.api.conftest import KEY_A, TARIFF, free_port
from tests.api.pg import fresh_database, pg_available
from tests.paths import REPO

HEADERS = {"X-API-Key": KEY_A}
END = {"event_id": "S-C:end", "type": "end", "session_id": "S-C", "timestamp": "2026-01-13T15:00:00Z",
       "session": {"start": "2026-01-13T14:00:00Z", "end": "2026-01-13T15:00:00Z", "energy_kwh": "10",
                   "tariff_id": "T-EUR", "station_id": "ST-1"}}


@contextmanager
def gunicorn(db_url: str, workers: int = 4, threads: int = 4):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "EVBILL_API_KEYS": f"{KEY_A}=A"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector.cli", "serve", "--workers", str(workers), "--threads", str(threads),
         "--bind", f"127.0.0.1:{port}"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(base + "/v1/ready", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_duplicates(db_url: str) -> None:
    with gunicorn(db_url) as base:
        assert requests.post(base + "/v1/tariffs", json=TARIFF, headers=HEADERS, timeout=10).status_code == 201
        with ThreadPoolExecutor(max_workers=50) as pool:
            responses = list(pool.map(
                lambda _: requests.post(base + "/v1/sessions/events", json=END, headers=HEADERS, timeout=60),
                range(50)))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] * 49 + [202], [r.text[:300] for r in responses if r.status_code != 200]
        bodies = [r.json() for r in responses]
        assert sorted(b["status"] for b in bodies) == ["accepted"] + ["duplicate"] * 49
        invoices = requests.get(base + "/v1/invoices", params={"session_id": "S-C"}, headers=HEADERS,
                                timeout=10).json()["items"]
        lines = [line for inv in invoices for line in inv["lines"] if line.get("session_id") == "S-C"]
        assert len(lines) == 1, lines  # one invoice line, however many duplicates arrived
        session = requests.get(base + "/v1/sessions/S-C", headers=HEADERS, timeout=10).json()
        assert session["rating"]["invoice"]["gross_total"] == "3.57"
    engine = make_engine(db_url)
    with Session(engine) as db:
        assert db.scalar(select(func.count()).select_from(SessionEventRow)) == 1
        assert db.scalar(select(func.count()).select_from(SessionRow).where(SessionRow.rating.is_not(None))) == 1
    engine.dispose()


def test_duplicate_end_events_sqlite(tmp_path):
    run_duplicates(f"sqlite:///{tmp_path / 'concurrent.db'}")


@pytest.mark.postgres
def test_duplicate_end_events_postgres():
    if not pg_available():
        pytest.skip("PostgreSQL not reachable (EVBILL_TEST_PG_URL)")
    with fresh_database() as url:
        run_duplicates(url)

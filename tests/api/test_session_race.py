"""Start and end of a new session arriving together: both find no session row; one must wait for the other's
row instead of failing on the primary key (a 500), or overwriting the row with a merge that never saw it (an
"accepted" end lost: the session stays unbilled). PostgreSQL and SQLite, under a
threaded server."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from connector.storage.tables.billing import BillingSessionRow
from tests.api.conftest import KEY_A, TARIFF, A, make_app
from tests.api.test_idempotency_faults import serve

N = 40


def _events(i: int, prefix: str) -> list[dict[str, Any]]:
    sid = f"{prefix}-{i}"
    session = {"start": "2026-01-13T14:00:00Z", "tariff_id": "T-EUR", "station_id": "ST-1"}
    return [
        {"event_id": f"{sid}:start", "type": "start", "session_id": sid, "timestamp": "2026-01-13T14:00:00Z",
         "session": session},
        {"event_id": f"{sid}:end", "type": "end", "session_id": sid, "timestamp": "2026-01-13T15:00:00Z",
         "session": {**session, "end": "2026-01-13T15:00:00Z", "energy_kwh": "10"}},
    ]


def run_race(url: str, prefix: str) -> None:
    engine = create_engine(url, pool_size=12, max_overflow=4) if url.startswith("postgresql") else None
    app = make_app(url, **({"ENGINE": engine} if engine is not None else {}))
    with serve(app) as base:
        created = requests.post(base + "/v1/tariffs", json=TARIFF, headers=A, timeout=10)
        assert created.status_code in (201, 409)
        gates = [threading.Barrier(2) for _ in range(N)]

        def send(job: tuple[int, dict[str, Any]]) -> requests.Response:
            i, event = job
            gates[i].wait(timeout=30)  # start and end leave together
            return requests.post(base + "/v1/sessions/events", json=event, headers={"X-API-Key": KEY_A}, timeout=60)

        jobs = [(i, ev) for i in range(N) for ev in _events(i, prefix)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(send, jobs))
    bad = [(r.status_code, r.text[:200]) for r in answers if r.status_code not in (200, 202)]
    assert bad == []
    unbilled = [r.json() for r in answers if "billing_error" in r.json()]
    assert unbilled == []
    check = create_engine(url)
    with Session(check) as s:
        billed = s.scalar(select(func.count()).select_from(BillingSessionRow)
                          .where(BillingSessionRow.session_id.like(f"{prefix}-%")))
    check.dispose()
    # an end that arrived before its start merged a session whose start came with it: every session is billed
    assert billed == N


def test_new_session_race_sqlite(sqlite_url):
    run_race(sqlite_url, "SQ")


@pytest.mark.postgres
def test_new_session_race_postgres(pg_url):
    run_race(pg_url, "PG")

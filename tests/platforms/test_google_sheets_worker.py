"""Billed sessions through the real outbox worker to Google Sheets (registry, per-tenant settings with an
``env:`` secret reference), with 5xx/429s, an append that landed but answered 503, and a worker restart:
the spreadsheet ends with exactly one row per session and the right totals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from connector.events import worker
from connector.events.deliveries import Policy
from connector.events.outbox import emit
from connector.platforms.adapters.google_sheets import sync as sync_module
from connector.platforms.adapters.google_sheets.client import BoundedRetryClient
from connector.storage.tables import all_metadata
from connector.storage.tables.outbox import DeliveryRow
from connector.storage.tables.platforms import PlatformConfigRow
from tests.platforms.fakes.google_sheets import SPREADSHEET_ID, Google
from tests.platforms.sheets_events import billed_event

POLICY = Policy(max_attempts=8, base_delay=1, max_delay=5)
T0 = datetime(2026, 1, 13, 23, 0, tzinfo=UTC)
EVENTS = [billed_event(f"S-{i}", f"2026-01-13T{8 + i:02d}:00:00Z", f"{10 + i}") for i in range(5)]


def emit_events(engine: Any, events: list[dict[str, Any]]) -> None:
    with Session(engine) as db:
        for n, event in enumerate(events):
            emit(db, "t1", "session.billed", event["data"], created_at=T0 + timedelta(minutes=n))
        db.commit()


def test_worker_restart_and_failures_leave_one_row_per_session(google: Google, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(sync_module, "_sleep", waits.append)
    monkeypatch.setattr(BoundedRetryClient, "sleep", staticmethod(waits.append))
    monkeypatch.setenv("EVBILL_TEST_GSA", json.dumps(google.info))
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    engine = create_engine(url)
    all_metadata().create_all(engine)
    with Session(engine) as db:
        db.add(PlatformConfigRow(tenant_id="t1", platform="google_sheets", enabled=True, field_mapping={},
                                 config={"spreadsheet_id": SPREADSHEET_ID, "service_account_info": "env:EVBILL_TEST_GSA",
                                         "api_base": google.url}))
        db.commit()
    emit_events(engine, EVENTS[:3])
    fake = google.fake
    for _ in range(4):
        fake.inject("metadata", 503)      # the first delivery exhausts the client's 4 attempts: back to the worker
    fake.inject("append", 503, apply=True)  # written, then an error: the sync re-reads instead of appending again
    for _ in range(3):
        fake.inject("append", 500)        # three failed rounds: the worker retries that session later
    fake.inject("batchGet", 429, retry_after="2")

    now = T0 + timedelta(hours=1)
    for n in range(8):
        if n == 3:  # worker restart; the rest of the day's sessions arrive after it, one of them twice
            engine.dispose()
            engine = create_engine(url)
            emit_events(engine, [*EVENTS[3:], EVENTS[1]])
        worker.run_once(engine, now, policy=POLICY)
        now += timedelta(minutes=10)

    with Session(engine) as db:
        rows = db.scalars(select(DeliveryRow)).all()
    assert {r.status for r in rows} == {"sent"}, [(r.target, r.status, r.last_error) for r in rows if r.status != "sent"]
    assert max(r.attempts for r in rows) >= 2  # some delivery really went back to the worker
    ids = [r[0] for r in fake.tabs["Sessions"][1:]]
    assert sorted(ids) == ["S-0", "S-1", "S-2", "S-3", "S-4"]  # each once (S-0 landed late, after its retries)
    # 10..14 kWh, all at the 0.40 peak price (09:00-13:00 Berlin), 19 % VAT per session
    assert {r[0]: r[10:14] for r in fake.shown("Sessions")[1:]} == {
        "S-0": ["4.00 EUR", "0.76 EUR", "4.76 EUR", "4.76 EUR"], "S-1": ["4.40 EUR", "0.84 EUR", "5.24 EUR", "5.24 EUR"],
        "S-2": ["4.80 EUR", "0.91 EUR", "5.71 EUR", "5.71 EUR"], "S-3": ["5.20 EUR", "0.99 EUR", "6.19 EUR", "6.19 EUR"],
        "S-4": ["5.60 EUR", "1.06 EUR", "6.66 EUR", "6.66 EUR"]}
    assert fake.tabs["Summary"][1] == ["2026-01-13", "ST-1", "public", "EUR", 5, 60, 24, 4.56, 28.56, 28.56]
    assert fake.tabs["Exceptions"][1:] == [] and fake.invalid == []
    assert not any(fake.injected.values())  # every injected failure was really served
    assert waits and all(w <= 30 for w in waits)

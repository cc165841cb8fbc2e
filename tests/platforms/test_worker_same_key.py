"""Deterministic reproduction of the worker defect the day-through-outbox test can hit by chance.

Two ``session.billed`` events of one draft invoice reach SendGrid in the same worker batch: both are
skipped (draft), but ``_already_sent`` reads the first row from the pass's identity map with a stale
``result=None`` (``expire_on_commit=False`` + ``finish`` as a Core UPDATE) and records the second as a
"duplicate" of it. When the invoice is finalized, that phantom duplicate makes the worker skip the real
receipt: the customer never gets it. Expected: exactly one email. Fixed in the worker (the lookup refreshes
rows from the database).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session as DbSession

from connector.events import worker
from connector.events.deliveries import Policy
from connector.events.outbox import emit
from connector.storage.tables import all_metadata
from connector.storage.tables.outbox import DeliveryRow
from tests.platforms.events import billed_event
from tests.platforms.fakes.messaging_and_crm import FakeVendors

T0 = datetime(2026, 1, 13, 22, 0, tzinfo=UTC)


def test_receipt_after_two_draft_sessions_in_one_batch(messaging: FakeVendors, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = {"tenants": {"t1": {"sendgrid": {"enabled": True, "config": {
        "api_key": "env:T_SG", "from_email": "billing@evcharge.example", "base_url": messaging.url}}}}}
    (tmp_path / "platforms.json").write_text(json.dumps(settings))
    monkeypatch.setenv("EVBILL_PLATFORMS_FILE", str(tmp_path / "platforms.json"))
    monkeypatch.setenv("T_SG", "SG.test")
    monkeypatch.delenv("EVBILL_DRY_RUN_FILE", raising=False)
    engine = create_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    all_metadata().create_all(engine)
    first, second = billed_event(sid="S-1"), billed_event(sid="S-2")
    for event in (first, second):  # both sessions on the customer's open draft
        event["data"]["invoice"]["status"] = "draft"
        event["data"]["invoice"]["id"] = "inv_draft_1"
    policy = Policy(base_delay=1.0, max_delay=5.0)
    with DbSession(engine) as db:
        emit(db, "t1", "session.billed", first["data"], created_at=T0)
        emit(db, "t1", "session.billed", second["data"], created_at=T0)
        db.commit()
    worker.run_once(engine, now=T0, policy=policy)  # one batch: both rows
    finalized = copy.deepcopy(second["data"]["invoice"]) | {"status": "finalized", "number": "INV-0001"}
    with DbSession(engine) as db:
        emit(db, "t1", "invoice.finalized", {"invoice": finalized}, created_at=T0 + timedelta(minutes=1))
        db.commit()
    worker.run_once(engine, now=T0 + timedelta(minutes=1), policy=policy)
    with DbSession(engine) as db:
        results = [r.result for r in db.scalars(select(DeliveryRow).order_by(DeliveryRow.created_at))]
    assert [r["status"] for r in results[:2]] == ["skipped", "skipped"], results
    assert len(messaging.emails) == 1, results

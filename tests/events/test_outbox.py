"""emit: the envelope shape, the caller's transaction (rollback leaves nothing), JSON-safe data."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.events.envelope import EventError
from connector.events.outbox import emit
from connector.storage.tables.outbox import EventRow


def count(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(EventRow)) or 0)


def test_emit_returns_envelope_and_commits_with_the_caller(db: Session) -> None:
    at = datetime(2026, 1, 13, 15, 30, tzinfo=UTC)
    event = emit(db, "t1", "session.billed", {"amount_due": Decimal("3.57"), "at": at}, created_at=at)
    assert event["id"].startswith("evt_") and len(event["id"]) == 36
    assert event == {"id": event["id"], "type": "session.billed", "tenant_id": "t1",
                     "created_at": "2026-01-13T15:30:00Z",
                     "data": {"amount_due": "3.57", "at": "2026-01-13T15:30:00Z"}}
    db.commit()
    row = db.get(EventRow, event["id"])
    assert row is not None and row.data == {"amount_due": "3.57", "at": "2026-01-13T15:30:00Z"}


def test_emit_in_rolled_back_transaction_leaves_nothing(db: Session) -> None:
    emit(db, "t1", "invoice.finalized", {"invoice": {"id": "inv_1"}})
    assert count(db) == 1  # visible inside the transaction (flushed)
    db.rollback()
    assert count(db) == 0


def test_emit_rejects_what_json_cannot_carry(db: Session) -> None:
    with pytest.raises(EventError) as exc:
        emit(db, "t1", "session.billed", {"rating": {"net": Decimal("NaN")}})
    assert exc.value.field == "data.rating.net"
    with pytest.raises(EventError) as exc:
        emit(db, "t1", "billing.anomaly", {"anomaly": {"details": {"ratio": float("inf")}}})
    assert exc.value.field == "data.anomaly.details.ratio"
    with pytest.raises(EventError) as exc:
        emit(db, "t1", "billing.anomaly", {"anomaly": {"stations": {"A", "B"}}})
    assert (exc.value.field, exc.value.reason) == ("data.anomaly.stations", "set is not JSON-safe")
    ok = emit(db, "t1", "billing.anomaly", {"anomaly": {"details": {"meter": [0, -3.2]}}})
    assert ok["data"] == {"anomaly": {"details": {"meter": [0, -3.2]}}}
    with pytest.raises(EventError) as exc:
        emit(db, "t1", "Not A Type", {})
    assert exc.value.field == "type"

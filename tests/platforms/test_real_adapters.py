"""The SendGrid and Jira adapters through the real worker and settings against the local vendor
doubles of tests/platforms/fakes: injected 429/500, a fresh worker pass after each failure, one email and one
ticket in the end; the Jira ticket store is injected by the registry on the worker's engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from connector.events import worker
from connector.events.deliveries import Policy
from connector.events.outbox import emit
from connector.platforms import registry, settings
from connector.storage.tables.outbox import DeliveryRow
from tests.platforms.events import billed_event
from tests.platforms.fakes.messaging_and_crm import FakeVendors

T0 = datetime(2026, 1, 13, 15, 30, tzinfo=UTC)
POLICY = Policy(max_attempts=5, base_delay=1, max_delay=60, lease_seconds=30)
ANOMALY = {"id": "an_42", "rule": "duplicate_session", "severity": "high", "session_id": "S-100",
           "station_id": "ST-7", "message": "Session S-100 reported twice", "details": {"energy_kwh": "23.4"}}


def configure(db: Session, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SG_KEY", "SG.test")
    monkeypatch.setenv("JIRA_TOKEN", "jira-token")
    settings.put(db, "t1", registry.get("sendgrid"), True,
                 {"api_key": "env:SG_KEY", "from_email": "billing@evcharge.example", "base_url": url}, {})
    settings.put(db, "t1", registry.get("jira"), True,
                 {"base_url": url, "email": "bot@evcharge.example", "api_token": "env:JIRA_TOKEN",
                  "project_key": "EVB"}, {})
    db.commit()


def drain(engine: Engine) -> list[dict[str, int]]:
    """Worker passes (each a fresh start: no state outside the database) until nothing is due."""
    passes, at = [], T0
    for _ in range(10):
        counts = worker.run_once(engine, at, policy=POLICY)
        passes.append(counts)
        if counts["claimed"] == 0 and counts["events"] == 0:
            break
        at += timedelta(seconds=120)
    return passes


def test_receipt_and_ticket_once_despite_429_500_and_repeats(engine: Engine, db: Session, messaging: FakeVendors,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    configure(db, messaging.url, monkeypatch)
    billed = billed_event("EUR", "de_DE")
    messaging.fail("/v3/mail/send", 429, 500, retry_after="2")
    messaging.fail("/rest/api/3/issue", 500)
    emit(db, "t1", "session.billed", billed["data"])
    emit(db, "t1", "invoice.finalized", {"invoice": billed["data"]["invoice"]})  # same invoice: one receipt
    emit(db, "t1", "billing.anomaly", {"anomaly": ANOMALY})
    emit(db, "t1", "billing.anomaly", {"anomaly": ANOMALY})  # emitted again: one ticket
    db.commit()
    passes = drain(engine)
    assert sum(p["retry"] for p in passes) == 3 and sum(p["failed"] + p["dead"] for p in passes) == 0
    rows = {(r.target, r.event_id): r for r in db.scalars(select(DeliveryRow))}
    assert len(rows) == 4 and {r.status for r in rows.values()} == {"sent"}
    assert len(messaging.emails) == 1 and len(messaging.jira_issues) == 1
    assert len(messaging.calls("/v3/mail/send")) == 3  # 429, 500, 202
    mail = next(r for r in rows.values() if r.target == "platform:sendgrid" and r.result["status"] == "sent")
    # both SendGrid rows were claimed in the first pass: one got the 429, the other the 500
    assert mail.attempts == 2 and mail.result["ref"].startswith("msg-") and mail.result["to"] == "jane@example.com"
    assert 'data-total="amount_due" data-amount="12.05"' in messaging.emails[0]["content"][1]["value"]
    outcomes = sorted(r.result["status"] for r in rows.values())
    assert outcomes == ["duplicate", "duplicate", "sent", "sent"]
    ticket = next(r for r in rows.values() if r.target == "platform:jira" and r.result["status"] == "sent")
    assert ticket.result == {"status": "sent", "ref": "EVB-1"} and ticket.idempotency_key == "jira:t1:an_42"

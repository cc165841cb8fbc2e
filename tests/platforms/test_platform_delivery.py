"""Platform adapters through the real worker and API: per-tenant settings, env secrets resolved at send
time, retries recorded on the row, dedupe on the adapter's idempotency key, disabled = no fan-out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from connector.api import create_app
from connector.events import worker
from connector.events.deliveries import Policy
from connector.events.outbox import emit
from connector.platforms import registry
from connector.storage.tables.outbox import DeliveryRow
from tests.platforms.fakes import echo_adapter
from tests.platforms.fakes.scripted import vendor

A = {"X-API-Key": "key-a"}
T0 = datetime(2026, 1, 13, 15, 30, tzinfo=UTC)
POLICY = Policy(max_attempts=4, base_delay=1, lease_seconds=30)
INVOICE = {"id": "inv_1", "amount_due": "357", "currency": "EUR"}


@pytest.fixture(autouse=True)
def with_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    real = registry.discover
    monkeypatch.setattr(registry, "discover",
                        lambda: {**real(), "echo": registry.Platform("echo", echo_adapter, echo_adapter.EVENTS)})
    monkeypatch.setenv("ECHO_KEY", "sk_echo_secret_123")


def client(engine: Engine) -> Any:
    return create_app({"ENGINE": engine, "DATABASE_URL": str(engine.url), "API_KEYS": {"key-a": "A"},
                       "TESTING": True}).test_client()


def rows(db: Session) -> list[DeliveryRow]:
    db.expire_all()
    return list(db.scalars(select(DeliveryRow).order_by(DeliveryRow.created_at, DeliveryRow.id)))


def test_configure_via_api_deliver_retry_and_dedupe(engine: Engine, db: Session) -> None:
    c = client(engine)
    script = [(429, {"Retry-After": "3"}, b"{}"), (200, {}, b'{"id": "rec_1"}')]
    with vendor(script) as v:
        literal = c.put("/v1/platforms/echo", headers=A, json={"enabled": True, "config": {
            "api_key": "sk_echo_secret_123", "base_url": v["url"]}})
        assert literal.status_code == 422 and literal.get_json()["errors"][0]["field"] == "config.api_key"
        missing = c.put("/v1/platforms/echo", headers=A, json={"enabled": True, "config": {"api_key": "env:ECHO_KEY"}})
        assert missing.status_code == 422 and missing.get_json()["errors"][0]["field"] == "config.base_url"
        put = c.put("/v1/platforms/echo", headers=A, json={
            "enabled": True, "config": {"api_key": "env:ECHO_KEY", "base_url": v["url"]},
            "field_mapping": {"revenue_account": "8400"}})
        assert put.status_code == 200, put.text
        shown = c.get("/v1/platforms/echo", headers=A).get_json()
        assert shown["config"] == {"api_key": "env:ECHO_KEY", "base_url": v["url"]}
        assert (shown["enabled"], shown["configured"], shown["source"]) == (True, True, "database")
        assert "sk_echo_secret_123" not in c.get("/v1/platforms", headers=A).get_data(as_text=True)
        assert c.get("/v1/platforms/nope", headers=A).status_code == 404

        emit(db, "A", "session.billed", {"invoice": INVOICE})
        emit(db, "A", "invoice.finalized", {"invoice": INVOICE})  # same invoice: the adapter key dedupes
        emit(db, "A", "journal.posted", {"entry": {}})  # echo does not handle it: no delivery
        db.commit()
        first = worker.run_once(engine, T0, policy=POLICY)
        assert (first["events"], first["created"], first["retry"], first["sent"]) == (3, 2, 1, 1)
        billed, finalized = rows(db)
        assert billed.status == "pending" and billed.next_attempt_at.replace(tzinfo=UTC) == T0 + timedelta(seconds=3)
        assert billed.idempotency_key == finalized.idempotency_key == "echo:A:inv_1"
        assert finalized.status == "sent" and finalized.result == {"status": "sent", "ref": "rec_1"}
        second = worker.run_once(engine, T0 + timedelta(seconds=3), policy=POLICY)
        assert second["sent"] == 1
    billed = rows(db)[0]
    assert billed.status == "sent" and billed.result == {"status": "duplicate", "of": finalized.id, "ref": "rec_1"}
    assert len(v["requests"]) == 2  # the 429 and the accepted one; the duplicate never left
    accepted = v["requests"][1]
    assert accepted["headers"]["Authorization"] == "Bearer sk_echo_secret_123"
    assert accepted["headers"]["Idempotency-Key"] == "echo:A:inv_1"
    assert b'"account": "8400"' in accepted["body"]  # field mapping reached the adapter


def test_disabled_platform_gets_no_deliveries_and_missing_env_is_permanent(engine: Engine, db: Session,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    c = client(engine)
    cfg = {"api_key": "env:ECHO_KEY", "base_url": "http://127.0.0.1:9"}
    assert c.put("/v1/platforms/echo", headers=A, json={"enabled": True, "config": cfg}).status_code == 200
    off = c.put("/v1/platforms/echo", headers=A, json={"enabled": False})
    assert off.status_code == 200 and off.get_json()["config"] == cfg  # omitted config kept
    emit(db, "A", "session.billed", {"invoice": INVOICE})
    db.commit()
    assert worker.run_once(engine, T0, policy=POLICY)["created"] == 0
    assert c.put("/v1/platforms/echo", headers=A, json={"enabled": True}).status_code == 200
    monkeypatch.delenv("ECHO_KEY")
    emit(db, "A", "session.billed", {"invoice": {**INVOICE, "id": "inv_2"}})
    db.commit()
    assert worker.run_once(engine, T0, policy=POLICY)["failed"] == 1
    [row] = rows(db)
    assert row.status == "failed" and row.last_error == "config.api_key: environment variable ECHO_KEY is not set"


def test_config_file_enables_a_platform(engine: Engine, db: Session, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    with vendor([(200, {}, b'{"id": "rec_f"}')]) as v:
        path = tmp_path / "platforms.yaml"
        path.write_text(f"tenants:\n  A:\n    echo:\n      config: {{api_key: 'env:ECHO_KEY', base_url: '{v['url']}'}}\n"
                        "      field_mapping: {revenue_account: '8338'}\n")
        monkeypatch.setenv("EVBILL_PLATFORMS_FILE", str(path))
        shown = client(engine).get("/v1/platforms/echo", headers=A).get_json()
        assert (shown["enabled"], shown["source"]) == (True, "file")
        emit(db, "A", "invoice.finalized", {"invoice": INVOICE})
        emit(db, "B", "invoice.finalized", {"invoice": INVOICE})  # tenant B has no echo settings
        db.commit()
        assert worker.run_once(engine, T0, policy=POLICY)["sent"] == 1
    [row] = rows(db)
    assert (row.tenant_id, row.result) == ("A", {"status": "sent", "ref": "rec_f"})
    assert b'"account": "8338"' in v["requests"][0]["body"]

"""Per-tenant settings: secret references resolved only at send time, validation naming the field, the
config file (YAML and JSON), a database row winning over the file, and dry-run through the worker."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from connector.events import worker
from connector.events.deliveries import Policy
from connector.events.outbox import emit
from connector.events.subscriptions import create_subscription
from connector.platforms import registry, settings
from connector.platforms.settings import PlatformSettings, SettingsError
from connector.storage.tables.outbox import DeliveryRow
from connector.storage.tables.platforms import PlatformConfigRow
from connector.validation import NotFound


def test_secret_references_resolve_at_send_time(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    sheets = registry.get("google_sheets")
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps({"type": "service_account", "client_email": "x@y.iam"}) + "\n")
    current = PlatformSettings(True, {"spreadsheet_id": "1AbCdEfGhIjKlMnOp",
                                      "service_account_info": f"file:{key_file}"}, {}, "database")
    settings.validate(sheets, current)  # a reference passes although the field is a dict
    config = settings.build_config(sheets, current)
    assert config.service_account_info == {"type": "service_account", "client_email": "x@y.iam"}  # type: ignore[union-attr]
    jira = registry.get("jira")
    cfg = {"base_url": "https://x.atlassian.net", "email": "bot@x.example", "api_token": "env:JIRA_T",
           "project_key": "EVB"}
    with pytest.raises(SettingsError) as missing:
        settings.build_config(jira, PlatformSettings(True, cfg))
    assert (missing.value.field, missing.value.reason) == ("config.api_token", "environment variable JIRA_T is not set")
    monkeypatch.setenv("JIRA_T", "tok-123")
    built = settings.build_config(jira, PlatformSettings(True, cfg))
    assert built.api_token == "tok-123" and "tok-123" not in repr(built)  # type: ignore[union-attr]


def test_validation_names_the_field() -> None:
    jira = registry.get("jira")
    base = {"base_url": "https://x.atlassian.net", "email": "bot@x.example", "api_token": "env:T"}
    with pytest.raises(SettingsError) as literal:
        settings.validate(jira, PlatformSettings(True, {**base, "api_token": "tok-123", "project_key": "EVB"}))
    assert literal.value.field == "config.api_token" and "env:VAR" in literal.value.reason
    with pytest.raises(SettingsError) as bad:
        settings.validate(jira, PlatformSettings(True, {**base, "project_key": "lower"}))
    assert bad.value.field == "config.project_key"
    with pytest.raises(SettingsError) as extra:
        settings.validate(jira, PlatformSettings(True, {**base, "project_key": "EVB", "colour": "red"}))
    assert extra.value.field == "config.colour"


def test_public_view_masks_a_literal_that_slipped_into_the_database(db: Session) -> None:
    db.add(PlatformConfigRow(tenant_id="t1", platform="jira", enabled=True, field_mapping={},
                             config={"api_token": "tok-literal", "email": "bot@x.example"}))
    db.commit()
    shown = settings.get_platform(db, "t1", "jira")
    assert shown["config"] == {"api_token": "***", "email": "bot@x.example"}
    assert shown["source"] == "database" and shown["enabled"] is True
    with pytest.raises(NotFound):
        settings.get_platform(db, "t1", "nope")


def test_file_json_and_row_precedence(db: Session, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "platforms.json"
    path.write_text(json.dumps({"tenants": {"t1": {"slack": {"enabled": True, "config": {
        "webhook_url": "env:SLACK_HOOK"}}}}}))
    monkeypatch.setenv("EVBILL_PLATFORMS_FILE", str(path))
    assert settings.effective(db, "t1", "slack") == PlatformSettings(True, {"webhook_url": "env:SLACK_HOOK"}, {},
                                                                     "file")
    assert settings.effective(db, "t2", "slack").configured is False
    settings.put_platform(db, "t1", "slack", {"enabled": False})
    db.commit()
    now = settings.effective(db, "t1", "slack")
    assert (now.enabled, now.source, now.config) == (False, "database", {"webhook_url": "env:SLACK_HOOK"})
    with pytest.raises(SettingsError) as bad:
        settings.put_platform(db, "t1", "slack", {"enabled": "yes"})
    assert bad.value.field == "enabled"
    with pytest.raises(SettingsError) as unknown:
        settings.put_platform(db, "t1", "slack", {"enabled": True, "secret": "x"})
    assert unknown.value.field == "secret"


def test_dry_run_through_the_worker(engine: Engine, db: Session, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "dry.jsonl"
    monkeypatch.setenv("EVBILL_DRY_RUN_FILE", str(out))
    sub = create_subscription(db, "t1", "https://receiver.example/hook", ["invoice.paid"])
    event = emit(db, "t1", "invoice.paid", {"invoice": {"id": "inv_7", "amount_due": "0"}})
    db.commit()
    counts = worker.run_once(engine, datetime(2026, 1, 13, tzinfo=UTC), policy=Policy())
    assert counts["sent"] == 1
    [line] = [json.loads(x) for x in out.read_text().splitlines()]
    assert (line["method"], line["url"], line["target"]) == ("POST", "https://receiver.example/hook",
                                                             f"webhook:{sub['id']}")
    assert line["json"] == event and line["headers"]["X-Evbill-Signature"] == "***"
    assert line["headers"]["Idempotency-Key"] == f"{event['id']}:webhook:{sub['id']}"
    [row] = db.scalars(select(DeliveryRow)).all()
    assert row.status == "sent" and row.result == {"status": "sent", "http_status": 200}

"""connector.config: the one reader of the environment, its defaults and parsing, and the docs that list it."""

from __future__ import annotations

import ast
import re
from dataclasses import fields
from pathlib import Path

import pytest

from connector import config
from connector.config import (
    ApiSettings,
    ConfigError,
    DatabaseSettings,
    OutboxSettings,
    PlatformsSettings,
    RetentionSettings,
    ServeSettings,
    SpreadsheetSettings,
    WebhookSettings,
)
from tests.paths import REPO

ROOT = REPO
ENVIRONMENT_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def _environment_reads(path: Path) -> list[str]:
    """``os.environ`` / ``os.getenv`` (also imported by name) in one module, as ``line: text``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if (isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT_NAMES
                and isinstance(node.value, ast.Name) and node.value.id == "os"):
            found.append(f"{node.lineno}: os.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [f"{node.lineno}: from os import {a.name}" for a in node.names if a.name in ENVIRONMENT_NAMES]
    return found


def test_config_is_the_only_module_that_reads_the_environment() -> None:
    offenders = {str(p.relative_to(ROOT)): reads
                 for folder in ("connector", "excel_addin") for p in sorted((ROOT / folder).rglob("*.py"))
                 if p != ROOT / "connector" / "config.py" and (reads := _environment_reads(p))}
    assert offenders == {}
    assert _environment_reads(ROOT / "connector" / "config.py")  # the walk does find a real read


def test_config_imports_only_the_standard_library() -> None:
    tree = ast.parse((ROOT / "connector" / "config.py").read_text(encoding="utf-8"))
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert modules <= {"__future__", "json", "os", "collections.abc", "dataclasses", "datetime", "typing"}


def test_defaults_with_an_empty_environment() -> None:
    settings = config.load({})
    assert tuple(type(getattr(settings, f.name)) for f in fields(settings)) == config.SECTIONS
    assert settings.database == DatabaseSettings("sqlite:///evbill.db", True)
    assert settings.api == ApiSettings(16 * 1024 * 1024, 10000, 4 * 1024 * 1024, 10.0, 20.0, None, None, None, "tid", {}, (), (), {},
                                       60.0, None, {}, 0)
    assert settings.serve == ServeSettings(2, 1, "127.0.0.1:8080")
    assert settings.outbox.policy() == {} and settings.outbox.dry_run_file is None
    assert settings.webhooks.allow_private_networks is False
    assert (settings.platforms.platforms_file, settings.platforms.token_key) == (None, None)
    assert settings.scheduler.outbox_prune_at is None
    assert (settings.retention.outbox_days, settings.retention.idempotency_hours) == (90.0, 24.0)
    assert settings.spreadsheets == SpreadsheetSettings("UTC", None, "default")
    assert settings.serverless.tenant_id == "default"


def test_each_variable_is_parsed_as_before() -> None:
    api = ApiSettings.from_environ({
        "EVBILL_MAX_BODY_BYTES": "1024", "EVBILL_BATCH_MAX_SESSIONS": "5", "EVBILL_IDEMPOTENCY_WAIT_SECONDS": "0.5",
        "EVBILL_SHEET_TIME_BUDGET_SECONDS": "7.5", "EVBILL_JWT_ISSUER": "", "EVBILL_JWT_AUDIENCE": "api://evbill",
        "EVBILL_JWT_TENANT_MAP": "entra-1 = A, entra-2=B,junk", "EVBILL_JWT_ROLES": " billing.read, ,admin ",
        "EVBILL_CORS_ORIGINS": "https://a.example,https://b.example", "EVBILL_API_KEYS": '{"k1": "A", "k2": 7}'})
    assert (api.max_body_bytes, api.batch_max_sessions, api.idempotency_wait_seconds) == (1024, 5, 0.5)
    assert (api.sheet_time_budget_seconds, api.jwt_issuer, api.jwt_audience) == (7.5, None, "api://evbill")
    assert api.jwt_tenant_map == {"entra-1": "A", "entra-2": "B"}
    assert api.jwt_roles == ("billing.read", "admin") and api.cors_origins == ("https://a.example", "https://b.example")
    assert api.api_keys == {"k1": "A", "k2": "7"}
    for off in ("0", "false", "no"):
        assert DatabaseSettings.from_environ({"EVBILL_CREATE_TABLES": off}).create_tables is False
    assert DatabaseSettings.from_environ({"EVBILL_CREATE_TABLES": "False"}).create_tables is True  # exact words only
    for on in ("1", "true", " YES ", "on"):
        assert WebhookSettings.from_environ({"EVBILL_WEBHOOK_ALLOW_PRIVATE_NETWORKS": on}).allow_private_networks
    assert not WebhookSettings.from_environ({"EVBILL_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "sure"}).allow_private_networks
    outbox = OutboxSettings.from_environ({"EVBILL_OUTBOX_MAX_ATTEMPTS": "3", "EVBILL_OUTBOX_BASE_DELAY": "0.5",
                                          "EVBILL_DRY_RUN_FILE": "out.jsonl"})
    assert outbox.policy() == {"max_attempts": 3, "base_delay": 0.5} and outbox.dry_run_file == "out.jsonl"
    assert SpreadsheetSettings.from_environ({"EVBILL_DEFAULT_TIME_ZONE": ""}).default_time_zone == "UTC"
    retention = RetentionSettings.from_environ({"EVBILL_OUTBOX_RETENTION_DAYS": "0.5"})
    assert retention.events_older_than.total_seconds() == 43200 and retention.idempotency_older_than.days == 1


@pytest.mark.parametrize(("section", "name", "value", "message"), [
    (ApiSettings, "EVBILL_MAX_BODY_BYTES", "16MB", "EVBILL_MAX_BODY_BYTES: '16MB' is not a whole number"),
    (ApiSettings, "EVBILL_IDEMPOTENCY_WAIT_SECONDS", "ten", "EVBILL_IDEMPOTENCY_WAIT_SECONDS: 'ten' is not a number"),
    (ApiSettings, "EVBILL_API_KEYS", "{nope", "EVBILL_API_KEYS: not a JSON object"),
    (ServeSettings, "EVBILL_WORKERS", "two", "EVBILL_WORKERS: 'two' is not a whole number"),
    (OutboxSettings, "EVBILL_OUTBOX_BATCH", "1.5", "EVBILL_OUTBOX_BATCH: '1.5' is not a whole number"),
    (RetentionSettings, "EVBILL_OUTBOX_RETENTION_DAYS", "ninety", "EVBILL_OUTBOX_RETENTION_DAYS: 'ninety' is not a number"),
    (RetentionSettings, "EVBILL_IDEMPOTENCY_RETENTION_HOURS", "0", "EVBILL_IDEMPOTENCY_RETENTION_HOURS: must be greater than 0"),
])
def test_a_bad_value_names_its_variable(section: type[config.Section], name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as bad:
        section.from_environ({name: value})
    assert str(bad.value) == message and isinstance(bad.value, ValueError)


def test_a_bad_value_stops_only_the_sections_that_use_it() -> None:
    environ = {"EVBILL_OUTBOX_RETENTION_DAYS": "ninety"}
    assert ApiSettings.from_environ(environ) == ApiSettings()  # the API starts
    with pytest.raises(ConfigError):
        config.load(environ)


def test_the_environment_is_read_when_asked_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///one.db")
    assert DatabaseSettings.from_environ().url == "sqlite:///one.db"
    monkeypatch.setenv("DATABASE_URL", "sqlite:///two.db")
    assert config.load().database.url == "sqlite:///two.db"
    monkeypatch.setenv("VENDOR_KEY", "sk_1")
    assert config.env_secret("VENDOR_KEY") == "sk_1" and config.env_secret("NOT_SET_ANYWHERE") is None


def test_keys_stay_out_of_repr() -> None:
    shown = repr(config.load({"EVBILL_API_KEYS": "dev-key-123=A", "EVBILL_TOKEN_KEY": "fernet-key-456"}))
    assert "dev-key-123" not in shown and "fernet-key-456" not in shown
    assert PlatformsSettings.from_environ({"EVBILL_TOKEN_KEY": "fernet-key-456"}).token_key == "fernet-key-456"


def test_docs_list_every_variable_once() -> None:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    section = text[text.index("## Configuration (environment)"):]
    section = section[:section.index("\n## ", 1)]
    rows = re.findall(r"^\| `([A-Z_]+)` \|", section, flags=re.MULTILINE)
    assert rows == list(config.variables())


def test_a_command_reads_its_section_when_it_runs(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from connector.cli import main

    monkeypatch.setenv("EVBILL_BIND", "nowhere")  # refused before any app or server starts
    assert main(["serve"]) == 2
    assert "--bind: 'nowhere' is not HOST:PORT" in capsys.readouterr().err

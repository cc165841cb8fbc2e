"""Registry discovery, the one adapter signature (``deliver(event, config, ctx)``), and `evbill platforms list`."""

from __future__ import annotations

import inspect
import json
import types
from typing import Any

import pytest
from pydantic import BaseModel, Field
from sqlalchemy import Engine, create_engine

from connector.cli import main
from connector.platforms import registry
from connector.platforms.context import DeliveryContext, Stores
from connector.platforms.sender import HttpSender
from connector.platforms.stores.tickets import TicketStore
from connector.validation import NotFound

ISSUE_9 = {"sendgrid", "slack", "jira", "salesforce", "zoho_analytics", "google_sheets"}


def test_discovers_adapters_and_skips_machinery() -> None:
    found = registry.discover()
    assert ISSUE_9 <= set(found)
    assert not set(found) & {"errors", "sender", "registry", "tables", "settings", "dryrun", "oauth"}
    jira = found["jira"]
    assert jira.events == ("billing.anomaly",)
    assert jira.summary.startswith("Jira Cloud: one ticket per billing anomaly")
    keys = {k.name: k for k in jira.config_keys()}
    assert keys["api_token"].secret and keys["api_token"].required and not keys["issue_type"].required
    assert jira.secret_fields() == {"api_token"}
    with pytest.raises(NotFound, match="not installed"):
        registry.get("nope")


def fake_module(deliver: Any, key: Any = None) -> types.ModuleType:
    mod = types.ModuleType("fake_adapter")
    mod.deliver = deliver  # type: ignore[attr-defined]
    if key is not None:
        mod.idempotency_key = key  # type: ignore[attr-defined]
    return mod


def test_deliver_hands_the_adapter_the_context_it_is_given(tmp_path) -> None:
    seen: list[DeliveryContext] = []

    def deliver(event: dict, config: Any, ctx: DeliveryContext) -> dict:
        seen.append(ctx)
        return {"status": "sent", "ref": "r1"}

    tickets = TicketStore(create_engine(f"sqlite:///{tmp_path / 't.db'}"))
    ctx = DeliveryContext(HttpSender(), stores=Stores(tickets=tickets))
    p = registry.Platform("x", fake_module(deliver), ("session.billed",))
    assert p.deliver({"id": "e"}, None, ctx) == {"status": "sent", "ref": "r1"}
    assert seen == [ctx] and seen[0].stores.tickets is tickets and seen[0].refs is None


def test_idempotency_key_takes_event_and_config() -> None:
    class Cfg(BaseModel):
        account: str = Field(default="A1")

    event = {"id": "evt_1", "tenant_id": "t1"}
    keyed = registry.Platform("two", fake_module(lambda e, c, x: {}, lambda e, c: f"k:{c.account}:{e['id']}"), ())
    none = registry.Platform("none", fake_module(lambda e, c, x: {}), ())
    assert keyed.idempotency_key(event, Cfg()) == "k:A1:evt_1"
    assert none.idempotency_key(event, Cfg()) == "none:t1:evt_1"


def test_every_adapter_takes_event_config_and_context() -> None:
    for platform in registry.discover().values():
        params = list(inspect.signature(platform.module.deliver).parameters)
        assert params == ["event", "config", "ctx"], platform.name
        assert list(inspect.signature(platform.module.idempotency_key).parameters) == ["event", "config"], platform.name


def test_platforms_list_cli(capsys: pytest.CaptureFixture, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVBILL_PLATFORMS_FILE", raising=False)
    assert main(["platforms", "list"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("sendgrid "))
    assert line.split(None, 3)[1:3] == ["not", "configured"]
    assert "Twilio SendGrid: an email receipt for every new billing record" in line
    assert "api_key* (secret), from_email*, from_name" in out
    path = tmp_path / "p.yaml"
    path.write_text("tenants:\n  t1:\n    sendgrid: {enabled: true, config: {api_key: 'env:SG'}}\n"
                    "    jira: {enabled: false}\n")
    monkeypatch.setenv("EVBILL_PLATFORMS_FILE", str(path))
    assert main(["platforms", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert (rows["sendgrid"]["configured"], rows["sendgrid"]["enabled"]) == (True, True)
    assert (rows["jira"]["configured"], rows["jira"]["enabled"]) == (True, False)
    assert (rows["slack"]["configured"], rows["slack"]["enabled"]) == (False, False)
    assert rows["jira"]["events"] == ["billing.anomaly"]


def test_platforms_list_for_a_tenant_reads_the_database(engine: Engine, db_url: str, capsys: pytest.CaptureFixture,
                                                        tmp_path) -> None:
    from sqlalchemy.orm import Session

    from connector.platforms import settings

    with Session(engine) as db:
        settings.put_platform(db, "t1", "slack", {"enabled": True, "config": {"webhook_url": "env:HOOK"}})
        db.commit()
    assert main(["platforms", "list", "--tenant", "t1", "--url", db_url, "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert (rows["slack"]["configured"], rows["slack"]["enabled"]) == (True, True)
    assert rows["jira"]["configured"] is False
    assert main(["platforms", "list", "--tenant", "t1", "--url", f"sqlite:///{tmp_path / 'empty.db'}"]) == 2
    assert "run `evbill db upgrade` first" in capsys.readouterr().err

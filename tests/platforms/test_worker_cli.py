"""`evbill worker --once --dry-run FILE`: one pass, counts as JSON, requests in the file, nothing sent."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from connector.cli import main
from connector.events.outbox import emit
from connector.events.subscriptions import create_subscription


def test_worker_once_dry_run(engine: Engine, db: Session, db_url: str, tmp_path, capsys: pytest.CaptureFixture,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVBILL_DRY_RUN_FILE", raising=False)
    out = tmp_path / "review.jsonl"
    create_subscription(db, "t1", "https://erp.example/hooks/evbill", ["credit_note.issued"])
    emit(db, "t1", "credit_note.issued", {"invoice": {"id": "cn_1", "kind": "credit_note", "amount_due": "-357"}})
    db.commit()
    assert main(["worker", "--once", "--url", db_url, "--dry-run", str(out)]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert (counts["events"], counts["created"], counts["sent"], counts["retry"]) == (1, 1, 1, 0)
    [line] = [json.loads(x) for x in out.read_text().splitlines()]
    assert line["url"] == "https://erp.example/hooks/evbill" and line["json"]["data"]["invoice"]["id"] == "cn_1"
    assert main(["worker", "--once", "--url", db_url, "--dry-run", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["claimed"] == 0 and len(out.read_text().splitlines()) == 1


def test_worker_on_a_fresh_database(tmp_path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Like the API, the worker creates missing tables by default; with EVBILL_CREATE_TABLES=0 (production,
    migrations) an unmigrated database is a one-line error, not a traceback."""
    monkeypatch.setenv("EVBILL_CREATE_TABLES", "0")
    bare = f"sqlite:///{tmp_path / 'bare.db'}"
    assert main(["worker", "--once", "--url", bare]) == 2
    assert "has no outbox tables; run `evbill db upgrade` first" in capsys.readouterr().err
    monkeypatch.delenv("EVBILL_CREATE_TABLES")
    assert main(["worker", "--once", "--url", bare]) == 0
    assert json.loads(capsys.readouterr().out)["claimed"] == 0
    monkeypatch.setenv("EVBILL_CREATE_TABLES", "0")  # now created: runs
    assert main(["worker", "--once", "--url", bare]) == 0

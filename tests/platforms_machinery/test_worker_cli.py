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

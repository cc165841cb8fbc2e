"""``evbill deliveries list|redeliver`` and ``evbill outbox prune`` through ``connector.cli.main`` on SQLite."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.cli import main
from connector.events import worker
from connector.events.deliveries import Policy
from connector.events.outbox import emit
from connector.events.subscriptions import create_subscription
from connector.storage.db import make_engine
from connector.storage.tables import all_metadata
from connector.storage.tables.core import IdempotencyKeyRow
from connector.storage.tables.outbox import DeliveryRow
from tests.events.receiver import Receiver, running

T0 = datetime(2026, 1, 13, 15, 30, tzinfo=UTC)
ONE_TRY = Policy(max_attempts=1, base_delay=1, lease_seconds=60)


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[dict]:
    """Three old events to one subscription: the first dead (500, one attempt), the second failed (400),
    the third sent; plus one old completed idempotency record."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    all_metadata().create_all(engine)
    with running(Receiver(script=[(500, {}), (400, {})])) as rec, Session(engine) as db:
        sub = create_subscription(db, "t1", rec.url + "/hook", ["invoice.finalized"])
        ids = {}
        for n, name in enumerate(("dead", "failed", "sent")):
            event = emit(db, "t1", "invoice.finalized", {"invoice": {"id": f"inv_{n}"}}, created_at=T0)
            db.commit()
            worker.run_once(engine, T0 + timedelta(minutes=n), policy=ONE_TRY)
            ids[name] = db.scalars(select(DeliveryRow.id).where(DeliveryRow.event_id == event["id"])).one()
            ids[name + "_event"] = event["id"]
        db.add(IdempotencyKeyRow(tenant_id="t1", key="k1", method="POST", path="/v1/invoices", request_hash="0" * 64,
                                 status_code=201, response_body="{}", created_at=T0))
        db.commit()
        statuses = dict(db.execute(select(DeliveryRow.id, DeliveryRow.status)).all())
        assert statuses == {ids["dead"]: "dead", ids["failed"]: "failed", ids["sent"]: "sent"}
        yield {"url": url, "engine": engine, "rec": rec, "sub": sub, **ids}
    engine.dispose()


def test_list_redeliver_and_the_worker_sends_it(outbox: dict, capsys: pytest.CaptureFixture[str]) -> None:
    url = outbox["url"]
    assert main(["deliveries", "list", "--status", "dead", "--url", url]) == 0
    out = capsys.readouterr().out
    assert outbox["dead"] in out and outbox["failed"] not in out and outbox["sent"] not in out
    assert "HTTP 500 from" in out  # the reason it died is shown
    assert main(["deliveries", "list", "--status", "dead", "--json", "--url", url]) == 0
    [item] = json.loads(capsys.readouterr().out)["items"]
    assert (item["id"], item["tenant_id"], item["status"], item["attempts"]) == (outbox["dead"], "t1", "dead", 1)
    assert item["target"] == f"webhook:{outbox['sub']['id']}" and item["event_id"] == outbox["dead_event"]
    assert main(["deliveries", "list", "--json", "--url", url]) == 0
    assert len(json.loads(capsys.readouterr().out)["items"]) == 3
    assert main(["deliveries", "list", "--tenant", "t2", "--url", url]) == 0
    assert capsys.readouterr().out.strip() == "no deliveries"

    assert main(["deliveries", "redeliver", outbox["dead"], "--tenant", "t1", "--url", url]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "pending"
    before = len(outbox["rec"].requests)
    assert main(["worker", "--once", "--url", url]) == 0
    assert json.loads(capsys.readouterr().out)["sent"] == 1
    [request] = outbox["rec"].requests[before:]
    assert request["headers"]["Idempotency-Key"] == f"{outbox['dead_event']}:webhook:{outbox['sub']['id']}"
    with Session(outbox["engine"]) as db:
        row = db.get(DeliveryRow, outbox["dead"])
        assert row is not None and (row.status, row.attempts) == ("sent", 1)


def test_redeliver_refusals_name_the_reason(outbox: dict, capsys: pytest.CaptureFixture[str]) -> None:
    url = outbox["url"]
    assert main(["deliveries", "redeliver", outbox["sent"], "--url", url]) == 4
    assert f"delivery {outbox['sent']} is sent; only dead or failed ones are redelivered" in capsys.readouterr().err
    assert main(["deliveries", "redeliver", "dlv_nope", "--url", url]) == 3
    assert "delivery dlv_nope not found" in capsys.readouterr().err
    assert main(["deliveries", "redeliver", outbox["failed"], "--tenant", "t2", "--url", url]) == 3
    assert "not found for tenant t2" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["deliveries", "list", "--status", "lost", "--url", url])
    assert exc.value.code == 2
    assert "--status" in capsys.readouterr().err
    assert main(["deliveries", "list", "--limit", "0", "--url", url]) == 2
    assert "--limit: 1 to 10000" in capsys.readouterr().err
    # the failed one can be redelivered; nothing was changed by the refusals
    assert main(["deliveries", "redeliver", outbox["failed"], "--url", url]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == outbox["failed"]


def test_prune_dry_run_then_real_print_the_same_counts(outbox: dict, capsys: pytest.CaptureFixture[str]) -> None:
    url = outbox["url"]
    assert main(["outbox", "prune", "--dry-run", "--url", url]) == 0
    dry = json.loads(capsys.readouterr().out)
    # the sent event goes (with its delivery); dead and failed stay for an operator; the old record goes
    assert dry == {"dry_run": True, "events": 1, "deliveries": 1, "references_kept": 0, "events_kept": 2,
                   "idempotency_keys": 1, "idempotency_in_progress": 0}
    with Session(outbox["engine"]) as db:
        assert db.get(DeliveryRow, outbox["sent"]) is not None  # the dry run deleted nothing
    assert main(["outbox", "prune", "--older-than-days", "90", "--idempotency-hours", "24", "--url", url]) == 0
    real = json.loads(capsys.readouterr().out)
    assert real == {**dry, "dry_run": False}
    with Session(outbox["engine"]) as db:
        assert db.get(DeliveryRow, outbox["sent"]) is None and db.get(DeliveryRow, outbox["dead"]) is not None
        assert db.get(IdempotencyKeyRow, ("t1", "k1")) is None
    assert main(["outbox", "prune", "--older-than-days", "0", "--url", url]) == 2
    assert "--older-than-days: at least 1" in capsys.readouterr().err


def test_a_database_without_outbox_tables_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert main(["outbox", "prune", "--url", url]) == 2
    assert "has no outbox tables; run `evbill db upgrade` first" in capsys.readouterr().err
    assert main(["deliveries", "list", "--url", url]) == 2

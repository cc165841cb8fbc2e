"""The ChargePoint SOAP importer against a local server of getChargingSessionData (zeep from the WSDL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session as DbSession
from zeep.exceptions import Fault

from connector.billing.intake import DatabaseSink
from connector.ingest.chargepoint_soap import CursorStore, make_service, run_import
from connector.models import Tariff
from connector.storage import repo
from connector.storage.db import make_engine
from connector.storage.tables.billing import InvoiceLineRow
from tests.ingest.chargepoint_soap.server import ChargePointSoapDouble
from tests.ingest.conftest import FLAT_TARIFF
from tests.ingest.probe import billed

USER, PASSWORD = "license-key-0001", "api-password"
DEFAULTS = {"tariff_id": "STD", "currency": "EUR", "time_zone": "UTC"}


def session(n: int, start: str, end: str | None, kwh: str) -> dict[str, str]:
    row = {"sessionID": str(4000 + n), "stationID": "1:111111", "portNumber": "1", "startTime": start,
           "Energy": kwh, "userID": f"driver-{n}"}
    if end:
        row["endTime"] = end
    return row


def setup(tmp_path: Path) -> tuple[DatabaseSink, CursorStore]:
    engine = make_engine(f"sqlite:///{tmp_path}/cp.db")
    sink = DatabaseSink(engine)
    with DbSession(engine) as db:
        repo.create_tariff(db, "default", Tariff.model_validate(FLAT_TARIFF))
        db.commit()
    return sink, CursorStore(engine, "default")


def test_two_pages_read_twice_bill_each_session_once(tmp_path: Path) -> None:
    sink, cursors = setup(tmp_path)
    sessions = [
        session(1, "2026-11-30T08:00:00+00:00", None, "4.000"),  # still charging at the first poll
        session(2, "2026-11-30T08:30:00+00:00", "2026-11-30T09:30:00+00:00", "10.000"),
        session(3, "2026-11-30T09:00:00+00:00", "2026-11-30T09:45:00+00:00", "20.500"),
        session(4, "2026-11-30T10:00:00+00:00", "2026-11-30T11:00:00+00:00", "7.250"),
    ]
    first_poll = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with ChargePointSoapDouble(sessions, USER, PASSWORD, page_size=2) as double:
        service = make_service(f"{double.url}?wsdl", USER, PASSWORD)
        one = run_import(service, sink, cursors, "default", DEFAULTS, first_poll, timedelta(hours=6))
        sessions[0]["endTime"] = "2026-11-30T12:30:00+00:00"  # session 1 ends after the first poll
        sessions[0]["Energy"] = "30.000"
        two = run_import(service, sink, cursors, "default", DEFAULTS, first_poll + timedelta(hours=1))
        three = run_import(service, sink, cursors, "default", DEFAULTS, first_poll + timedelta(hours=2))
        requests = list(double.requests)
    # first poll: two pages, three ended sessions billed; the cursor waits at the running session's start
    assert (one.pages, one.sessions, one.accepted, one.duplicates, one.running) == (2, 4, 3, 0, 1)
    assert one.since == "2026-11-30T06:00:00+00:00" and one.cursor == "2026-11-30T08:00:00+00:00"
    # second poll: the same two pages again; only the session that ended is new
    assert (two.pages, two.sessions, two.accepted, two.duplicates, two.running) == (2, 4, 1, 3, 0)
    assert two.cursor == "2026-11-30T13:00:00+00:00"
    assert (three.pages, three.sessions) == (0, 0)  # nothing new: code 136
    assert [r["startRecord"] for r in requests] == ["1", "3", "1", "3", "1"]
    assert {r["Username"] for r in requests} == {USER}
    # 0.30 EUR/kWh + 19 % VAT, each billed once with one invoice line
    expected = {"CP-4001": "10.71", "CP-4002": "3.57", "CP-4003": "7.32", "CP-4004": "2.59"}
    assert {sid: billed(sink, "default", sid)["amount_due"] for sid in expected} == expected
    with sink.sessions() as db:
        lines = db.query(InvoiceLineRow).filter(InvoiceLineRow.tenant_id == "default").all()
    assert sorted(line.session_id for line in lines) == sorted(expected)


def test_wrong_credentials_leave_the_cursor(tmp_path: Path) -> None:
    sink, cursors = setup(tmp_path)
    sessions = [session(1, "2026-11-30T08:30:00+00:00", "2026-11-30T09:30:00+00:00", "10.000")]
    with ChargePointSoapDouble(sessions, USER, PASSWORD) as double:
        service = make_service(f"{double.url}?wsdl", USER, "wrong")
        with pytest.raises(Fault, match="authentication failed"):
            run_import(service, sink, cursors, "default", DEFAULTS, datetime(2026, 11, 30, 12, tzinfo=UTC))
    assert cursors.get() is None
    assert sink.load_session("default", "CP-4001") is None


def test_evbill_chargepoint_import_command(tmp_path: Path, capsys, monkeypatch) -> None:
    from connector.cli import main

    sink, _cursors = setup(tmp_path)
    sessions = [session(2, "2026-11-30T08:30:00+00:00", "2026-11-30T09:30:00+00:00", "10.000")]
    with ChargePointSoapDouble(sessions, USER, PASSWORD) as double:
        monkeypatch.setenv("CHARGEPOINT_WSDL", f"{double.url}?wsdl")
        monkeypatch.setenv("CHARGEPOINT_API_USER", USER)
        monkeypatch.setenv("CHARGEPOINT_API_PASSWORD", PASSWORD)
        monkeypatch.setenv("CHARGEPOINT_SESSION_DEFAULTS", json.dumps(DEFAULTS))
        args = ["chargepoint", "import", "--database-url", f"sqlite:///{tmp_path}/cp.db",
                "--now", "2026-11-30T12:00:00Z"]
        assert main(args) == 0
        report = json.loads(capsys.readouterr().out)
        assert main(args) == 0
        again = json.loads(capsys.readouterr().out)
    assert (report["accepted"], again["sessions"]) == (1, 0)
    assert billed(sink, "default", "CP-4002")["amount_due"] == "3.57"
    monkeypatch.delenv("CHARGEPOINT_API_USER")
    assert main(["chargepoint", "import", "--database-url", f"sqlite:///{tmp_path}/cp.db"]) == 2
    assert "CHARGEPOINT_API_USER: not set" in capsys.readouterr().err


def test_scheduler_runs_the_import(tmp_path: Path, monkeypatch) -> None:
    """`evbill scheduler` adds the poll when CHARGEPOINT_API_USER is set; its job bills from the double."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from connector.commands.billing import _add_chargepoint_poll

    sink, cursors = setup(tmp_path)
    url = f"sqlite:///{tmp_path}/cp.db"
    sched = BackgroundScheduler()
    _add_chargepoint_poll(sched, url)
    assert sched.get_job("chargepoint-import") is None  # not configured: no job
    now = datetime.now(UTC).replace(microsecond=0)
    sessions = [session(5, (now - timedelta(hours=2)).isoformat(), (now - timedelta(hours=1)).isoformat(), "10")]
    with ChargePointSoapDouble(sessions, USER, PASSWORD) as double:
        for name, value in (("CHARGEPOINT_WSDL", f"{double.url}?wsdl"), ("CHARGEPOINT_API_USER", USER),
                            ("CHARGEPOINT_API_PASSWORD", PASSWORD), ("CHARGEPOINT_POLL_MINUTES", "5"),
                            ("CHARGEPOINT_SESSION_DEFAULTS", json.dumps(DEFAULTS))):
            monkeypatch.setenv(name, value)
        _add_chargepoint_poll(sched, url)
        job = sched.get_job("chargepoint-import")
        assert job is not None and job.trigger.interval == timedelta(minutes=5)
        job.func(*job.args)
    assert billed(sink, "default", "CP-4005")["amount_due"] == "3.57"
    assert cursors.get() is not None

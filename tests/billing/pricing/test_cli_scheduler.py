"""The triggers as CLI commands (``evbill billing ...``) and scheduled jobs (``evbill scheduler``)."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from connector.billing import scheduler
from connector.cli import main
from tests.billing.pricing.conftest import TENANT, H, event, make_app, ok, send, stored_events

TARIFF = {"id": "T-CLI", "currency": "EUR", "elements": [{"price_components": [
    {"type": "ENERGY", "price": "0.30", "vat": "19", "step_size": 1}]}]}
V2 = {"currency": "EUR", "elements": [{"price_components": [
    {"type": "ENERGY", "price": "0.50", "vat": "19", "step_size": 1}]}]}


@pytest.fixture
def setup(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    client = make_app(url).test_client()
    ok(client.post("/v1/tariffs", json=TARIFF, headers=H), 201)
    send(client, event("S-C", "start", "2026-01-13T14:00:00Z", start="2026-01-13T14:00:00Z", tariff_id="T-CLI"),
         event("S-C", "update", "2026-01-13T15:00:00Z",
               samples=[["2026-01-13T14:30:00Z", "5"], ["2026-01-13T15:00:00Z", "10"]]))
    return url, client


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_cli_interim_rerate_incentives_reconcile(setup, capsys):
    url, client = setup
    assert main(["billing", "interim", "--url", url, "--tenant", TENANT, "--as-of", "2026-01-13T14:30:00Z"]) == 0
    out = _json(capsys)
    assert [(r["session_id"], r["amount_due"]) for r in out["results"]] == [("S-C", "1.79")]  # 5 x 0.30 + 19 %
    # without --tenant: every operator with open sessions, on its interval (15 min after 14:30)
    assert main(["billing", "interim", "--url", url, "--as-of", "2026-01-13T14:44:00Z"]) == 0
    assert _json(capsys)["emitted"] == {TENANT: 0}
    assert main(["billing", "interim", "--url", url, "--as-of", "2026-01-13T14:45:00Z"]) == 0
    assert _json(capsys)["emitted"] == {TENANT: 1}
    assert len(stored_events(client, "session.interim")) == 2
    # publish v2 through the API (split policy), then re-run its re-rating from the CLI: same policy, same result
    body = {"effective_at": "2026-01-13T14:30:00Z", "policy": "apply_from_effective_time", "tariff": V2}
    assert ok(client.post("/v1/tariffs/T-CLI/versions", json=body, headers=H), 201)["rerating"]["changed"] == 1
    assert main(["billing", "rerate", "--url", url, "--tenant", TENANT, "--tariff", "T-CLI", "--version", "2",
                 "--as-of", "2026-01-13T15:00:00Z"]) == 0
    out = _json(capsys)
    assert out["policy"] == "apply_from_effective_time"
    assert out["changed"] == 1 and out["sessions"][0]["difference"] == {"net": "1.00", "gross": "1.19"}
    assert len(ok(client.get("/v1/billing/sessions/S-C", headers=H))["rerates"]) == 2
    assert main(["billing", "incentives", "--url", url, "--tenant", TENANT, "--month", "2026-01",
                 "--format", "csv"]) == 0
    assert capsys.readouterr().out == "month,customer_id,currency,sessions,energy_kwh,amount\n"
    assert main(["billing", "reconcile", "daily", "--url", url, "--today", "2026-01-14"]) == 0
    report = _json(capsys)
    assert report["period"] == "2026-01-13" and report["tenants"][TENANT]


def test_cli_errors_are_one_line(setup, capsys):
    url, _client = setup
    assert main(["billing", "interim", "--url", url, "--tenant", TENANT, "--as-of", "2026-01-13T14:30:00"]) == 2
    assert "--as-of: must carry a time zone offset" in capsys.readouterr().err
    assert main(["billing", "rerate", "--url", url, "--tenant", TENANT, "--sessions", "S-C"]) == 2
    assert "--reason" in capsys.readouterr().err
    assert main(["billing", "rerate", "--url", url, "--tenant", TENANT, "--sessions", "S-C", "--reason", "x"]) == 2
    assert "session_ids: session 'S-C' is not billed" in capsys.readouterr().err
    assert main(["billing", "rerate", "--url", url, "--tenant", TENANT, "--tariff", "T-CLI", "--version", "9"]) == 2
    assert "has no version 9" in capsys.readouterr().err
    assert main(["billing", "incentives", "--url", url, "--tenant", TENANT, "--month", "2026-1"]) == 2
    assert "month:" in capsys.readouterr().err


def test_periods_of_scheduled_reconciliations():
    assert scheduler.previous_period("daily", date(2026, 3, 1)) == "2026-02-28"
    assert scheduler.previous_period("monthly", date(2026, 1, 1)) == "2025-12"
    assert scheduler.previous_period("monthly", date(2026, 3, 15)) == "2026-02"
    with pytest.raises(ValueError, match="kind"):
        scheduler.previous_period("weekly", date(2026, 3, 1))


def test_scheduler_jobs_and_a_real_tick(setup):
    url, client = setup
    engine = client.application.extensions["evbill.engine"]
    sched = scheduler.build_scheduler(engine, tick_minutes=5, daily_at="01:30", monthly_at="02:15", blocking=False)
    jobs = {j.id: j for j in sched.get_jobs()}
    assert set(jobs) == {"interim", "rerate-due", "reconcile-daily", "reconcile-monthly", "payments-sync", "slack-digest"}
    assert isinstance(jobs["rerate-due"].trigger, IntervalTrigger)
    assert isinstance(jobs["interim"].trigger, IntervalTrigger) and jobs["interim"].trigger.interval.seconds == 300
    daily, monthly = jobs["reconcile-daily"].trigger, jobs["reconcile-monthly"].trigger
    assert isinstance(daily, CronTrigger) and isinstance(monthly, CronTrigger)
    after = datetime(2026, 1, 13, 12, 0, tzinfo=UTC)
    assert daily.get_next_fire_time(None, after) == datetime(2026, 1, 14, 1, 30, tzinfo=UTC)
    assert monthly.get_next_fire_time(None, after) == datetime(2026, 2, 1, 2, 15, tzinfo=UTC)
    with pytest.raises(ValueError, match="daily_at"):
        scheduler.build_scheduler(engine, daily_at="25:00", blocking=False)
    # the interim job really fires from APScheduler and lands a session.interim event
    sched.start()
    try:
        sched.modify_job("interim", next_run_time=datetime.now(UTC))
        deadline = time.monotonic() + 20
        while not stored_events(client, "session.interim") and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        sched.shutdown(wait=True)
    events = stored_events(client, "session.interim")
    assert len(events) == 1 and events[0]["data"]["rating"]["invoice"]["amount_due"] == "3.57"  # 10 kWh so far


def test_split_version_published_ahead_is_rerated_when_it_becomes_effective(tmp_path, capsys):
    from datetime import timedelta

    url = f"sqlite:///{tmp_path / 'ahead.db'}"
    client = make_app(url).test_client()
    engine = client.application.extensions["evbill.engine"]
    time_v1 = {"id": "T-AH", "currency": "EUR", "elements": [{"price_components": [
        {"type": "TIME", "price": "1.20", "vat": "19", "step_size": 1}]}]}
    time_v2 = {"currency": "EUR", "elements": [{"price_components": [
        {"type": "TIME", "price": "2.40", "vat": "19", "step_size": 1}]}]}
    ok(client.post("/v1/tariffs", json=time_v1, headers=H), 201)
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
    effective, tick = start + timedelta(minutes=90), start + timedelta(minutes=120)
    send(client, event("S-AH", "start", start.isoformat(), start=start.isoformat(), tariff_id="T-AH"))
    body = {"effective_at": effective.isoformat(), "policy": "apply_from_effective_time", "tariff": time_v2}
    rerating = ok(client.post("/v1/tariffs/T-AH/versions", json=body, headers=H), 201)["rerating"]
    assert (rerating["changed"], rerating["unchanged"]) == (0, 1)  # not effective yet: nothing to split
    assert scheduler.rerate_tick(engine, effective - timedelta(seconds=1)) == []
    assert main(["billing", "rerate-due", "--url", url, "--as-of", tick.isoformat()]) == 0
    assert _json(capsys)["rerated"] == [{"tenant_id": TENANT, "tariff_id": "T-AH", "version_no": 2,
                                         "changed": 1, "unchanged": 0}]
    # 2 h: before 2 x 1.20 = 2.40 net (2.86 gross); after 1.5 x 1.20 + 0.5 x 2.40 = 3.00 net (3.57 gross)
    event_data = stored_events(client, "session.rerated")[0]["data"]
    assert event_data["difference"] == {"net": "0.60", "gross": "0.71"}
    assert scheduler.rerate_tick(engine, tick + timedelta(minutes=5)) == []  # once per version

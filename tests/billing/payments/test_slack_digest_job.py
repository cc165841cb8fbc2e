"""Slack's daily digest is posted by the scheduler's ``slack-digest`` job once the day closes, without waiting for
the next billed session, and once only (the job and a later worker delivery do not post it twice)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from connector.billing.digests import flush_slack_digests
from connector.platforms import registry
from connector.platforms import settings as platform_settings
from connector.platforms.adapters import slack
from connector.platforms.context import DeliveryContext, Stores
from connector.platforms.stores.digests import DigestStore
from connector.storage.tables import all_metadata
from tests.platforms.events import billed_event
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.fakes.messaging_and_crm import FakeVendors


def test_closed_day_is_posted_by_the_job_once(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'digest.db'}")
    all_metadata().create_all(engine)
    token = tmp_path / "slack.token"
    token.write_text("xoxb-test")
    with FakeVendors() as vendors, Session(engine) as db:
        base = {"bot_token": f"file:{token}", "channel": "C0FIN", "api_base": vendors.url + "/api"}
        platform = registry.get("slack")
        platform_settings.put(db, "t1", platform, True, {**base, "mode": "daily_digest",
                                                          "digest_time_zone": "Europe/Berlin"}, {})
        platform_settings.put(db, "t2", platform, True, base, {})  # per-event mode: no digest
        db.commit()
        config = platform_settings.build_config(platform, platform_settings.effective(db, "t1", "slack"))
        assert isinstance(config, slack.SlackConfig)
        day1 = datetime(2026, 1, 13, 15, 0, tzinfo=UTC)
        ctx = DeliveryContext(OneShotHttp(), clock=lambda: day1, stores=Stores(digests=DigestStore(engine)))
        for sid in ("S-1", "S-2"):
            event = billed_event(sid=sid)
            event["tenant_id"] = "t1"
            assert slack.deliver(event, config, ctx)["status"] == "accumulated"

        http = OneShotHttp()
        same_day = flush_slack_digests(engine, http, now=datetime(2026, 1, 13, 22, 0, tzinfo=UTC))
        assert same_day == {"t1": {"digests": []}} and vendors.slack_messages == []  # 23:00 in Berlin: still open
        done = flush_slack_digests(engine, http, now=datetime(2026, 1, 13, 23, 30, tzinfo=UTC))  # 00:30 Berlin
        assert [d["day"] for d in done["t1"]["digests"]] == ["2026-01-13"] and done["t1"]["digests"][0]["sessions"] == 2
        [message] = vendors.slack_messages
        assert message["channel"] == "C0FIN" and message["text"].startswith("Billing digest 2026-01-13: 2 sessions")
        again = flush_slack_digests(engine, http, now=datetime(2026, 1, 14, 9, 0, tzinfo=UTC))
        assert again == {"t1": {"digests": []}} and len(vendors.slack_messages) == 1

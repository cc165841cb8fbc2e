"""Slack: bodies against the vendor contract in ../shared/vendor-specs (each schema also shown to bite
on a broken variant of our own body), then end to end over HTTP against the local double on 127.0.0.1:
429/500 replays, permanent errors, and no duplicates after a worker restart."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from sqlalchemy import create_engine

from connector.platforms.adapters import slack
from connector.platforms.context import DeliveryContext, Stores
from connector.platforms.errors import PermanentError, RetryableError
from connector.platforms.stores.digests import DigestStore, digest_item
from tests.platforms.events import anomaly_event, billed_event, reconciliation_event
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.fakes.messaging_and_crm import FakeVendors
from tests.platforms.schemas import schema_errors

SLACK_BOT = slack.SlackConfig(bot_token="xoxb-1", channel="C0FINANCE", locale="en_US")


def _validate_blocks(blocks: list[dict[str, Any]]) -> None:
    parsed = Block.parse_all(blocks)
    assert len(parsed) == len(blocks) and all(b is not None for b in parsed)
    for b in parsed:
        b.validate_json()
    assert [b.to_dict() for b in parsed] == blocks  # nothing dropped or renamed by the SDK model


@pytest.mark.parametrize("kind", ["billed", "reconciliation", "anomaly", "digest"])
def test_slack_messages_are_valid_block_kit_and_match_the_api_schema(kind: str) -> None:
    if kind == "billed":
        msg = slack.billed_message(billed_event("EUR"), SLACK_BOT)
        assert msg["text"] == "Session S-100 billed €12.05"
    elif kind == "reconciliation":
        msg = slack.reconciliation_message(reconciliation_event(25), SLACK_BOT)
        assert "…and 15 more" in msg["blocks"][-1]["text"]["text"]
        assert msg["text"] == "Reconciliation rec_1 2026-01-13 → 2026-01-14: difference -€2.50, 25 exceptions"
    elif kind == "anomaly":
        msg = slack.anomaly_message(anomaly_event(message="x" * 5000), SLACK_BOT)
    else:
        items = [digest_item(billed_event(sid=f"S-{i}")) for i in range(30)]
        items.append(digest_item(billed_event("JPY", sid="S-J", energy_price="45", flat="100")))
        msg = slack.digest_message(__import__("datetime").date(2026, 1, 13), items, SLACK_BOT)
        fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in msg["blocks"][1]["fields"]}
        assert fields["*Sessions*"] == "31" and fields["*Amount due (EUR)*"] == "€361.50"  # 30 x 12.05
        assert fields["*Amount due (JPY)*"] == "¥1,372"
    _validate_blocks(msg["blocks"])
    url, headers, body = slack.request_for(msg, SLACK_BOT)
    assert url == "https://slack.com/api/chat.postMessage" and headers["Authorization"] == "Bearer xoxb-1"
    assert schema_errors("slack/chat_postMessage.schema.json", slack.form_view(body)) == []
    hook = slack.SlackConfig(webhook_url="https://hooks.slack.com/services/T/B/x")
    assert slack.request_for(msg, hook)[2] == {"text": msg["text"], "blocks": msg["blocks"]}


def test_slack_schema_and_sdk_bite() -> None:
    body = slack.request_for(slack.billed_message(billed_event(), SLACK_BOT), SLACK_BOT)[2]
    no_channel = slack.form_view(body)
    del no_channel["channel"]
    assert schema_errors("slack/chat_postMessage.schema.json", no_channel)
    too_long = Block.parse_all([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}])[0]
    with pytest.raises(SlackObjectFormationError):
        too_long.validate_json()
    assert len(slack._section("y" * 5000)["text"]["text"]) == 3000  # ours truncates instead


def test_slack_config_and_routing() -> None:
    with pytest.raises(ValueError, match="bot_token/channel/webhook_url"):
        slack.SlackConfig(bot_token="xoxb-1")
    digest = SLACK_BOT.model_copy(update={"mode": "daily_digest"})
    assert slack.message_for(billed_event(), digest) is None
    assert slack.message_for(reconciliation_event(), digest) is not None
    assert slack.api_error(200, {"ok": True, "ts": "1.2"}) is None
    assert slack.api_error(200, {"ok": False, "error": "ratelimited"}) == (True, "slack error ratelimited")
    assert slack.api_error(200, {"ok": False, "error": "channel_not_found"}) == (False, "slack error channel_not_found")
    assert slack.api_error(200, "ok") is None
    assert slack.api_error(404, "no_service") == (False, "HTTP 404: no_service")


def test_slack_per_event_with_retries_and_slack_errors(messaging: FakeVendors) -> None:
    cfg = slack.SlackConfig(bot_token="xoxb-test", channel="C0FIN", api_base=messaging.url + "/api")
    http = OneShotHttp()
    messaging.fail("/api/chat.postMessage", 429, retry_after="1")
    with pytest.raises(RetryableError):
        slack.deliver(billed_event(), cfg, DeliveryContext(http))
    messaging.fail("/api/chat.postMessage", 200, body=json.dumps({"ok": False, "error": "ratelimited"}))
    with pytest.raises(RetryableError, match="ratelimited"):
        slack.deliver(billed_event(), cfg, DeliveryContext(http))
    assert slack.deliver(billed_event(), cfg, DeliveryContext(http))["ref"].startswith("1700000000.")
    assert slack.deliver(reconciliation_event(), cfg, DeliveryContext(http))["status"] == "sent"
    assert slack.deliver(anomaly_event(), cfg, DeliveryContext(http))["status"] == "sent"
    assert [m["text"] for m in messaging.slack_messages] == [
        "Session S-100 billed €12.05",
        "Reconciliation rec_1 2026-01-13 → 2026-01-14: difference -€2.50, 3 exceptions",
        "Billing anomaly negative_energy on session S-100"]
    with pytest.raises(PermanentError, match="channel_not_found"):
        slack.deliver(billed_event(), cfg.model_copy(update={"channel": "C0GONE"}), DeliveryContext(http))
    hook = slack.SlackConfig(webhook_url=messaging.url + "/services/T000/B000/secret")
    assert slack.deliver(billed_event(), hook, DeliveryContext(http)) == {"status": "sent", "ref": None}


def test_slack_daily_digest_survives_restart_without_duplicates(messaging: FakeVendors, db_file: str) -> None:
    cfg = slack.SlackConfig(bot_token="xoxb-test", channel="C0FIN", api_base=messaging.url + "/api",
                            mode="daily_digest", digest_time_zone="Europe/Berlin")
    day1 = datetime(2026, 1, 13, 15, 0, tzinfo=UTC)
    day2 = datetime(2026, 1, 14, 9, 0, tzinfo=UTC)
    eur = [billed_event(sid=f"S-{i}") for i in range(3)]
    jpy = billed_event("JPY", "ja_JP", sid="S-J", energy_price="45", flat="100")
    http = OneShotHttp()
    store = DigestStore(create_engine(db_file))

    def at(now: datetime) -> DeliveryContext:
        """The worker's context at ``now``, with the digest store of the current worker process."""
        return DeliveryContext(http, clock=lambda: now, stores=Stores(digests=store))

    for ev in [*eur[:2], jpy]:
        assert slack.deliver(ev, cfg, at(day1))["status"] == "accumulated"
    # worker restart: a new store; the outbox redelivers S-1 and the third session arrives
    store = DigestStore(create_engine(db_file))
    assert slack.deliver(eur[1], cfg, at(day1))["status"] == "duplicate"
    assert slack.deliver(eur[2], cfg, at(day1))["status"] == "accumulated"
    assert messaging.slack_messages == []
    # next day: the first event's delivery posts the closed day's digest; a failed post is retried later
    messaging.fail("/api/chat.postMessage", 500)
    next_day = billed_event(sid="S-next")
    next_day["created_at"] = "2026-01-14T08:59:00Z"
    with pytest.raises(RetryableError):
        slack.deliver(next_day, cfg, at(day2))
    store = DigestStore(create_engine(db_file))  # restart again
    assert slack.flush_digests("t1", cfg, http, store, day2) == [
        {"day": "2026-01-13", "sessions": 4, "ts": "1700000000.000001"}]
    assert slack.flush_digests("t1", cfg, http, store, day2) == []
    assert slack.deliver(next_day, cfg, at(day2))["status"] == "duplicate"
    [digest] = messaging.slack_messages
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in digest["blocks"][1]["fields"]}
    assert fields["*Sessions*"] == "4"
    assert fields["*Amount due (EUR)*"] == "€36.15"  # 3 x 12.05 from rate(...)
    assert Decimal(jpy["data"]["invoice"]["amount_due"]) == 1372 and fields["*Amount due (JPY)*"] == "¥1,372"
    assert digest["text"] == "Billing digest 2026-01-13: 4 sessions, €36.15, ¥1,372"

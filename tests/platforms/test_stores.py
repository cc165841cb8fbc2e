"""The persistent state behind 'no duplicates after a restart': Slack digest items/claims, Jira tickets.

A "restart" is a new store object on the same database file (nothing kept in memory)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import create_engine

from connector.platforms.adapters import slack
from connector.platforms.stores.digests import DigestStore
from connector.platforms.stores.tickets import TicketStore
from tests.platforms.events import billed_event

CFG = slack.SlackConfig(bot_token="xoxb-1", channel="C1", mode="daily_digest", digest_time_zone="Europe/Berlin")


def _engine(tmp_path: Path):  # noqa: ANN202
    return create_engine(f"sqlite:///{tmp_path / 'state.db'}")


def test_digest_items_survive_restart_and_are_not_double_counted(tmp_path: Path) -> None:
    now = datetime(2026, 1, 13, 20, 0, tzinfo=UTC)
    store = DigestStore(_engine(tmp_path))
    assert store.add(billed_event(sid="S-1"), CFG, now) is True
    assert store.add(billed_event(sid="S-2"), CFG, now) is True
    store = DigestStore(_engine(tmp_path))  # worker restart
    assert store.add(billed_event(sid="S-1"), CFG, now) is False  # redelivered event
    assert store.due("t1", CFG, now) == []  # the day is still open
    tomorrow = datetime(2026, 1, 14, 0, 30, tzinfo=UTC)  # 01:30 in Berlin: the 13th is closed
    [(day, items)] = store.due("t1", CFG, tomorrow)
    assert day == date(2026, 1, 13) and [i["session_id"] for i in items] == ["S-1", "S-2"]
    assert [i["amount_due"] for i in items] == ["12.05", "12.05"]


def test_digest_claim_is_exclusive_and_sent_days_are_not_due(tmp_path: Path) -> None:
    now = datetime(2026, 1, 14, 9, 0, tzinfo=UTC)
    store = DigestStore(_engine(tmp_path))
    store.add(billed_event(sid="S-1"), CFG, now)
    day = date(2026, 1, 13)
    assert store.claim("t1", CFG, day, now) is True
    store.mark_sent("t1", CFG, day, now, "1700000000.000001")
    assert store.claim("t1", CFG, day, now) is False
    assert DigestStore(_engine(tmp_path)).due("t1", CFG, now) == []
    # a late session for the sent day goes into today's digest, not lost, not re-posting the old day
    late = billed_event(sid="S-late")
    assert store.add(late, CFG, now) is True
    [(d, items)] = store.due("t1", CFG, datetime(2026, 1, 15, 9, 0, tzinfo=UTC))
    assert d == date(2026, 1, 14) and [i["session_id"] for i in items] == ["S-late"]


def test_digest_release_after_failed_post_and_crash_in_sending_is_retried(tmp_path: Path) -> None:
    now = datetime(2026, 1, 14, 9, 0, tzinfo=UTC)
    store = DigestStore(_engine(tmp_path))
    store.add(billed_event(sid="S-1"), CFG, now)
    day = date(2026, 1, 13)
    assert store.claim("t1", CFG, day, now)
    store.release("t1", CFG, day)
    assert [d for d, _ in store.due("t1", CFG, now)] == [day]
    assert store.claim("t1", CFG, day, now)  # claimed, then the worker dies before mark_sent
    assert DigestStore(_engine(tmp_path)).claim("t1", CFG, day, now) is True  # at-least-once


def test_jira_ticket_store_first_writer_wins(tmp_path: Path) -> None:
    now = datetime(2026, 1, 13, tzinfo=UTC)
    store = TicketStore(_engine(tmp_path))
    assert store.get("t1", "EVB", "an_1") is None
    assert store.put("t1", "EVB", "an_1", "EVB-1", now) == "EVB-1"
    assert TicketStore(_engine(tmp_path)).put("t1", "EVB", "an_1", "EVB-2", now) == "EVB-1"
    assert TicketStore(_engine(tmp_path)).get("t1", "EVB", "an_1") == "EVB-1"
    assert store.get("t2", "EVB", "an_1") is None  # tenants are separate

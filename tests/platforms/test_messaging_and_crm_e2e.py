"""End to end over HTTP on 127.0.0.1: each adapter against a local vendor double, with 429/500 replays,
permanent errors, and no duplicates after a worker restart (new objects on the same database file)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from connector.platforms.adapters import google_sheets, jira, salesforce, sendgrid, slack, zoho_analytics
from connector.platforms.context import DeliveryContext, Stores
from connector.platforms.errors import PermanentError, RetryableError
from connector.platforms.sender import HttpSender
from connector.platforms.stores.digests import DigestStore
from connector.platforms.stores.tickets import TicketStore
from tests.platforms.events import billed_event
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.fakes.messaging_and_crm import FakeVendors
from tests.platforms.schemas import schema_errors
from tests.platforms.test_contracts import anomaly_event, reconciliation_event
from tests.platforms.worker_model import Outbox


@pytest.fixture
def vendors() -> Iterator[FakeVendors]:
    fake = FakeVendors().start()
    yield fake
    fake.stop()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'worker.db'}"


def worker(db: str) -> tuple[Outbox, OneShotHttp]:
    """A (re)started worker: fresh objects, state only in the database."""
    return Outbox(create_engine(db)), OneShotHttp()


# ---------------------------------------------------------------- SendGrid

def test_sendgrid_receipt_retries_then_one_email_even_after_restart(vendors: FakeVendors, db: str) -> None:
    cfg = sendgrid.SendGridConfig(api_key="SG.test", from_email="billing@evcharge.example", base_url=vendors.url)
    event = billed_event("EUR", "de_DE")
    vendors.fail("/v3/mail/send", 429, 500, retry_after="2")
    outbox, http = worker(db)
    result = outbox.run(sendgrid.idempotency_key(event), lambda: sendgrid.deliver(
        event, cfg, DeliveryContext(http)))
    assert result["status"] == "sent" and result["ref"].startswith("msg-") and result["to"] == "jane@example.com"
    assert len(vendors.calls("/v3/mail/send")) == 3 and outbox.retry_afters == [2.0, None]
    [mail] = vendors.emails
    assert schema_errors("sendgrid/mail_send.schema.json", mail) == []
    assert 'data-total="amount_due" data-amount="12.05"' in mail["content"][1]["value"]
    assert "Zu zahlen: 12,05\xa0€" in mail["content"][0]["value"]
    # restart, then the same event and the invoice.finalized of the same invoice: no second email
    outbox, http = worker(db)
    finalized = {"id": "evt_fin", "type": "invoice.finalized", "tenant_id": "t1", "data": {"invoice": event["data"]["invoice"]}}
    for ev in (event, finalized):
        assert outbox.run(sendgrid.idempotency_key(ev), lambda ev=ev: sendgrid.deliver(
            ev, cfg, DeliveryContext(http))) == {
            "status": "already_delivered"}
    assert len(vendors.emails) == 1 and len(vendors.calls("/v3/mail/send")) == 3


def test_sendgrid_bad_key_is_permanent_without_retry(vendors: FakeVendors) -> None:
    cfg = sendgrid.SendGridConfig(api_key="SG.wrong", from_email="billing@evcharge.example", base_url=vendors.url)
    http = OneShotHttp()
    with pytest.raises(PermanentError, match="401"):
        sendgrid.deliver(billed_event(), cfg, DeliveryContext(http))
    assert http.attempts == 1 and vendors.emails == []


# ---------------------------------------------------------------- Slack

def test_slack_per_event_with_retries_and_slack_errors(vendors: FakeVendors) -> None:
    cfg = slack.SlackConfig(bot_token="xoxb-test", channel="C0FIN", api_base=vendors.url + "/api")
    http = OneShotHttp()
    vendors.fail("/api/chat.postMessage", 429, retry_after="1")
    with pytest.raises(RetryableError):
        slack.deliver(billed_event(), cfg, DeliveryContext(http))
    vendors.fail("/api/chat.postMessage", 200, body=json.dumps({"ok": False, "error": "ratelimited"}))
    with pytest.raises(RetryableError, match="ratelimited"):
        slack.deliver(billed_event(), cfg, DeliveryContext(http))
    assert slack.deliver(billed_event(), cfg, DeliveryContext(http))["ref"].startswith("1700000000.")
    assert slack.deliver(reconciliation_event(), cfg, DeliveryContext(http))["status"] == "sent"
    assert slack.deliver(anomaly_event(), cfg, DeliveryContext(http))["status"] == "sent"
    assert [m["text"] for m in vendors.slack_messages] == [
        "Session S-100 billed €12.05",
        "Reconciliation rec_1 2026-01-13 → 2026-01-14: difference -€2.50, 3 exceptions",
        "Billing anomaly negative_energy on session S-100"]
    with pytest.raises(PermanentError, match="channel_not_found"):
        slack.deliver(billed_event(), cfg.model_copy(update={"channel": "C0GONE"}), DeliveryContext(http))
    hook = slack.SlackConfig(webhook_url=vendors.url + "/services/T000/B000/secret")
    assert slack.deliver(billed_event(), hook, DeliveryContext(http)) == {"status": "sent", "ref": None}


def test_slack_daily_digest_survives_restart_without_duplicates(vendors: FakeVendors, db: str) -> None:
    cfg = slack.SlackConfig(bot_token="xoxb-test", channel="C0FIN", api_base=vendors.url + "/api",
                            mode="daily_digest", digest_time_zone="Europe/Berlin")
    day1 = datetime(2026, 1, 13, 15, 0, tzinfo=UTC)
    day2 = datetime(2026, 1, 14, 9, 0, tzinfo=UTC)
    eur = [billed_event(sid=f"S-{i}") for i in range(3)]
    jpy = billed_event("JPY", "ja_JP", sid="S-J", energy_price="45", flat="100")
    http = OneShotHttp()
    store = DigestStore(create_engine(db))

    def at(now: datetime) -> DeliveryContext:
        """The worker's context at ``now``, with the digest store of the current worker process."""
        return DeliveryContext(http, clock=lambda: now, stores=Stores(digests=store))

    for ev in [*eur[:2], jpy]:
        assert slack.deliver(ev, cfg, at(day1))["status"] == "accumulated"
    # worker restart: a new store; the outbox redelivers S-1 and the third session arrives
    store = DigestStore(create_engine(db))
    assert slack.deliver(eur[1], cfg, at(day1))["status"] == "duplicate"
    assert slack.deliver(eur[2], cfg, at(day1))["status"] == "accumulated"
    assert vendors.slack_messages == []
    # next day: the first event's delivery posts the closed day's digest; a failed post is retried later
    vendors.fail("/api/chat.postMessage", 500)
    next_day = billed_event(sid="S-next")
    next_day["created_at"] = "2026-01-14T08:59:00Z"
    with pytest.raises(RetryableError):
        slack.deliver(next_day, cfg, at(day2))
    store = DigestStore(create_engine(db))  # restart again
    assert slack.flush_digests("t1", cfg, http, store, day2) == [
        {"day": "2026-01-13", "sessions": 4, "ts": "1700000000.000001"}]
    assert slack.flush_digests("t1", cfg, http, store, day2) == []
    assert slack.deliver(next_day, cfg, at(day2))["status"] == "duplicate"
    [digest] = vendors.slack_messages
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in digest["blocks"][1]["fields"]}
    assert fields["*Sessions*"] == "4"
    assert fields["*Amount due (EUR)*"] == "€36.15"  # 3 x 12.05 from rate(...)
    assert Decimal(jpy["data"]["invoice"]["amount_due"]) == 1372 and fields["*Amount due (JPY)*"] == "¥1,372"
    assert digest["text"] == "Billing digest 2026-01-13: 4 sessions, €36.15, ¥1,372"


# ---------------------------------------------------------------- Jira

def test_jira_one_ticket_per_anomaly_across_retries_restarts_and_lost_state(vendors: FakeVendors, db: str,
                                                                            tmp_path: Path) -> None:
    cfg = jira.JiraConfig(base_url=vendors.url, email="bot@evcharge.example", api_token="t", project_key="EVB")
    event = anomaly_event("duplicate_session", aid="an_42")
    http = OneShotHttp()
    outbox = Outbox(create_engine(db))

    def with_tickets(store: TicketStore) -> DeliveryContext:
        """The worker's context with this ticket store (a new one stands for a restart or a lost database)."""
        return DeliveryContext(http, stores=Stores(tickets=store))

    vendors.fail("/rest/api/3/issue", 500, 429, retry_after="0")
    result = outbox.run(f"jira:{event['id']}",
                        lambda: jira.deliver(event, cfg, with_tickets(TicketStore(create_engine(db)))))
    assert result == {"status": "sent", "ref": "EVB-1"}
    [issue] = vendors.jira_issues
    assert schema_errors("jira/adf_doc.schema.json", issue["fields"]["description"], request_body=False) == []
    assert "evbill-anomaly-an_42" in issue["fields"]["labels"]
    # the billing side emits the same anomaly again (new event id): local table answers, no call to Jira
    again = dict(event, id="evt_again")
    calls = len(vendors.requests)
    assert jira.deliver(again, cfg, with_tickets(TicketStore(create_engine(db)))) == {
        "status": "duplicate", "ref": "EVB-1", "found_by": "local"}
    assert len(vendors.requests) == calls
    # the worker's database is lost (or it crashed between Jira's 201 and the local write): the search finds it
    fresh = TicketStore(create_engine(f"sqlite:///{tmp_path / 'fresh.db'}"))
    assert jira.deliver(again, cfg, with_tickets(fresh)) == {
        "status": "duplicate", "ref": "EVB-1", "found_by": "search"}
    assert len(vendors.jira_issues) == 1
    other = anomaly_event("negative_energy", aid="an_43")
    assert jira.deliver(other, cfg, with_tickets(fresh))["ref"] == "EVB-2"


# ---------------------------------------------------------------- Salesforce

def test_salesforce_upsert_is_idempotent_and_retried(vendors: FakeVendors) -> None:
    cfg = salesforce.SalesforceConfig(instance_url=vendors.url, access_token="tok", rules=[
        salesforce.SalesforceRule(name="fleet", customer_classes=["fleet"])])
    event = billed_event(customer_class="fleet")
    http = OneShotHttp()
    vendors.fail("/services/data/", 503)
    with pytest.raises(RetryableError):
        salesforce.deliver(event, cfg, DeliveryContext(http))
    first = salesforce.deliver(event, cfg, DeliveryContext(http))
    second = salesforce.deliver(event, cfg, DeliveryContext(http))  # redelivery after a restart: same record, updated
    assert first["records"][0]["created"] is True and second["records"][0]["created"] is False
    assert first["ref"] == second["ref"] and len(vendors.sf_records) == 1
    [(key, record)] = vendors.sf_records.items()
    assert key == ("Case", "EV_Billing_Key__c", "fleet:S-100")
    assert record["Subject"] == "EV session S-100 billed €12.05"
    bad = cfg.model_copy(update={"rules": [salesforce.SalesforceRule(name="fleet", customer_classes=["fleet"],
                                                                    extra_fields={"EV_Billing_Key__c": "x"})]})
    assert salesforce.deliver(event, bad, DeliveryContext(http))["status"] == "sent"  # the mapping drops the key from the body
    assert salesforce.deliver(billed_event(), cfg, DeliveryContext(http))["status"] == "skipped"


# ---------------------------------------------------------------- Zoho Analytics

def test_zoho_updateadd_keeps_one_row_per_session(vendors: FakeVendors) -> None:
    cfg = zoho_analytics.ZohoAnalyticsConfig(api_base=vendors.url, org_id="6000", workspace_id="W1",
                                             sessions_view_id="V1", exceptions_view_id="V2", access_token="tok")
    http = OneShotHttp()
    vendors.fail("/restapi/v2/", 429, retry_after="1")
    with pytest.raises(RetryableError):
        zoho_analytics.deliver(billed_event(), cfg, DeliveryContext(http))
    for _ in range(2):
        assert zoho_analytics.deliver(
            billed_event(), cfg, DeliveryContext(http)) == {"status": "sent", "ref": "updateadd", "rows": 1}
    zoho_analytics.deliver(billed_event(sid="S-101"), cfg, DeliveryContext(http))
    zoho_analytics.deliver(anomaly_event(), cfg, DeliveryContext(http))
    assert sorted(vendors.zoho_rows["V1"]) == ["S-100", "S-101"]
    assert vendors.zoho_rows["V1"]["S-100"]["Amount Due"] == "12.05"
    assert list(vendors.zoho_rows["V2"]) == ["an_1"]
    assert all(r["headers"].get("Zanalytics-Orgid") == "6000" for r in vendors.calls("/restapi/"))
    no_token = cfg.model_copy(update={"access_token": None})
    with pytest.raises(PermanentError, match="401"):
        zoho_analytics.deliver(billed_event(), no_token, DeliveryContext(http))


# ---------------------------------------------------------------- Google Sheets (wiring only)

def test_google_sheets_hands_billed_sessions_to_the_sync() -> None:
    cfg = google_sheets.GoogleSheetsConfig(spreadsheet_id="1AbCdEfGhIjKlMnOp")
    seen: list[Any] = []

    def fake_sync(spreadsheet_id: str, records: list[dict[str, Any]], **kw: Any) -> int:
        seen.append((spreadsheet_id, records, kw))
        return len(records)

    ctx = DeliveryContext(HttpSender(), sheets_sync=fake_sync)
    assert google_sheets.deliver(billed_event(), cfg, ctx) == {"status": "sent", "ref": "1"}
    [(sid, [record], kw)] = seen
    assert sid == "1AbCdEfGhIjKlMnOp" and kw == {"worksheet": "Sessions"}
    assert (record["session_id"], record["amount_due"], record["currency"]) == ("S-100", "12.05", "EUR")
    assert google_sheets.deliver(anomaly_event(), cfg, ctx)["status"] == "skipped"

"""Jira: bodies against the vendor contract in ../shared/vendor-specs (each schema also shown to bite
on a broken variant of our own body), then end to end over HTTP against the local double on 127.0.0.1:
429/500 replays, permanent errors, and no duplicates after a worker restart."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import get_args

import pytest
from sqlalchemy import create_engine

from connector.billing.anomalies import RuleName
from connector.platforms.adapters import jira
from connector.platforms.context import DeliveryContext, Stores
from connector.platforms.stores.tickets import TicketStore
from tests.platforms.events import anomaly_event
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.fakes.messaging_and_crm import FakeVendors
from tests.platforms.schemas import is_valid, schema_errors
from tests.platforms.worker_model import Outbox

JIRA = jira.JiraConfig(base_url="https://evb.atlassian.net", email="bot@evcharge.example", api_token="t",
                       project_key="EVB", set_priority=True)


@pytest.mark.parametrize("rule", ["negative_energy", "implausible_energy", "duplicate_session", "long_session",
                                  "rating_failure", "reconciliation_mismatch", "unbilled_session",
                                  "payment_failed", "payment_returned", "unexpected_payment",
                                  "paid_amount_mismatch", "something_new"])
def test_jira_issue_and_adf_match_vendor_schemas(rule: str) -> None:
    event = anomaly_event(rule, aid=f"an {rule}/1")
    body = jira.issue_body(event, JIRA)
    assert schema_errors("jira/issue_create.schema.json", body) == []
    assert schema_errors("jira/adf_doc.schema.json", body["fields"]["description"], request_body=False) == []
    labels = body["fields"]["labels"]
    assert f"evbill-anomaly-an_{rule}_1" in labels and all(" " not in label for label in labels)
    assert body["properties"][0]["key"] == "evbill.anomaly"
    assert body["fields"]["summary"].startswith("[EV billing] ") and body["fields"]["summary"].endswith("S-100")
    assert body["fields"]["priority"] == {"name": "High"}
    assert jira.search_body(event["data"]["anomaly"], JIRA)["jql"] == (
        f'project = "EVB" AND labels = "evbill-anomaly-an_{rule}_1"')


def test_every_anomaly_rule_has_a_jira_title() -> None:
    rules = set(get_args(RuleName))
    assert rules - set(jira.RULES) == set()
    # the four payment rules and the unbilled session: titled, and an invoice's anomaly names the invoice
    for rule in ("payment_failed", "payment_returned", "unexpected_payment", "paid_amount_mismatch"):
        event = anomaly_event(rule, aid=f"an_{rule}", session_id=None, station_id=None,
                              details={"invoice_id": "inv_42", "platform": "stripe"})
        summary = jira.issue_body(event, JIRA)["fields"]["summary"]
        assert summary == f"[EV billing] {jira.RULES[rule][0]}: inv_42"
    numbered = anomaly_event("payment_returned", session_id=None, details={"invoice_id": "inv_42",
                                                                           "invoice_number": "INV-000042"})
    assert jira.issue_body(numbered, JIRA)["fields"]["summary"].endswith(": INV-000042")
    body = jira.issue_body(anomaly_event("unbilled_session"), JIRA)
    assert body["fields"]["summary"] == "[EV billing] Session ended but not billed: S-100"


def test_adf_schema_bites() -> None:
    doc = jira.issue_body(anomaly_event(), JIRA)["fields"]["description"]
    bad = copy.deepcopy(doc)
    bad["content"][2]["content"][0]["content"][1]["content"] = ["bare text in a cell"]
    assert not is_valid("jira/adf_doc.schema.json", bad, request_body=False)
    bad = copy.deepcopy(doc)
    bad["content"][0]["attrs"]["level"] = 9
    assert not is_valid("jira/adf_doc.schema.json", bad, request_body=False)
    with pytest.raises(ValueError, match="data.anomaly"):
        jira.issue_body({"type": "billing.anomaly", "data": {}}, JIRA)


def test_jira_one_ticket_per_anomaly_across_retries_restarts_and_lost_state(messaging: FakeVendors, db_file: str,
                                                                            tmp_path: Path) -> None:
    cfg = jira.JiraConfig(base_url=messaging.url, email="bot@evcharge.example", api_token="t", project_key="EVB")
    event = anomaly_event("duplicate_session", aid="an_42")
    http = OneShotHttp()
    outbox = Outbox(create_engine(db_file))

    def with_tickets(store: TicketStore) -> DeliveryContext:
        """The worker's context with this ticket store (a new one stands for a restart or a lost database)."""
        return DeliveryContext(http, stores=Stores(tickets=store))

    messaging.fail("/rest/api/3/issue", 500, 429, retry_after="0")
    result = outbox.run(f"jira:{event['id']}",
                        lambda: jira.deliver(event, cfg, with_tickets(TicketStore(create_engine(db_file)))))
    assert result == {"status": "sent", "ref": "EVB-1"}
    [issue] = messaging.jira_issues
    assert schema_errors("jira/adf_doc.schema.json", issue["fields"]["description"], request_body=False) == []
    assert "evbill-anomaly-an_42" in issue["fields"]["labels"]
    # the billing side emits the same anomaly again (new event id): local table answers, no call to Jira
    again = dict(event, id="evt_again")
    calls = len(messaging.requests)
    assert jira.deliver(again, cfg, with_tickets(TicketStore(create_engine(db_file)))) == {
        "status": "duplicate", "ref": "EVB-1", "found_by": "local"}
    assert len(messaging.requests) == calls
    # the worker's database is lost (or it crashed between Jira's 201 and the local write): the search finds it
    fresh = TicketStore(create_engine(f"sqlite:///{tmp_path / 'fresh.db'}"))
    assert jira.deliver(again, cfg, with_tickets(fresh)) == {
        "status": "duplicate", "ref": "EVB-1", "found_by": "search"}
    assert len(messaging.jira_issues) == 1
    other = anomaly_event("negative_energy", aid="an_43")
    assert jira.deliver(other, cfg, with_tickets(fresh))["ref"] == "EVB-2"

"""Outgoing bodies against the vendor contracts in ../shared/vendor-specs (and slack_sdk for Block Kit).

Each schema is also shown to bite on a broken variant of our own body, so a pass means something.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from connector.platforms.adapters import jira, salesforce, sendgrid, slack, zoho_analytics
from connector.platforms.stores.digests import digest_item
from tests.platforms.events import billed_event
from tests.platforms.schemas import is_valid, schema_errors

SG = sendgrid.SendGridConfig(api_key="SG.x", from_email="billing@evcharge.example", reply_to="help@evcharge.example",
                             bcc=["audit@evcharge.example"])


def anomaly_event(rule: str = "negative_energy", aid: str = "an_1", **extra: Any) -> dict[str, Any]:
    anomaly = {"id": aid, "rule": rule, "severity": "high", "session_id": "S-100", "station_id": "ST-7",
               "message": "Energy -3.2 kWh reported", "details": {"energy_kwh": "-3.2", "meter": [0, -3.2]}}
    anomaly.update(extra)
    return {"id": f"evt_{aid}", "type": "billing.anomaly", "tenant_id": "t1", "created_at": "2026-01-13T11:31:00Z",
            "data": {"anomaly": anomaly}}


def reconciliation_event(n_exceptions: int = 3) -> dict[str, Any]:
    return {"id": "evt_rec1", "type": "reconciliation.completed", "tenant_id": "t1",
            "created_at": "2026-01-14T02:00:00Z",
            "data": {"reconciliation": {"id": "rec_1", "kind": "payments", "period_start": "2026-01-13",
                                        "period_end": "2026-01-14", "stations": ["ST-7"],
                                        "summary": {"expected": "120.50", "billed": "120.50", "paid": "118.00",
                                                    "difference": "-2.50", "currency": "EUR"},
                                        "rows": [],
                                        "exceptions": [{"session_id": f"S-{i}", "reason": "unpaid",
                                                        "difference": "-0.50"} for i in range(n_exceptions)]}}}


# ---------------------------------------------------------------- SendGrid

@pytest.mark.parametrize(("currency", "locale"), [("EUR", "de_DE"), ("JPY", "ja_JP"), ("KWD", "ar_KW")])
def test_sendgrid_body_matches_vendor_schema(currency: str, locale: str) -> None:
    event = billed_event(currency, locale)
    body = sendgrid.build_mail(event, SG)
    assert schema_errors("sendgrid/mail_send.schema.json", body) == []
    p = body["personalizations"][0]
    assert p["to"] == [{"email": "jane@example.com", "name": "Jane Driver"}]
    assert p["custom_args"] == {"event_id": "evt_S-100", "invoice_id": "inv_S-100", "tenant_id": "t1",
                                "event_type": "session.billed"}
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    broken = copy.deepcopy(body)
    broken["content"][0]["type"] = 7
    assert schema_errors("sendgrid/mail_send.schema.json", broken)
    broken = copy.deepcopy(body)
    del broken["personalizations"]
    assert schema_errors("sendgrid/mail_send.schema.json", broken)


def test_sendgrid_one_receipt_per_invoice_and_skips() -> None:
    billed = billed_event()
    finalized = {"id": "evt_fin", "type": "invoice.finalized", "tenant_id": "t1",
                 "data": {"invoice": billed["data"]["invoice"]}}
    assert sendgrid.idempotency_key(billed) == sendgrid.idempotency_key(finalized) == "sendgrid:receipt:t1:inv_S-100"
    assert sendgrid.skip_reason(billed, SG) is None
    draft = copy.deepcopy(billed)
    draft["data"]["invoice"]["status"] = "draft"
    assert "goes out when it is finalized" in str(sendgrid.skip_reason(draft, SG))
    assert "no email address" in str(sendgrid.skip_reason(billed_event(email=None), SG))
    assert "not configured" in str(sendgrid.skip_reason(anomaly_event(), SG))


# ---------------------------------------------------------------- Slack

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


# ---------------------------------------------------------------- Jira

JIRA = jira.JiraConfig(base_url="https://evb.atlassian.net", email="bot@evcharge.example", api_token="t",
                       project_key="EVB", set_priority=True)


@pytest.mark.parametrize("rule", ["negative_energy", "implausible_energy", "duplicate_session", "long_session",
                                  "rating_failure", "reconciliation_mismatch", "something_new"])
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


# ---------------------------------------------------------------- Zoho Analytics

ZOHO = zoho_analytics.ZohoAnalyticsConfig(org_id="6000", workspace_id="W1", sessions_view_id="V1",
                                          exceptions_view_id="V2", access_token="tok")


def test_zoho_import_config_matches_vendor_schema_and_upserts_on_session_id() -> None:
    url, params, form = zoho_analytics.plan(billed_event(), ZOHO)  # type: ignore[misc]
    assert url == "https://analyticsapi.zoho.com/restapi/v2/workspaces/W1/views/V1/data"
    config = json.loads(params["CONFIG"])
    assert schema_errors("zoho_analytics/import_existing_table_config.schema.json", config) == []
    assert config["importType"] == "updateadd" and config["matchingColumns"] == ["Session ID"]
    rows = json.loads(form["DATA"])
    assert rows == [{"Session ID": "S-100", "Tenant": "t1", "Station ID": "ST-7", "Customer ID": "C-1",
                     "Customer Class": "public", "Started At": "2026-01-13 10:00:00",
                     "Ended At": "2026-01-13 11:30:00", "kWh": "23.4000", "Currency": "EUR", "Net": "10.13",
                     "Tax": "1.92", "Amount Due": "12.05", "Invoice": "INV-0001", "Event ID": "evt_S-100"}]
    # the same row also passes the addRow contract (columns object)
    assert schema_errors("zoho_analytics/add_row.schema.json", {"CONFIG": {"columns": rows[0]}}) == []
    assert schema_errors("zoho_analytics/import_existing_table_config.schema.json",
                         dict(config, importType="upsert"))
    _, params, form = zoho_analytics.plan(anomaly_event(), ZOHO)  # type: ignore[misc]
    assert json.loads(params["CONFIG"])["matchingColumns"] == ["Anomaly ID"]
    assert json.loads(form["DATA"])[0]["Anomaly ID"] == "an_1"
    assert zoho_analytics.plan(anomaly_event(), ZOHO.model_copy(update={"exceptions_view_id": None})) is None


# ---------------------------------------------------------------- Salesforce (no static vendor spec exists)

def test_salesforce_rules_and_external_id_upsert() -> None:
    cfg = salesforce.SalesforceConfig(instance_url="https://evb.my.salesforce.com", access_token="tok", rules=[
        salesforce.SalesforceRule(name="fleet", customer_classes=["fleet"], subject="Fleet session {session_id}: {amount_due}"),
        salesforce.SalesforceRule(name="big", sobject="Task", min_amount_due="100"),
        salesforce.SalesforceRule(name="dispute", events=["billing.anomaly"], anomaly_rules=["duplicate_session"],
                                  priority="High")])
    assert salesforce.plan(billed_event(customer_class="public"), cfg) == []
    [(url, body)] = salesforce.plan(billed_event(customer_class="fleet"), cfg)
    assert url == ("https://evb.my.salesforce.com/services/data/v62.0/sobjects/Case/EV_Billing_Key__c/fleet%3AS-100")
    assert body["Subject"] == "Fleet session S-100: €12.05" and body["Status"] == "New" and body["Origin"] == "Web"
    assert "EV_Billing_Key__c" not in body and "Amount due: €12.05" in body["Description"]
    big = billed_event(energy="300", customer_class="fleet")  # 1.00 + 300 x 0.39 = 118.00 net
    assert [u.split("/sobjects/")[1] for u, _ in salesforce.plan(big, cfg)] == [
        "Case/EV_Billing_Key__c/fleet%3AS-100", "Task/EV_Billing_Key__c/big%3AS-100"]
    [(url, body)] = salesforce.plan(anomaly_event("duplicate_session"), cfg)
    assert url.endswith("/Case/EV_Billing_Key__c/dispute%3AS-100") and body["Priority"] == "High"
    assert salesforce.plan(anomaly_event("negative_energy"), cfg) == []
    with pytest.raises(ValueError, match="external_id_field"):
        salesforce.SalesforceConfig(instance_url="x", external_id_field="Name", rules=cfg.rules)


def test_every_adapter_names_its_events_config_and_delivery_key() -> None:
    from connector.platforms.adapters import google_sheets

    modules = (sendgrid, slack, jira, salesforce, zoho_analytics, google_sheets)
    assert [m.NAME for m in modules] == ["sendgrid", "slack", "jira", "salesforce", "zoho_analytics", "google_sheets"]
    for m in modules:
        assert callable(m.deliver) and callable(m.idempotency_key) and m.EVENTS
        assert issubclass(m.Config, __import__("pydantic").BaseModel)
    a1, a2 = anomaly_event(aid="an_9"), dict(anomaly_event(aid="an_9"), id="evt_other")
    assert jira.idempotency_key(a1) == jira.idempotency_key(a2) == "jira:t1:an_9"
    assert google_sheets.idempotency_key(billed_event(event_id="e1")) == google_sheets.idempotency_key(
        billed_event(event_id="e2")) == "google_sheets:t1:S-100"
    assert slack.idempotency_key(billed_event(event_id="e1")) != slack.idempotency_key(billed_event(event_id="e2"))

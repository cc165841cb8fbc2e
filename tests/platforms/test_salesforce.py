"""Salesforce: the rules and the external-id upsert (no static vendor spec exists), then end to end over
HTTP against the local double on 127.0.0.1 with 429/500 replays."""

from __future__ import annotations

import pytest

from connector.platforms.adapters import salesforce
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import RetryableError
from tests.platforms.events import anomaly_event, billed_event
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.fakes.messaging_and_crm import FakeVendors


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


def test_salesforce_upsert_is_idempotent_and_retried(messaging: FakeVendors) -> None:
    cfg = salesforce.SalesforceConfig(instance_url=messaging.url, access_token="tok", rules=[
        salesforce.SalesforceRule(name="fleet", customer_classes=["fleet"])])
    event = billed_event(customer_class="fleet")
    http = OneShotHttp()
    messaging.fail("/services/data/", 503)
    with pytest.raises(RetryableError):
        salesforce.deliver(event, cfg, DeliveryContext(http))
    first = salesforce.deliver(event, cfg, DeliveryContext(http))
    second = salesforce.deliver(event, cfg, DeliveryContext(http))  # redelivery after a restart: same record, updated
    assert first["records"][0]["created"] is True and second["records"][0]["created"] is False
    assert first["ref"] == second["ref"] and len(messaging.sf_records) == 1
    [(key, record)] = messaging.sf_records.items()
    assert key == ("Case", "EV_Billing_Key__c", "fleet:S-100")
    assert record["Subject"] == "EV session S-100 billed €12.05"
    bad = cfg.model_copy(update={"rules": [salesforce.SalesforceRule(name="fleet", customer_classes=["fleet"],
                                                                    extra_fields={"EV_Billing_Key__c": "x"})]})
    assert salesforce.deliver(event, bad, DeliveryContext(http))["status"] == "sent"  # the mapping drops the key from the body
    assert salesforce.deliver(billed_event(), cfg, DeliveryContext(http))["status"] == "skipped"

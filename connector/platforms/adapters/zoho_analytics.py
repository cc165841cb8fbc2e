"""Zoho Analytics: row sync of billed sessions and billing exceptions (anomalies).

Zoho has no idempotency key: ``updateadd`` on the session (or anomaly) id column makes every load an upsert,
so a redelivery updates its row. See docs/platforms/zoho_analytics.md."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from connector.models.documents import EventJson
from connector.platforms.context import DeliveryContext

NAME = "zoho_analytics"
EVENTS = ("session.billed", "billing.anomaly")
DATE_FORMAT = "yyyy-MM-dd HH:mm:ss"


class ZohoAnalyticsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_base: str = "https://analyticsapi.zoho.com"
    org_id: str = Field(min_length=1)
    workspace_id: str = Field(min_length=1)
    sessions_view_id: str = Field(min_length=1)
    exceptions_view_id: str | None = None
    # OAuth 2.0 refresh-token flow (Zoho accounts server); or a static access token for tests
    token_url: str = "https://accounts.zoho.com/oauth/v2/token"
    client_id: str | None = None
    client_secret: str | None = Field(default=None, repr=False)
    refresh_token: str | None = Field(default=None, repr=False)
    access_token: str | None = Field(default=None, repr=False)


def _zoho_time(iso: str | None) -> str:
    """ISO 8601 -> ``yyyy-MM-dd HH:mm:ss`` in UTC (the DATE_FORMAT sent in CONFIG)."""
    if not iso:
        return ""
    from datetime import UTC, datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def session_row(event: EventJson) -> dict[str, str]:
    data = event.get("data") or {}
    s = data.get("session") or {}
    r: Mapping[str, Any] = data.get("rating") or {}
    inv: Mapping[str, Any] = data.get("invoice") or {}
    cust = inv.get("customer") or {}
    return {
        "Session ID": str(s.get("id") or r.get("session_id")),
        "Tenant": str(event.get("tenant_id", "")),
        "Station ID": str(s.get("station_id") or ""),
        "Customer ID": str(cust.get("id") or s.get("customer_id") or ""),
        "Customer Class": str(cust.get("customer_class") or r.get("customer_class") or ""),
        "Started At": _zoho_time(s.get("start") or r.get("start")),
        "Ended At": _zoho_time(s.get("end") or r.get("end")),
        "kWh": str(r.get("total_energy") or ""),
        "Currency": str(inv.get("currency") or r.get("currency") or ""),
        "Net": str(inv.get("net_total", "")),
        "Tax": str(inv.get("tax_total", "")),
        "Amount Due": str(inv.get("amount_due", "")),
        "Invoice": str(inv.get("number") or inv.get("id") or ""),
        "Event ID": str(event.get("id", "")),
    }


def exception_row(event: EventJson) -> dict[str, str]:
    a = (event.get("data") or {}).get("anomaly") or {}
    return {
        "Anomaly ID": str(a.get("id") or f"{a.get('rule')}:{a.get('session_id')}"),
        "Tenant": str(event.get("tenant_id", "")),
        "Rule": str(a.get("rule") or ""),
        "Severity": str(a.get("severity") or ""),
        "Session ID": str(a.get("session_id") or ""),
        "Station ID": str(a.get("station_id") or ""),
        "Message": str(a.get("message") or "")[:1000],
        "Detected At": _zoho_time(event.get("created_at")),
        "Event ID": str(event.get("id", "")),
    }


def import_config(matching_column: str) -> dict[str, Any]:
    """The CONFIG query parameter (validated against the vendor schema in tests)."""
    return {"importType": "updateadd", "fileType": "json", "autoIdentify": True, "onError": "abort",
            "matchingColumns": [matching_column], "dateFormat": DATE_FORMAT}


def plan(event: EventJson, config: ZohoAnalyticsConfig) -> tuple[str, dict[str, str], dict[str, str]] | None:
    """(url, query params, form fields) or None when the event has no row for this tenant's config."""
    if event.get("type") == "session.billed":
        view, row, key = config.sessions_view_id, session_row(event), "Session ID"
    elif event.get("type") == "billing.anomaly" and config.exceptions_view_id:
        view, row, key = config.exceptions_view_id, exception_row(event), "Anomaly ID"
    else:
        return None
    url = f"{config.api_base.rstrip('/')}/restapi/v2/workspaces/{config.workspace_id}/views/{view}/data"
    return url, {"CONFIG": json.dumps(import_config(key))}, {"DATA": json.dumps([row])}


def deliver(event: EventJson, config: ZohoAnalyticsConfig, ctx: DeliveryContext) -> dict[str, Any]:
    planned = plan(event, config)
    if planned is None:
        return {"status": "skipped", "reason": f"no Zoho view configured for {event.get('type')!r}"}
    url, params, form = planned
    resp = ctx.http.send("POST", url, params=params, files={"DATA": (None, form["DATA"], "application/json")},
                     headers={"ZANALYTICS-ORGID": config.org_id, **_auth_header(config)})
    summary = (resp.json().get("data") or {}).get("importSummary") or {}
    return {"status": "sent", "ref": summary.get("importType"), "rows": summary.get("successRowCount")}


def _auth_header(config: ZohoAnalyticsConfig) -> dict[str, str]:
    return {"Authorization": f"Zoho-oauthtoken {config.access_token}"} if config.access_token else {}


Config = ZohoAnalyticsConfig


def idempotency_key(event: EventJson, config: ZohoAnalyticsConfig | None = None) -> str:
    """Per event; updateadd on the matching column makes a repeat an update."""
    return f"zoho_analytics:{event.get('tenant_id', '')}:{event.get('id')}"

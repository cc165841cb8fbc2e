"""Jira Cloud: one ticket per billing anomaly (``billing.anomaly``), ADF description, never two tickets.

Dedupe on the anomaly's fingerprint: the local ticket table first, then a JQL search for its label before any
create (covers a lost local write). See docs/platforms/jira.md."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from connector.models.documents import EventJson
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError

NAME = "jira"
EVENTS = ("billing.anomaly",)

# Known anomaly rules (connector/billing/anomalies.py) -> summary wording and default priority.
RULES: dict[str, tuple[str, str]] = {
    "negative_energy": ("Negative energy reported", "High"),
    "implausible_energy": ("Implausible energy for the session", "High"),
    "duplicate_session": ("Duplicate charging session", "Medium"),
    "long_session": ("Session longer than the threshold", "Low"),
    "session_too_long": ("Session longer than the threshold", "Low"),
    "rating_failure": ("Session could not be rated", "High"),
    "reconciliation_mismatch": ("Reconciliation mismatch", "High"),
    "unbilled_session": ("Session ended but not billed", "Medium"),
    "payment_failed": ("Payment failed; invoice reopened", "Medium"),
    "payment_returned": ("Payment returned; invoice reopened", "High"),
    "unexpected_payment": ("Payment for an invoice already settled or void", "High"),
    "paid_amount_mismatch": ("Paid at the vendor for another amount than billed", "High"),
}
SEVERITY_PRIORITY = {"critical": "Highest", "high": "High", "error": "High", "warning": "Medium",
                     "medium": "Medium", "low": "Low", "info": "Low"}


class JiraConfig(BaseModel):
    """Basic auth (email + API token) against ``https://{site}.atlassian.net``."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(description="https://your-site.atlassian.net")
    email: str = Field(min_length=3)
    api_token: str = Field(min_length=1, repr=False)
    project_key: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,9}$")
    issue_type: str = "Task"
    labels: list[str] = Field(default_factory=lambda: ["ev-billing", "billing-anomaly"])
    set_priority: bool = Field(default=False, description="Send fields.priority (only if the create screen has it)")
    rules: list[str] | None = Field(default=None, description="Only these anomaly rules open tickets (None = all)")


def fingerprint(anomaly: dict[str, Any]) -> str:
    """Stable dedupe key of an anomaly, safe as a Jira label (no spaces, ≤ 255 chars)."""
    raw = anomaly.get("id") or f"{anomaly.get('rule', 'anomaly')}-{anomaly.get('session_id', 'none')}"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", str(raw))[:200]


def dedupe_label(anomaly: dict[str, Any]) -> str:
    return f"evbill-anomaly-{fingerprint(anomaly)}"


def search_body(anomaly: dict[str, Any], config: JiraConfig) -> dict[str, Any]:
    """``POST /rest/api/3/search/jql`` body that finds an existing ticket for this anomaly."""
    return {"jql": f'project = "{config.project_key}" AND labels = "{dedupe_label(anomaly)}"',
            "fields": ["key", "status"], "maxResults": 1}


# ---------------------------------------------------------------- ADF (Atlassian Document Format)

def _text(value: object, *marks: str) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": str(value) if str(value) else "—"}
    if marks:
        node["marks"] = [{"type": m} for m in marks]
    return node


def _para(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(nodes)}


def _cell(kind: str, value: object, *marks: str) -> dict[str, Any]:
    return {"type": kind, "content": [_para(_text(value, *marks))]}


def adf_description(anomaly: dict[str, Any], event: EventJson) -> dict[str, Any]:
    """An ADF ``doc`` (validated in tests against @atlaskit/adf-schema full.json)."""
    rows = [("Rule", anomaly.get("rule")), ("Severity", anomaly.get("severity")),
            ("Session", anomaly.get("session_id")), ("Station", anomaly.get("station_id")),
            ("Anomaly id", anomaly.get("id")), ("Tenant", event.get("tenant_id")), ("Event", event.get("id")),
            ("Detected", event.get("created_at"))]
    table = {"type": "table", "attrs": {"isNumberColumnEnabled": False, "layout": "default"},
             "content": [{"type": "tableRow", "content": [_cell("tableHeader", k, "strong"),
                                                           _cell("tableCell", v if v not in (None, "") else "—")]}
                         for k, v in rows]}
    content: list[dict[str, Any]] = [
        {"type": "heading", "attrs": {"level": 3}, "content": [_text("Billing anomaly")]},
        _para(_text(anomaly.get("message") or anomaly.get("rule") or "Billing anomaly")),
        table,
    ]
    details = anomaly.get("details")
    if details:
        content.append({"type": "heading", "attrs": {"level": 4}, "content": [_text("Details")]})
        content.append({"type": "codeBlock", "attrs": {"language": "json"},
                        "content": [_text(json.dumps(details, indent=2, sort_keys=True, default=str))]})
    content.append(_para(_text("Opened by the EV charging billing connector; one ticket per anomaly "
                               f"(label {dedupe_label(anomaly)}).", "em")))
    return {"type": "doc", "version": 1, "content": content}


def issue_body(event: EventJson, config: JiraConfig) -> dict[str, Any]:
    """``POST /rest/api/3/issue`` body for a ``billing.anomaly`` event."""
    anomaly = (event.get("data") or {}).get("anomaly")
    if not isinstance(anomaly, dict):
        raise ValueError("data.anomaly: required for a Jira ticket")
    rule = str(anomaly.get("rule") or "anomaly")
    title, default_priority = RULES.get(rule, (rule.replace("_", " ").capitalize(), "Medium"))
    raw_details = anomaly.get("details")
    details: dict[str, Any] = raw_details if isinstance(raw_details, dict) else {}
    # payment rules concern an invoice, not a session: name it in the summary rather than the anomaly's hash id
    where = (anomaly.get("session_id") or details.get("invoice_number") or details.get("invoice_id")
             or anomaly.get("station_id") or anomaly.get("id") or "")
    fields: dict[str, Any] = {
        "project": {"key": config.project_key},
        "issuetype": {"name": config.issue_type},
        "summary": f"[EV billing] {title}: {where}"[:255],
        "labels": [*config.labels, f"anomaly-{re.sub(r'[^A-Za-z0-9_.-]', '_', rule)}", dedupe_label(anomaly)],
        "description": adf_description(anomaly, event),
    }
    if config.set_priority:
        fields["priority"] = {"name": SEVERITY_PRIORITY.get(str(anomaly.get("severity")), default_priority)}
    return {"fields": fields,
            "properties": [{"key": "evbill.anomaly", "value": {"id": anomaly.get("id"), "rule": rule,
                                                                "fingerprint": fingerprint(anomaly)}}]}


def wants(event: EventJson, config: JiraConfig) -> bool:
    if event.get("type") not in EVENTS:
        return False
    anomaly = (event.get("data") or {}).get("anomaly") or {}
    return config.rules is None or anomaly.get("rule") in config.rules


# ---------------------------------------------------------------- local dedupe table



def deliver(event: EventJson, config: JiraConfig, ctx: DeliveryContext) -> dict[str, Any]:
    """Local table, then JQL label search, then create (and record at once). See the module docstring."""
    if not wants(event, config):
        return {"status": "skipped", "reason": "not a configured billing anomaly"}
    anomaly = (event.get("data") or {}).get("anomaly") or {}
    tenant, fp = str(event.get("tenant_id", "")), fingerprint(anomaly)
    store, http, now = ctx.stores.tickets, ctx.http, ctx.clock()
    if store is None:
        raise PermanentError("Jira needs its ticket store (run it through the outbox worker)")
    known = store.get(tenant, config.project_key, fp)
    if known:
        return {"status": "duplicate", "ref": known, "found_by": "local"}
    auth = (config.email, config.api_token)
    base = config.base_url.rstrip("/")
    body = issue_body(event, config)  # built before any call: a bad anomaly fails without side effects
    found = http.send("POST", f"{base}/rest/api/3/search/jql", json=search_body(anomaly, config), auth=auth).json()
    issues = found.get("issues") or []
    if issues:
        key = store.put(tenant, config.project_key, fp, str(issues[0]["key"]), now)
        return {"status": "duplicate", "ref": key, "found_by": "search"}
    created = http.send("POST", f"{base}/rest/api/3/issue", json=body, auth=auth).json()
    key = store.put(tenant, config.project_key, fp, str(created["key"]), now)
    return {"status": "sent", "ref": key}


Config = JiraConfig


def idempotency_key(event: EventJson, config: JiraConfig | None = None) -> str:
    """Per anomaly (not per event): the same anomaly emitted twice is one delivery."""
    return f"jira:{event.get('tenant_id', '')}:{fingerprint((event.get('data') or {}).get('anomaly') or {})}"

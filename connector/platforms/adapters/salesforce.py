"""Salesforce: a Case or Task on session completion, per configured rule, upserted on an External ID.

The external id is ``<rule>:<session id>``: a repeat updates the same record, so retries never duplicate.
See docs/platforms/salesforce.md."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from connector.models.documents import EventJson
from connector.platforms.context import DeliveryContext
from connector.receipts.formatting import format_money

NAME = "salesforce"
EVENTS = ("session.billed", "billing.anomaly")


class SalesforceRule(BaseModel):
    """When a record is opened, and what it looks like. All given conditions must hold."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    sobject: Literal["Case", "Task"] = "Case"
    events: list[str] = Field(default_factory=lambda: ["session.billed"])
    customer_classes: list[str] | None = None  # e.g. ["fleet"]
    min_amount_due: Decimal | None = None  # in the invoice currency
    anomaly_rules: list[str] | None = None  # for billing.anomaly, e.g. ["duplicate_session"] (disputes)
    disputed_only: bool = False  # session/invoice flagged "disputed": true
    subject: str = "EV session {session_id} billed {amount_due}"
    priority: str = "Medium"
    status: str | None = None  # Case: "New"; Task: "Not Started" (defaults by sobject)
    origin: str = "Web"  # Case only
    extra_fields: dict[str, Any] = Field(default_factory=dict)  # e.g. {"RecordTypeId": "012…"} or AccountId


class SalesforceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instance_url: str = Field(description="https://yourdomain.my.salesforce.com")
    api_version: str = Field(default="62.0", pattern=r"^\d{2,3}\.\d$")
    external_id_field: str = Field(default="EV_Billing_Key__c", pattern=r"^[A-Za-z0-9_]+__c$")
    # OAuth 2.0 client credentials (the shared sender fetches and caches the token)
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = Field(default=None, repr=False)
    access_token: str | None = Field(default=None, repr=False, description="A static token (tests, JWT flow done elsewhere)")
    locale: str = "en_US"
    rules: list[SalesforceRule] = Field(min_length=1)


def _facts(event: EventJson) -> dict[str, Any]:
    data = event.get("data") or {}
    session = data.get("session") or {}
    invoice: Mapping[str, Any] = data.get("invoice") or {}
    rating: Mapping[str, Any] = data.get("rating") or {}
    anomaly = data.get("anomaly") or {}
    customer = invoice.get("customer") or {}
    return {
        "session_id": session.get("id") or anomaly.get("session_id") or rating.get("session_id"),
        "station_id": session.get("station_id") or anomaly.get("station_id"),
        "customer_class": customer.get("customer_class") or session.get("customer_class"),
        "customer_name": customer.get("name") or session.get("customer_id"),
        "currency": invoice.get("currency"),
        "amount_due": invoice.get("amount_due"),
        "invoice_number": invoice.get("number") or invoice.get("id"),
        "disputed": bool(session.get("disputed") or invoice.get("disputed")),
        "anomaly_rule": anomaly.get("rule"),
        "anomaly_id": anomaly.get("id"),
        "message": anomaly.get("message"),
    }


def matches(rule: SalesforceRule, event: EventJson) -> bool:
    if event.get("type") not in rule.events:
        return False
    f = _facts(event)
    if rule.customer_classes is not None and f["customer_class"] not in rule.customer_classes:
        return False
    if rule.min_amount_due is not None and (f["amount_due"] is None
                                            or Decimal(str(f["amount_due"])) < rule.min_amount_due):
        return False
    if rule.anomaly_rules is not None and f["anomaly_rule"] not in rule.anomaly_rules:
        return False
    return not (rule.disputed_only and not f["disputed"])


def external_id(rule: SalesforceRule, event: EventJson) -> str:
    f = _facts(event)
    key = f["session_id"] or f["anomaly_id"] or event.get("id")
    if not key:
        raise ValueError("data.session.id: needed for the Salesforce external id")
    return f"{rule.name}:{key}"[:255]


def record_body(rule: SalesforceRule, event: EventJson, config: SalesforceConfig) -> dict[str, Any]:
    """Fields of the Case/Task. The external id field is in the URL, never in the body (Salesforce rejects both)."""
    f = _facts(event)
    amount = (format_money(Decimal(str(f["amount_due"])), f["currency"], config.locale)
              if f["amount_due"] is not None and f["currency"] else "n/a")
    values = {k: ("" if v is None else v) for k, v in f.items()} | {"amount_due": amount}
    subject = rule.subject.format(**values)[:255]
    lines = [f"Session: {f['session_id'] or '—'}", f"Station: {f['station_id'] or '—'}",
             f"Customer: {f['customer_name'] or '—'} ({f['customer_class'] or '—'})",
             f"Invoice: {f['invoice_number'] or '—'}", f"Amount due: {amount}",
             f"Event: {event.get('type')} {event.get('id')} (tenant {event.get('tenant_id')})"]
    if f["anomaly_rule"]:
        lines.insert(0, f"Anomaly: {f['anomaly_rule']} — {f['message'] or ''}".rstrip(" —"))
    body: dict[str, Any] = {"Subject": subject, "Description": "\n".join(lines)[:32000], "Priority": rule.priority}
    if rule.sobject == "Case":
        body["Status"] = rule.status or "New"
        body["Origin"] = rule.origin
    else:
        body["Status"] = rule.status or "Not Started"
    body.update(rule.extra_fields)
    body.pop(config.external_id_field, None)
    return body


def upsert_url(rule: SalesforceRule, event: EventJson, config: SalesforceConfig) -> str:
    return (f"{config.instance_url.rstrip('/')}/services/data/v{config.api_version}/sobjects/{rule.sobject}/"
            f"{config.external_id_field}/{quote(external_id(rule, event), safe='')}")


def plan(event: EventJson, config: SalesforceConfig) -> list[tuple[str, dict[str, Any]]]:
    """(PATCH url, body) for every matching rule; empty when no rule applies."""
    return [(upsert_url(r, event, config), record_body(r, event, config)) for r in config.rules if matches(r, event)]


def deliver(event: EventJson, config: SalesforceConfig, ctx: DeliveryContext) -> dict[str, Any]:
    """PATCH-upsert each matching rule's record; repeats update the same records."""
    planned = plan(event, config)
    if not planned:
        return {"status": "skipped", "reason": "no Salesforce rule matches"}
    headers = {"Authorization": f"Bearer {config.access_token}"} if config.access_token else {}
    refs = []
    for url, body in planned:
        resp = ctx.http.send("PATCH", url, json=body, headers=headers)
        payload = resp.json() if resp.content else {}
        refs.append({"url": url, "id": payload.get("id"), "created": resp.status_code == 201})
    return {"status": "sent", "ref": ",".join(str(r["id"]) for r in refs), "records": refs}


Config = SalesforceConfig


def idempotency_key(event: EventJson, config: SalesforceConfig | None = None) -> str:
    """Per event; the external-id upsert makes a repeat harmless anyway."""
    return f"salesforce:{event.get('tenant_id', '')}:{event.get('id')}"

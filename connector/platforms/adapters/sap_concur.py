"""SAP Concur: a Quick Expense for each government-fleet session charge.

Concur has no idempotency key and no lookup: the returned expense URI is recorded per session right after
the 201, and a redelivery answers from that record. See docs/platforms/sap_concur.md."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from connector.models.documents import EventJson
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import MappingError
from connector.platforms.exact_json import dumps_exact
from connector.platforms.invoice_event import session_lines
from connector.platforms.oauth import refresh_token_provider

NAME = "sap_concur"
EVENTS = ("session.billed",)



class Location(BaseModel):
    """Quick Expense ``location`` for a station (ISO 3166 codes)."""

    model_config = ConfigDict(extra="forbid")

    city: str | None = None
    countryCode: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")  # noqa: N815 (vendor field name)
    countrySubDivisionCode: str | None = None  # noqa: N815


class ConcurConfig(BaseModel):
    """Per-tenant settings; ``user_ids`` maps our fleet customers to the Concur user who files the expense."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = "https://us.api.concursolutions.com"
    token_url: str = "https://us.api.concursolutions.com/oauth2/v0/token"
    client_id: str | None = None
    client_secret: str | None = Field(default=None, repr=False)
    refresh_token: str | None = Field(default=None, repr=False, description="company-level refresh token")
    access_token: str | None = Field(default=None, repr=False, description="A static token (tests)")
    customer_classes: list[str] = Field(default_factory=lambda: ["government", "fleet"])
    user_ids: dict[str, str] = Field(default_factory=dict, description="our customer id -> Concur user UUID")
    default_user_id: str | None = None
    expense_type_id: str | None = "FUELX"
    payment_type_id: Literal["CASHX", "CPAID", "PENDC"] = "CPAID"
    vendor: str = "EV Charging"
    station_locations: dict[str, Location] = Field(default_factory=dict)


def customer_class(event: EventJson) -> str | None:
    data = event.get("data") or {}
    invoice: Mapping[str, Any] = data.get("invoice") or {}
    rating: Mapping[str, Any] = data.get("rating") or {}
    return ((invoice.get("customer") or {}).get("customer_class")
            or (data.get("session") or {}).get("customer_class") or rating.get("customer_class"))


def skip_reason(event: EventJson, config: ConcurConfig) -> str | None:
    if event.get("type") not in EVENTS:
        return f"event type {event.get('type')!r} is not sent to Concur"
    cls = customer_class(event)
    if cls not in config.customer_classes:
        return f"customer class {cls!r} is not one of {config.customer_classes}"
    return None


def user_id(event: EventJson, config: ConcurConfig) -> str:
    session, invoice, _ = session_lines(event)
    cid = str((invoice.get("customer") or {}).get("id") or session.get("customer_id"))
    uid = config.user_ids.get(cid) or config.default_user_id
    if not uid:
        raise MappingError("user_ids", f"no Concur user for customer {cid}")
    return uid


def _local_date(session: dict[str, Any], fallback: str) -> str:
    """The charge date where the car charged (the session's time zone), as the driver sees it."""
    when = session.get("end") or session.get("start")
    if not when:
        return fallback[:10]
    moment = datetime.fromisoformat(str(when).replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo(session.get("time_zone") or "UTC")).date().isoformat()


def build_quick_expense(event: EventJson, config: ConcurConfig) -> dict[str, Any]:
    """The Quick Expense request body (validated against the transcribed vendor schema in tests)."""
    session, invoice, lines = session_lines(event)
    # the customer's share: charges' gross minus incentive lines (negative), i.e. the session's amount due
    gross = sum((Decimal(str(ln["gross"])) for ln in lines), Decimal(0))
    rating: Mapping[str, Any] = (event.get("data") or {}).get("rating") or {}
    energy = rating.get("total_energy") or session.get("energy_kwh")
    energy = f"{Decimal(str(energy)).normalize():f}" if energy else None
    body: dict[str, Any] = {
        "transactionAmount": {"currencyCode": str(invoice["currency"]), "value": gross},
        "transactionDate": _local_date(session, str(invoice.get("issued_at") or event.get("created_at") or "")),
        "vendor": config.vendor,
        "paymentTypeId": config.payment_type_id,
        "comment": (f"EV charging session {session['id']} at {session.get('station_id') or '-'}"
                    + (f", {energy} kWh" if energy else "") + f", invoice {invoice.get('number') or invoice.get('id')}"),
    }
    if config.expense_type_id:
        body["expenseTypeId"] = config.expense_type_id
    location = config.station_locations.get(str(session.get("station_id")))
    if location is not None:
        body["location"] = location.model_dump(exclude_none=True)
    return body


def endpoint(event: EventJson, config: ConcurConfig) -> str:
    return (f"{config.base_url.rstrip('/')}/quickexpense/v4/users/{quote(user_id(event, config), safe='')}"
            "/context/TRAVELER/quickexpenses")


def idempotency_key(event: EventJson, config: ConcurConfig | None = None) -> str:
    """One Quick Expense per session."""
    return f"sap_concur:{event.get('tenant_id', '')}:{session_lines(event)[0]['id']}"


def _authorization(config: ConcurConfig, http: Any, tokens: Any) -> tuple[dict[str, str], Any]:
    if config.access_token:
        return {"Authorization": f"Bearer {config.access_token}"}, None
    if not (config.client_id and config.client_secret and config.refresh_token):
        raise MappingError("client_id/client_secret/refresh_token", "required (or access_token)")
    provider = refresh_token_provider(tokens, config.token_url, config.client_id, config.client_secret,
                                      config.refresh_token)
    return provider.authorization(http), provider


def deliver(event: EventJson, config: ConcurConfig, ctx: DeliveryContext) -> dict[str, Any]:
    """Skip non-fleet sessions; answer from the store when already filed; else POST and record at once."""
    http, store = ctx.http, ctx.stores.expenses
    from connector.platforms.errors import MappingError, PermanentError, RetryableError

    reason = skip_reason(event, config)
    if reason is not None:
        return {"status": "skipped", "reason": reason}
    try:
        body = build_quick_expense(event, config)
        url = endpoint(event, config)
    except MappingError as exc:
        raise PermanentError(str(exc)) from exc
    tenant, sid = str(event.get("tenant_id", "")), session_lines(event)[0]["id"]
    known = store.get(tenant, sid) if store is not None else None
    if known:
        return {"status": "duplicate", "ref": known}
    headers, provider = _authorization(config, http, ctx.token_provider)
    try:
        resp = http.send("POST", url, data=dumps_exact(body),
                         headers={**headers, "Content-Type": "application/json", "Accept": "application/json",
                                  "concur-correlationid": idempotency_key(event)[:64]})
    except PermanentError as exc:
        if provider is not None and (getattr(exc, "status_code", None) == 401 or re.search(r"\b401\b", str(exc))):
            provider.invalidate()
            raise RetryableError("Concur answered 401; token dropped, retry with a fresh one") from exc
        raise
    uri = str((resp.json() or {}).get("quickExpenseIdUri") or "")
    if store is not None and uri:
        store.put(tenant, sid, uri)
    return {"status": "sent", "ref": uri}


Config = ConcurConfig

"""Oracle NetSuite: one Invoice per billed session (revenue and receivable posted), upserted by external id.

The Invoice's lines are the session's rated nets, sent asynchronously with an idempotency key derived from
tenant and session, so a retry leaves the record as it was. ``record="itemFulfillment"`` keeps the former
update of the Item Fulfillment's items (it posts no revenue). See docs/platforms/netsuite.md."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from connector.models.documents import EventJson
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import MappingError
from connector.platforms.exact_json import dumps_exact
from connector.platforms.invoice_event import rebilling, session_lines

NAME = "netsuite"
EVENTS = ("session.billed",)


class NetSuiteConfig(BaseModel):
    """Per-tenant settings: account, credentials and the category -> item mapping."""

    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(min_length=1, description="e.g. 1234567 or 1234567_SB1 (sandbox)")
    base_url: str | None = Field(default=None, description="default https://{account}.suitetalk.api.netsuite.com")
    auth: Literal["tba", "oauth2"] = "tba"
    consumer_key: str | None = None
    consumer_secret: str | None = Field(default=None, repr=False)
    token_id: str | None = None
    token_secret: str | None = Field(default=None, repr=False)
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = Field(default=None, repr=False)
    access_token: str | None = Field(default=None, repr=False)
    fulfillment_ref: str = Field(default="eid:{session_id}",
                                 description="internal id or eid:…; placeholders session_id, station_id, customer_id")
    item_ids: dict[str, str] = Field(default_factory=dict, description="line category -> NetSuite item internal id")
    ship_status: Literal["A", "B", "C"] = "C"  # Picked / Packed / Shipped
    amount_field: str | None = Field(default=None, pattern=r"^custcol[a-z0-9_]+$",
                                     description="custom column that receives the rated line net")
    async_mode: bool = True
    record: Literal["invoice", "itemFulfillment"] = Field(
        default="invoice", description="invoice: one NetSuite Invoice per billed session (revenue and receivable "
        "posted); itemFulfillment: rewrite the fulfillment's items, as before (posts no revenue)")
    invoice_external_id: str = Field(default="EV-{session_id}", description="externalId of the Invoice (upsert key)")
    customer_ids: dict[str, str] = Field(default_factory=dict, description="our customer id -> NetSuite customer")
    default_customer: str | None = None
    tax_codes: dict[str, str] = Field(default_factory=dict, description="tax rate ('19') -> NetSuite taxCode id "
                                      "(legacy tax; with SuiteTax leave empty, NetSuite determines it)")


def record_ref(event: EventJson, config: NetSuiteConfig) -> str:
    session, invoice, _ = session_lines(event)
    values = {"session_id": session["id"], "station_id": session.get("station_id") or "",
              "customer_id": (invoice.get("customer") or {}).get("id") or session.get("customer_id") or ""}
    try:
        return config.fulfillment_ref.format(**values)
    except KeyError as exc:
        raise MappingError("fulfillment_ref", f"unknown placeholder {exc}") from exc


def build_update(event: EventJson, config: NetSuiteConfig) -> dict[str, Any]:
    """The PATCH body: ship status, memo, and the item sublist (one line per chargeable invoice line)."""
    session, invoice, lines = session_lines(event)
    items = []
    for ln in lines:
        if ln.get("category") == "incentive":  # paid by the authority: not an item the station delivered
            continue
        category = str(ln.get("category") or "")
        if category not in config.item_ids:
            raise MappingError("item_ids", f"no NetSuite item for line category {category!r}")
        item: dict[str, Any] = {"item": {"id": config.item_ids[category]}, "itemReceive": True,
                                "quantity": Decimal(str(ln["quantity"])),
                                "description": f"{ln.get('description') or category} ({ln.get('unit')})"[:999]}
        if config.amount_field:
            item[config.amount_field] = Decimal(str(ln["net"]))
        items.append(item)
    gross = sum((Decimal(str(ln["gross"])) for ln in lines), Decimal(0))
    return {
        "shipStatus": {"id": config.ship_status},
        "tranDate": str(invoice.get("issued_at") or event.get("created_at") or "")[:10],
        "memo": f"EV session {session['id']} at {session.get('station_id') or '-'}: {gross} {invoice['currency']}"
                f" (invoice {invoice.get('number') or invoice.get('id')})",
        "item": {"items": items},
    }


def external_id(event: EventJson, config: NetSuiteConfig) -> str:
    """The Invoice's externalId: per session (``EV-S-100``), the re-billing after a correction apart."""
    session, _, _ = session_lines(event)
    try:
        return config.invoice_external_id.format(session_id=session["id"]) + rebilling(event)
    except KeyError as exc:
        raise MappingError("invoice_external_id", f"unknown placeholder {exc}") from exc


def build_invoice(event: EventJson, config: NetSuiteConfig) -> dict[str, Any]:
    """The Invoice body: the customer, one item line per invoice line of the session at its net (quantity 1;
    incentives on the ``incentive`` item, negative), our tax code per rate when mapped."""
    session, invoice, lines = session_lines(event)
    ours = str((invoice.get("customer") or {}).get("id") or session.get("customer_id") or "")
    entity = config.customer_ids.get(ours) or config.default_customer
    if not entity:
        raise MappingError("customer_ids", f"no NetSuite customer for customer {ours!r}")
    items = []
    for ln in lines:
        category = str(ln.get("category") or "")
        if category not in config.item_ids:
            raise MappingError("item_ids", f"no NetSuite item for line category {category!r}")
        net = Decimal(str(ln["net"]))
        item: dict[str, Any] = {"item": {"id": config.item_ids[category]}, "quantity": 1, "rate": net,
                                "amount": net, "description": f"{ln.get('description') or category}"[:999]}
        rates = [format(Decimal(str(t["rate"])).normalize(), "f") for t in ln.get("taxes") or []]
        if rates and config.tax_codes:
            if rates[0] not in config.tax_codes:
                raise MappingError("tax_codes", f"no NetSuite tax code for tax rate {rates[0]}")
            item["taxCode"] = {"id": config.tax_codes[rates[0]]}
        items.append(item)
    gross = sum((Decimal(str(ln["gross"])) for ln in lines), Decimal(0))
    return {"externalId": external_id(event, config), "entity": {"id": entity},
            "tranDate": str(invoice.get("issued_at") or event.get("created_at") or "")[:10],
            "memo": f"EV session {session['id']} at {session.get('station_id') or '-'}: {gross} {invoice['currency']}"
                    f" (invoice {invoice.get('number') or invoice.get('id')})",
            "item": {"items": items}}


def idempotency_key(event: EventJson, config: NetSuiteConfig | None = None) -> str:
    """A UUID (NetSuite's key format) fixed by tenant, account and session: every retry sends the same one."""
    account = config.account_id if config else ""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"evbill:netsuite:{event.get('tenant_id')}:{account}:"
                                              f"{session_lines(event)[0]['id']}{rebilling(event)}"))


def endpoint(event: EventJson, config: NetSuiteConfig) -> str:
    base = config.base_url or f"https://{config.account_id.lower().replace('_', '-')}.suitetalk.api.netsuite.com"
    if config.record == "invoice":  # upsert by external id: a retry updates the Invoice it made
        ref = quote(f"eid:{external_id(event, config)}", safe=":")
        return f"{base.rstrip('/')}/services/rest/record/v1/invoice/{ref}"
    return f"{base.rstrip('/')}/services/rest/record/v1/itemFulfillment/{quote(record_ref(event, config), safe=':')}"


def _auth(config: NetSuiteConfig, http: Any) -> dict[str, Any]:
    """TBA: a fresh OAuth1 signer per request (new nonce and timestamp); OAuth 2.0: bearer header."""
    if config.auth == "tba":
        if not (config.consumer_key and config.consumer_secret and config.token_id and config.token_secret):
            raise MappingError("consumer_key/consumer_secret/token_id/token_secret", "required for TBA")
        from requests_oauthlib import OAuth1

        return {"auth": OAuth1(config.consumer_key, config.consumer_secret, config.token_id, config.token_secret,
                               signature_method="HMAC-SHA256", realm=config.account_id.upper())}
    if config.access_token:
        return {"headers": {"Authorization": f"Bearer {config.access_token}"}}
    if not (config.token_url and config.client_id and config.client_secret):
        raise MappingError("token_url/client_id/client_secret", "required for oauth2 (or access_token)")
    from connector.platforms.oauth import shared_provider

    provider = shared_provider(config.token_url, config.client_id, config.client_secret)
    return {"headers": provider.authorization(http)}


def deliver(event: EventJson, config: NetSuiteConfig, ctx: DeliveryContext) -> dict[str, Any]:
    """PATCH the fulfillment (async + idempotency key by default); ref = the job or record location."""
    from connector.platforms.errors import MappingError, PermanentError

    try:
        body = build_invoice(event, config) if config.record == "invoice" else build_update(event, config)
        url = endpoint(event, config)
        auth = _auth(config, ctx.http)
    except MappingError as exc:
        raise PermanentError(str(exc)) from exc
    headers = {**auth.pop("headers", {}), "Content-Type": "application/json", "Accept": "application/json"}
    if config.async_mode:
        headers |= {"Prefer": "respond-async", "X-NetSuite-Idempotency-Key": idempotency_key(event, config)}
    method = "PUT" if config.record == "invoice" else "PATCH"
    resp = ctx.http.send(method, url, params={"replace": "item"}, data=dumps_exact(body), headers=headers, **auth)
    return {"status": "sent", "ref": resp.headers.get("Location"), "async": resp.status_code == 202}


Config = NetSuiteConfig

"""Google Sheets: billed sessions appended to a spreadsheet (Sessions, Summary, Exceptions tabs) via gspread.

This module is the wiring: one record per ``session.billed`` handed to ``sync.sync_billed_sessions``, which
owns the layout, the retrying client and the dedupe. See docs/platforms/google_sheets.md."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from connector.models.documents import EventJson
from connector.platforms.context import DeliveryContext

NAME = "google_sheets"
EVENTS = ("session.billed",)


class GoogleSheetsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spreadsheet_id: str = Field(min_length=10, description="The id in the spreadsheet's URL")
    worksheet: str = Field(default="Sessions", description="Tab of billed sessions (one row per session)")
    summary_worksheet: str = Field(default="Summary", description="Tab rewritten with per-day totals")
    exceptions_worksheet: str = Field(default="Exceptions", description="Tab of records that could not be synced")
    service_account_info: dict[str, Any] | None = Field(default=None, repr=False,
                                                        description="The service account's JSON key")
    value_input_option: str = Field(default="RAW", pattern="^(RAW|USER_ENTERED)$",
                                    description="RAW writes values as given (no locale parsing); USER_ENTERED lets "
                                    "Sheets parse them")
    money_as_text: bool = Field(default=False, description="Write amounts and kWh as exact decimal text instead of "
                                "numbers with a currency format (SUM and pivot tables ignore text)")
    api_base: str | None = Field(default=None, description="Sheets API address; only for tests or a private gateway")


def _money(rating: Mapping[str, Any], invoice: Mapping[str, Any], name: str, invoice_name: str) -> Any:
    """The session's own amount: the rating's invoice view (the invoice may hold other sessions too)."""
    view = rating.get("invoice") or {}
    if view.get(name) is not None:
        return view.get(name)
    return invoice.get(invoice_name)


def session_record(event: EventJson) -> dict[str, Any]:
    """What the sync writes for one billed session (strings for money: the core's exact values)."""
    data = event.get("data") or {}
    s = data.get("session") or {}
    r: Mapping[str, Any] = data.get("rating") or {}
    inv: Mapping[str, Any] = data.get("invoice") or {}
    customer = inv.get("customer") or {}
    return {
        "session_id": str(s.get("id") or r.get("session_id") or ""),
        "tenant_id": str(event.get("tenant_id", "")),
        "station_id": s.get("station_id") or "",
        "customer_id": customer.get("id") or s.get("customer_id") or "",
        "customer_class": r.get("customer_class") or customer.get("customer_class") or s.get("customer_class") or "",
        "start": s.get("start") or r.get("start"),
        "end": s.get("end") or r.get("end"),
        "time_zone": r.get("time_zone") or s.get("time_zone") or "UTC",
        "energy_kwh": r.get("total_energy"),
        "currency": (r.get("invoice") or {}).get("currency") or r.get("currency") or inv.get("currency"),
        "net": _money(r, inv, "net_total", "net_total"),
        "tax": _money(r, inv, "tax_total", "tax_total"),
        "gross": _money(r, inv, "gross_total", "gross_total"),
        "amount_due": _money(r, inv, "amount_due", "amount_due"),
        "taxes": (r.get("invoice") or {}).get("taxes") or [],
        "invoice": inv.get("number") or inv.get("id"),
        "event_id": event.get("id"),
    }


def deliver(event: EventJson, config: GoogleSheetsConfig, ctx: DeliveryContext) -> dict[str, Any]:
    """Hand one billed session to the sheets sync (``ctx.sheets_sync`` replaces it in tests). The sync talks to
    Google through its own gspread client, not ``ctx.http``."""
    if event.get("type") not in EVENTS:
        return {"status": "skipped", "reason": f"event type {event.get('type')!r} is not synced to Sheets"}
    sync = ctx.sheets_sync
    if sync is None:
        from connector.platforms.adapters.google_sheets.sync import sync_billed_sessions

        sync = partial(sync_billed_sessions, service_account_info=config.service_account_info,
                       api_base=config.api_base, value_input_option=config.value_input_option,
                       money_as_text=config.money_as_text,
                       summary_worksheet=config.summary_worksheet, exceptions_worksheet=config.exceptions_worksheet)
    result = sync(config.spreadsheet_id, [session_record(event)], worksheet=config.worksheet)
    return {"status": "sent", "ref": str(result) if result is not None else None}


Config = GoogleSheetsConfig


def idempotency_key(event: EventJson, config: GoogleSheetsConfig | None = None) -> str:
    """Per billed session: one row per session (the config does not change which row it is)."""
    return f"google_sheets:{event.get('tenant_id', '')}:{session_record(event)['session_id']}"

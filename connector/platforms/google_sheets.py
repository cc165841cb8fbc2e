"""Google Sheets: billed sessions appended to a sheet, through the spreadsheet contributor's gspread sync.

This adapter only wires ``session.billed`` to ``connector.sheets.sync.sync_billed_sessions``; the sheet
layout, the gspread client and the dedupe by session id (append is not idempotent in the Sheets API:
the sync checks the session-id column first) live in ``connector/sheets/sync.py``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

NAME = "google_sheets"
EVENTS = ("session.billed",)


class GoogleSheetsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spreadsheet_id: str = Field(min_length=10)
    worksheet: str = "Sessions"
    service_account_info: dict[str, Any] | None = Field(default=None, repr=False)
    value_input_option: str = Field(default="RAW", pattern="^(RAW|USER_ENTERED)$")


def session_record(event: dict[str, Any]) -> dict[str, Any]:
    """What the sync writes for one billed session (strings for money: the invoice's exact values)."""
    data = event.get("data") or {}
    s = data.get("session") or {}
    r = data.get("rating") or {}
    inv = data.get("invoice") or {}
    return {
        "session_id": str(s.get("id") or r.get("session_id")),
        "tenant_id": str(event.get("tenant_id", "")),
        "station_id": s.get("station_id") or "",
        "customer_id": (inv.get("customer") or {}).get("id") or s.get("customer_id") or "",
        "start": s.get("start") or r.get("start"),
        "end": s.get("end") or r.get("end"),
        "energy_kwh": r.get("total_energy"),
        "currency": inv.get("currency") or r.get("currency"),
        "net_total": inv.get("net_total"),
        "tax_total": inv.get("tax_total"),
        "amount_due": inv.get("amount_due"),
        "invoice": inv.get("number") or inv.get("id"),
        "event_id": event.get("id"),
    }


def deliver(event: dict[str, Any], config: GoogleSheetsConfig, sync: Any = None, **client: Any) -> dict[str, Any]:
    """Hand one billed session to the sheets sync (``sync`` overrides the function, e.g. in tests)."""
    from connector.platforms.errors import PermanentError

    if event.get("type") not in EVENTS:
        return {"status": "skipped", "reason": f"event type {event.get('type')!r} is not synced to Sheets"}
    if sync is None:
        try:
            from connector.sheets.sync import sync_billed_sessions as sync
        except ImportError as exc:
            raise PermanentError("connector.sheets.sync is not installed (spreadsheet contributor's module)") from exc
    result = sync(config.spreadsheet_id, [session_record(event)], worksheet=config.worksheet, **client)
    return {"status": "sent", "ref": str(result) if result is not None else None}


Config = GoogleSheetsConfig


def idempotency_key(event: dict[str, Any]) -> str:
    """Per billed session: one row per session."""
    return f"google_sheets:{event.get('tenant_id', '')}:{session_record(event)['session_id']}"

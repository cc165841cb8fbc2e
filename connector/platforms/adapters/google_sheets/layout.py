"""Pure mapping for the billing spreadsheet: tab headers, one row per billed session, the summary.

Why strings for money: the sync writes with ``valueInputOption=RAW`` so a cell holds exactly the
invoice's Decimal text (no float, no locale-dependent parsing); totals are summed here with Decimal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SESSIONS_HEADER: tuple[str, ...] = (
    "session_id", "day", "start", "end", "time_zone", "station_id", "customer_id", "customer_class", "energy_kwh",
    "currency", "net", "tax", "gross", "amount_due", "taxes", "invoice", "tenant_id", "event_id")
EXCEPTIONS_HEADER: tuple[str, ...] = ("key", "session_id", "event_id", "reason", "detail")
SUMMARY_HEADER: tuple[str, ...] = (
    "day", "station_id", "customer_class", "currency", "sessions", "energy_kwh", "net", "tax", "gross", "amount_due")
TAX_HEADER: tuple[str, ...] = ("day", "currency", "tax", "rate", "amount")
MONEY = ("net", "tax", "gross", "amount_due")
_TAX_ITEM = re.compile(r"^(?P<name>.+) (?P<rate>-?\d+(?:\.\d+)?)%: (?P<amount>-?\d+(?:\.\d+)?)$")


class RecordProblem(ValueError):
    """A record that cannot become a row; it goes to the exceptions tab instead."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def _decimal(value: Any, name: str, required: bool = True) -> Decimal | None:
    if value is None or value == "":
        if required:
            raise RecordProblem("missing_field", f"{name} is missing")
        return None
    if isinstance(value, bool | float):
        raise RecordProblem("invalid_field", f"{name} must be a decimal string, got {type(value).__name__}")
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise RecordProblem("invalid_field", f"{name}: '{value}' is not a number") from exc
    if not number.is_finite():
        raise RecordProblem("invalid_field", f"{name} must be finite")
    return number


def local_day(start: Any, time_zone: str) -> str:
    """The finance day of a session: the date of its start in the session's zone."""
    try:
        instant = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
    except ValueError as exc:
        raise RecordProblem("invalid_field", f"start: '{start}' is not an ISO 8601 date-time") from exc
    if instant.tzinfo is None:
        raise RecordProblem("invalid_field", "start must carry an offset")
    try:
        return instant.astimezone(ZoneInfo(time_zone)).date().isoformat()
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RecordProblem("invalid_field", f"time_zone: '{time_zone}' is not an IANA time zone") from exc


def taxes_text(taxes: Iterable[dict[str, Any]] | None) -> str:
    """``VAT 19%: 0.76; City 1%: 0.04`` (readable, and parsed back for the tax summary)."""
    parts = []
    for tax in taxes or []:
        rate = _decimal(tax.get("rate"), "taxes.rate")
        amount = _decimal(tax.get("amount"), "taxes.amount")
        parts.append(f"{tax.get('name') or 'tax'} {format(rate, 'f')}%: {format(amount, 'f')}")
    return "; ".join(parts)


def session_row(record: dict[str, Any]) -> list[str]:
    """The Sessions-tab row for one record (``connector.platforms.adapters.google_sheets.session_record``)."""
    session_id = str(record.get("session_id") or "").strip()
    if not session_id or session_id == "None":
        raise RecordProblem("missing_field", "session_id is missing")
    currency = str(record.get("currency") or "").strip()
    if len(currency) != 3:
        raise RecordProblem("missing_field", "currency is missing")
    time_zone = str(record.get("time_zone") or "UTC")
    day = local_day(record.get("start"), time_zone)
    money = {name: _decimal(record.get(name), name) for name in MONEY}
    energy = _decimal(record.get("energy_kwh"), "energy_kwh", required=False)
    values = {
        "session_id": session_id, "day": day, "start": str(record.get("start") or ""),
        "end": str(record.get("end") or ""), "time_zone": time_zone,
        "station_id": str(record.get("station_id") or ""), "customer_id": str(record.get("customer_id") or ""),
        "customer_class": str(record.get("customer_class") or ""),
        "energy_kwh": "" if energy is None else format(energy, "f"), "currency": currency,
        **{name: format(value, "f") for name, value in money.items() if value is not None},
        "taxes": taxes_text(record.get("taxes")), "invoice": str(record.get("invoice") or ""),
        "tenant_id": str(record.get("tenant_id") or ""), "event_id": str(record.get("event_id") or ""),
    }
    return [values[name] for name in SESSIONS_HEADER]


def exception_row(record: dict[str, Any], reason: str, detail: str) -> list[str]:
    """Keyed by session (or event) and reason, so the same problem is listed once however often it recurs."""
    subject = str(record.get("session_id") or record.get("event_id") or "unknown")
    return [f"{subject}:{reason}", subject if record.get("session_id") else "", str(record.get("event_id") or ""),
            reason, detail]


def same_money(existing: Sequence[str], row: Sequence[str]) -> bool:
    """Whether a row already in the sheet carries the same amounts (else: an exception, never an overwrite)."""
    index = [SESSIONS_HEADER.index(name) for name in (*MONEY, "currency")]
    pad = list(existing) + [""] * (len(SESSIONS_HEADER) - len(existing))
    try:
        return all(pad[i] == row[i] if SESSIONS_HEADER[i] == "currency" else Decimal(pad[i] or "NaN") == Decimal(row[i])
                   for i in index)
    except InvalidOperation:
        return False


@dataclass(slots=True)
class _Group:
    sessions: int = 0
    energy: Decimal = Decimal(0)
    net: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    gross: Decimal = Decimal(0)
    amount_due: Decimal = Decimal(0)


def summary_rows(session_rows: Iterable[Sequence[str]]) -> list[list[str]]:
    """Per day, station, customer class and currency; then, after a blank row, tax per day, name and rate."""
    col = {name: i for i, name in enumerate(SESSIONS_HEADER)}
    groups: dict[tuple[str, str, str, str], _Group] = {}
    taxes: dict[tuple[str, str, str, Decimal], Decimal] = {}
    for raw in session_rows:
        row = list(raw) + [""] * (len(SESSIONS_HEADER) - len(raw))
        if not row[0] or row[0] == SESSIONS_HEADER[0]:
            continue
        try:
            amounts = {name: Decimal(row[col[name]]) for name in MONEY}
            energy = Decimal(row[col["energy_kwh"]] or "0")
        except InvalidOperation:
            continue  # a hand-edited row; the sync never writes one
        key = (row[col["day"]], row[col["station_id"]], row[col["customer_class"]], row[col["currency"]])
        g = groups.setdefault(key, _Group())
        g.sessions += 1
        g.energy += energy
        g.net += amounts["net"]
        g.tax += amounts["tax"]
        g.gross += amounts["gross"]
        g.amount_due += amounts["amount_due"]
        for item in filter(None, (p.strip() for p in row[col["taxes"]].split(";"))):
            match = _TAX_ITEM.match(item)
            if match:
                tkey = (row[col["day"]], row[col["currency"]], match["name"], Decimal(match["rate"]))
                taxes[tkey] = taxes.get(tkey, Decimal(0)) + Decimal(match["amount"])
    out: list[list[str]] = [list(SUMMARY_HEADER)]
    for key in sorted(groups):
        g = groups[key]
        out.append([*key, str(g.sessions), format(g.energy, "f"), format(g.net, "f"), format(g.tax, "f"),
                    format(g.gross, "f"), format(g.amount_due, "f")])
    out.append([])
    out.append(list(TAX_HEADER))
    for (day, currency, name, rate) in sorted(taxes):
        out.append([day, currency, name, format(rate, "f"), format(taxes[(day, currency, name, rate)], "f")])
    return out


def append_body(rows: Sequence[Sequence[str]]) -> dict[str, Any]:
    """The ``values.append`` request body (a Sheets ``ValueRange``)."""
    return {"majorDimension": "ROWS", "values": [list(r) for r in rows]}

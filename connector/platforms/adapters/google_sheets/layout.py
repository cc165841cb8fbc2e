"""Pure mapping for the billing spreadsheet: tab headers, one row per billed session, the summary.

Why numbers for money: a cell holding text ("4.76") is ignored by SUM and pivot tables, so amounts and
kWh are written as numbers (``valueInputOption=RAW``: no locale-dependent parsing) and shown with the
currency's format (``number_formats``). A JSON number carries the Decimal's own digits (an amount has
at most 15 significant digits, which a double holds exactly as written). ``money_as_text`` keeps the
exact Decimal text instead, for sheets that feed another system by string. Totals are summed here with
Decimal either way, from the values read back unformatted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connector.money import minor_units

SESSIONS_HEADER: tuple[str, ...] = (
    "session_id", "day", "start", "end", "time_zone", "station_id", "customer_id", "customer_class", "energy_kwh",
    "currency", "net", "tax", "gross", "amount_due", "taxes", "invoice", "tenant_id", "event_id")
EXCEPTIONS_HEADER: tuple[str, ...] = ("key", "session_id", "event_id", "reason", "detail")
SUMMARY_HEADER: tuple[str, ...] = (
    "day", "station_id", "customer_class", "currency", "sessions", "energy_kwh", "net", "tax", "gross", "amount_due")
TAX_HEADER: tuple[str, ...] = ("day", "currency", "tax", "rate", "amount")
MONEY = ("net", "tax", "gross", "amount_due")
Cell = str | int | float
_TAX_ITEM = re.compile(r"^(?P<name>.+) (?P<rate>-?\d+(?:\.\d+)?)%: (?P<amount>-?\d+(?:\.\d+)?)$")


class RecordProblem(ValueError):
    """A record that cannot become a row; it goes to the exceptions tab instead."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def cell_decimal(value: Any) -> Decimal:
    """A cell read back (unformatted: a number or a text) as Decimal; ``InvalidOperation`` if it is none."""
    if isinstance(value, bool):
        raise InvalidOperation(f"{value!r} is not a number")
    if isinstance(value, float):
        return Decimal(repr(value))  # the shortest text of the double: the digits that were written
    return Decimal(str(value))


def _cell(value: Decimal, as_text: bool) -> Cell:
    """A number cell (int when whole, else the double nearest the Decimal), or the exact text."""
    if as_text:
        return format(value, "f")
    return int(value) if value == value.to_integral_value() else float(value)


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


def session_row(record: dict[str, Any], money_as_text: bool = False) -> list[Cell]:
    """The Sessions-tab row for one record (``connector.platforms.adapters.google_sheets.session_record``):
    amounts and kWh as numbers (or, with ``money_as_text``, their exact Decimal text)."""
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
        "energy_kwh": "" if energy is None else _cell(energy, money_as_text), "currency": currency,
        **{name: _cell(value, money_as_text) for name, value in money.items() if value is not None},
        "taxes": taxes_text(record.get("taxes")), "invoice": str(record.get("invoice") or ""),
        "tenant_id": str(record.get("tenant_id") or ""), "event_id": str(record.get("event_id") or ""),
    }
    return [values[name] for name in SESSIONS_HEADER]


def exception_row(record: dict[str, Any], reason: str, detail: str) -> list[str]:
    """Keyed by session (or event) and reason, so the same problem is listed once however often it recurs."""
    subject = str(record.get("session_id") or record.get("event_id") or "unknown")
    return [f"{subject}:{reason}", subject if record.get("session_id") else "", str(record.get("event_id") or ""),
            reason, detail]


def same_money(existing: Sequence[Any], row: Sequence[Cell]) -> bool:
    """Whether a row already in the sheet carries the same amounts (else: an exception, never an overwrite);
    a number and the text of the same amount are the same money."""
    index = [SESSIONS_HEADER.index(name) for name in (*MONEY, "currency")]
    pad = list(existing) + [""] * (len(SESSIONS_HEADER) - len(existing))
    try:
        return all(pad[i] == row[i] if SESSIONS_HEADER[i] == "currency"
                   else cell_decimal(pad[i] if pad[i] != "" else "NaN") == cell_decimal(row[i]) for i in index)
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


def summary_rows(session_rows: Iterable[Sequence[Any]], money_as_text: bool = False) -> list[list[Cell]]:
    """Per day, station, customer class and currency; then, after a blank row, tax per day, name and rate.
    Counts are integers; kWh and money numbers (or exact text with ``money_as_text``)."""
    col = {name: i for i, name in enumerate(SESSIONS_HEADER)}
    groups: dict[tuple[str, str, str, str], _Group] = {}
    taxes: dict[tuple[str, str, str, Decimal], Decimal] = {}
    for raw in session_rows:
        row = [c if isinstance(c, int | float) and not isinstance(c, bool) else str(c)
               for c in list(raw) + [""] * (len(SESSIONS_HEADER) - len(raw))]
        if not row[0] or row[0] == SESSIONS_HEADER[0]:
            continue
        try:
            amounts = {name: cell_decimal(row[col[name]]) for name in MONEY}
            energy = cell_decimal(row[col["energy_kwh"]] if row[col["energy_kwh"]] != "" else 0)
        except InvalidOperation:
            continue  # a hand-edited row; the sync never writes one
        key = (str(row[col["day"]]), str(row[col["station_id"]]), str(row[col["customer_class"]]),
               str(row[col["currency"]]))
        g = groups.setdefault(key, _Group())
        g.sessions += 1
        g.energy += energy
        g.net += amounts["net"]
        g.tax += amounts["tax"]
        g.gross += amounts["gross"]
        g.amount_due += amounts["amount_due"]
        for item in filter(None, (p.strip() for p in str(row[col["taxes"]]).split(";"))):
            match = _TAX_ITEM.match(item)
            if match:
                tkey = (key[0], key[3], match["name"], Decimal(match["rate"]))
                taxes[tkey] = taxes.get(tkey, Decimal(0)) + Decimal(match["amount"])
    out: list[list[Cell]] = [list(SUMMARY_HEADER)]
    for key in sorted(groups):
        g = groups[key]
        out.append([*key, g.sessions if not money_as_text else str(g.sessions),
                    *(_cell(v, money_as_text) for v in (g.energy, g.net, g.tax, g.gross, g.amount_due))])
    out.append([])
    out.append(list(TAX_HEADER))
    for (day, currency, name, rate) in sorted(taxes):
        out.append([day, currency, name, _cell(rate, money_as_text),
                    _cell(taxes[(day, currency, name, rate)], money_as_text)])
    return out


def currency_pattern(currency: str) -> str:
    """The number format of an amount in ``currency``: its minor-unit digits and its code
    (``#,##0.00 "EUR"``, ``#,##0 "JPY"``)."""
    digits = minor_units(currency) if len(currency) == 3 else 2
    return "#,##0" + ("." + "0" * digits if digits else "") + f' "{currency}"'


ENERGY_PATTERN = "#,##0.000#"


def number_formats(rows: Sequence[Sequence[Any]], first_row: int, header: Sequence[str],
                   money_columns: Sequence[str], sheet_id: int) -> list[dict[str, Any]]:
    """``batchUpdate`` requests (``repeatCell``) that give each row's money cells its currency's format and
    the kWh cells a quantity format; ``first_row`` is the 0-based sheet row of ``rows[0]``."""
    col = {name: i for i, name in enumerate(header)}
    requests: list[dict[str, Any]] = []

    def fmt(row: int, start: int, end: int, kind: str, pattern: str) -> dict[str, Any]:
        return {"repeatCell": {
            "range": {"sheetId": sheet_id, "startRowIndex": row, "endRowIndex": row + 1,
                      "startColumnIndex": start, "endColumnIndex": end},
            "cell": {"userEnteredFormat": {"numberFormat": {"type": kind, "pattern": pattern}}},
            "fields": "userEnteredFormat.numberFormat"}}

    for offset, row in enumerate(rows):
        if len(row) <= col["currency"] or not row[col["currency"]] or row[0] == header[0]:
            continue
        at = first_row + offset
        first, last = col[money_columns[0]], col[money_columns[-1]]
        requests.append(fmt(at, first, last + 1, "CURRENCY", currency_pattern(str(row[col["currency"]]))))
        if "energy_kwh" in col:
            requests.append(fmt(at, col["energy_kwh"], col["energy_kwh"] + 1, "NUMBER", ENERGY_PATTERN))
    return requests


def append_body(rows: Sequence[Sequence[Cell]]) -> dict[str, Any]:
    """The ``values.append`` request body (a Sheets ``ValueRange``)."""
    return {"majorDimension": "ROWS", "values": [list(r) for r in rows]}

"""The one mapping from spreadsheet arguments to the rating core (Google Sheets, Excel JS, xlwings).

Why a module of its own: every spreadsheet face passes the same five cells (kwh, minutes, start,
tariff_id, customer_class); if each face built its own ``Session`` the faces would drift apart. Prices
are computed only by ``connector.rating.rate``; this module only builds the session and reads the result.

Rules (documented in docs/finance/google-sheets.md):
- ``start`` is the local wall-clock time the cell shows: an ISO 8601 string (``2026-01-13T08:00`` or
  ``2026-01-13 08:00``) or a spreadsheet serial date number (days since 1899-12-30, the fraction is the
  time of day, rounded to the nearest second). A string with an explicit offset keeps its offset.
- Time zone: the request's ``time_zone`` when given, else ``EVBILL_DEFAULT_TIME_ZONE``, else UTC.
  Tariffs carry no zone (OCPI), so the zone is the caller's/tenant's setting.
- The session ends ``minutes`` after ``start``; ``kwh`` is spread uniformly over that time
  (the core's profile rule for a session without meter samples).
- A bad row never fails the range: its result carries ``"#ERROR: field: reason"``.
- A row whose kwh, minutes and start are all empty is blank (``{"ok": true, "blank": true}``), even
  when a tariff id was filled down next to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from connector.config import SpreadsheetSettings
from connector.models import Session, Tariff
from connector.rating import RatingError, RatingOptions, rate
from connector.validation import FieldError, field_errors

FIELDS: tuple[str, ...] = ("kwh", "minutes", "start", "tariff_id", "customer_class")
LINE_HEADER: tuple[str, ...] = ("row", "category", "description", "quantity", "unit", "unit_price", "net", "tax",
                                "gross")
SERIAL_EPOCH = datetime(1899, 12, 30)  # day 0 of Google Sheets and of Excel's 1900 date system (from 1900-03-01)
MIN_SERIAL = Decimal(61)  # Excel's fictitious 1900-02-29 makes smaller serials ambiguous between the two
MAX_SERIAL = Decimal(2958465)  # 9999-12-31
MAX_MINUTES = Decimal(60 * 24 * 31)  # a "session" longer than a month is a typo, not a charge


class RowError(FieldError):
    """One cell of one row is unusable: ``field`` names the argument."""


@dataclass(frozen=True, slots=True)
class SheetRow:
    """The arguments of one formula call, exactly as the spreadsheet passed them."""

    kwh: Any
    minutes: Any
    start: Any
    tariff_id: Any
    customer_class: Any = None

    @classmethod
    def from_list(cls, raw: Any) -> SheetRow:
        """``[kwh, minutes, start, tariff_id, customer_class?]`` (the API's row form)."""
        if not isinstance(raw, list | tuple) or not 4 <= len(raw) <= 5:
            raise RowError("row", "expected [kwh, minutes, start, tariff_id, customer_class?]")
        return cls(*raw)

    def is_blank(self) -> bool:
        """No session in this row: kwh, minutes and start are empty (a filled-down tariff id alone is not a row)."""
        return _empty(self.kwh) and _empty(self.minutes) and _empty(self.start)


@dataclass(slots=True)
class SheetResult:
    """What one row gives back: money as Decimal strings in the currency's minor units."""

    ok: bool
    cost_incl_tax: str | None = None
    cost_excl_tax: str | None = None
    tax: str | None = None
    currency: str | None = None
    tariff_id: str | None = None
    lines: list[list[str]] = field(default_factory=list)
    error: str | None = None
    blank: bool = False
    retry: bool = False  # not rated for lack of time: ask again (and never cache it)

    def to_dict(self) -> dict[str, Any]:
        if self.blank:
            return {"ok": True, "blank": True}
        if not self.ok:
            return {"ok": False, "error": self.error, "retry": True} if self.retry else {"ok": False, "error": self.error}
        return {"ok": True, "cost_incl_tax": self.cost_incl_tax, "cost_excl_tax": self.cost_excl_tax,
                "tax": self.tax, "currency": self.currency, "tariff_id": self.tariff_id, "lines": self.lines}


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def default_time_zone() -> str:
    """The zone for wall-clock starts when the caller names none."""
    return SpreadsheetSettings.from_environ().default_time_zone


def check_zone(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise RowError("time_zone", "expected an IANA time zone name (e.g. Europe/Berlin)")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RowError("time_zone", f"'{name}' is not an IANA time zone (e.g. Europe/Berlin)") from exc
    return name


def _number(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or _empty(value):
        raise RowError(name, "expected a number" if not _empty(value) else "is empty")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise RowError(name, f"'{value}' is not a number") from exc
    if not number.is_finite():
        raise RowError(name, "must be a finite number")
    return number


def parse_start(value: Any, time_zone: str) -> datetime:
    """A cell's start as an aware datetime: ISO text (offset kept) or a serial date number in ``time_zone``."""
    zone = ZoneInfo(time_zone)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            serial: Decimal | None = Decimal(text)
        except InvalidOperation:
            serial = None
        if serial is None:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError as exc:
                raise RowError("start", f"'{text}' is not an ISO 8601 date-time or a serial date") from exc
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)
        value = serial
    serial = _number(value, "start")
    if not MIN_SERIAL <= serial <= MAX_SERIAL:
        raise RowError("start", f"serial date {serial} is outside 61 (1900-03-01) .. 2958465 (9999-12-31)")
    seconds = (serial * 86400).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return (SERIAL_EPOCH + timedelta(seconds=int(seconds))).replace(tzinfo=zone)


def build_session(row: SheetRow, index: int, time_zone: str) -> Session:
    """The core's Session for one row: ``minutes`` long, ``kwh`` spread uniformly."""
    kwh = _number(row.kwh, "kwh")
    if kwh < 0:
        raise RowError("kwh", "must not be negative")
    minutes = _number(row.minutes, "minutes")
    if minutes <= 0 or minutes > MAX_MINUTES:
        raise RowError("minutes", f"must be more than 0 and at most {MAX_MINUTES} (31 days)")
    start = parse_start(row.start, time_zone)
    micros = (minutes * 60_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    customer_class = None if _empty(row.customer_class) else str(row.customer_class).strip()
    if customer_class is not None and not isinstance(row.customer_class, str):
        raise RowError("customer_class", "expected text")
    try:
        end = start + timedelta(microseconds=int(micros))
    except OverflowError as exc:
        raise RowError("minutes", "the session would end after the year 9999") from exc
    try:
        return Session(id=f"sheet-row-{index + 1}", start=start, end=end, energy_kwh=kwh, time_zone=time_zone,
                       customer_class=customer_class)
    except ValidationError as exc:
        head = field_errors(exc)[0]
        raise RowError(head["field"], head["reason"]) from exc


def tariff_id_of(row: SheetRow) -> str:
    if _empty(row.tariff_id):
        raise RowError("tariff_id", "is empty")
    if isinstance(row.tariff_id, bool) or not isinstance(row.tariff_id, str | int):
        raise RowError("tariff_id", "expected the tariff id as text")
    return str(row.tariff_id).strip()


def _lines(rated: Any, row_number: int) -> list[list[str]]:
    view = rated.invoice
    return [[str(row_number), line.category, line.description, format(line.quantity, "f"), line.unit,
             format(line.unit_price, "f"), format(line.net, "f"), format(line.tax, "f"),
             format(line.net + line.tax, "f")] for line in view.lines]


def rate_row(row: SheetRow, index: int, tariffs: Sequence[Tariff], time_zone: str) -> SheetResult:
    """Rate one row with the core; any problem becomes that row's ``#ERROR`` text."""
    if row.is_blank():
        return SheetResult(ok=True, blank=True)
    try:
        session = build_session(row, index, time_zone)
        rated = rate(session, list(tariffs), None, RatingOptions(time_zone=time_zone))
    except RowError as exc:
        return error_result(exc.field, exc.reason)
    except RatingError as exc:
        return error_result(exc.field, exc.reason)
    view = rated.invoice
    return SheetResult(ok=True, cost_incl_tax=format(view.gross_total, "f"), cost_excl_tax=format(view.net_total, "f"),
                       tax=format(view.tax_total, "f"), currency=view.currency, tariff_id=rated.tariff_id,
                       lines=_lines(rated, index + 1))


def error_result(field_name: str, reason: str) -> SheetResult:
    return SheetResult(ok=False, error=f"#ERROR: {field_name}: {reason}")


TariffLookup = Callable[[str], Sequence[Tariff] | None]


BUDGET_REASON = "not rated within the time budget; recalculate, or split the range"


def rate_rows(rows: Sequence[Any], lookup: TariffLookup, time_zone: str | None = None, deadline: float | None = None,
              clock: Callable[[], float] = time.monotonic) -> list[SheetResult]:
    """Rate many rows; ``lookup(tariff_id)`` is called once per distinct id (None = not found).

    ``deadline`` (a ``clock()`` value): rows not reached by then answer a ``retry`` error instead of a
    price, so a spreadsheet gets its answer inside its own time limit (Sheets: 30 s). Prices never
    depend on the clock.
    """
    zone = check_zone(time_zone or default_time_zone())
    found: dict[str, Sequence[Tariff] | None] = {}
    out: list[SheetResult] = []
    for index, raw in enumerate(rows):
        if deadline is not None and clock() > deadline:
            out.append(SheetResult(ok=False, error=f"#ERROR: row: {BUDGET_REASON}", retry=True))
            continue
        try:
            row = raw if isinstance(raw, SheetRow) else SheetRow.from_list(raw)
            if row.is_blank():
                out.append(SheetResult(ok=True, blank=True))
                continue
            tariff_id = tariff_id_of(row)
        except RowError as exc:
            out.append(error_result(exc.field, exc.reason))
            continue
        if tariff_id not in found:
            found[tariff_id] = lookup(tariff_id)
        tariffs = found[tariff_id]
        if not tariffs:
            out.append(error_result("tariff_id", f"tariff '{tariff_id}' does not exist"))
            continue
        out.append(rate_row(row, index, tariffs, zone))
    return out

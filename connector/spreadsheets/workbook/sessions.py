"""Sessions as workbook rows: one row per session and one row per priced period, from the rating core.

Why rate here: the periods (time-of-day bands, midnight, step sizes) are the core's own cutting, never a
second implementation; the workbook's formulas then recompute every amount and total from them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from connector.models.session import Session
from connector.rating import PricedLine, RatedSession, RatingError, rate
from connector.rating.periods import zone
from connector.spreadsheets.workbook.subset import WorkbookError, WorkbookTariff

NO_CLASS = "(none)"  # shown for a session without customer class or station (SUMIFS cannot match "")
ITEMS = {"ENERGY": "Energy", "TIME": "Charging time", "PARKING_TIME": "Idle / parking time",
         "RESERVATION_TIME": "Reservation time", "FLAT": "Session fee"}
UNITS = {"ENERGY": "kWh", "TIME": "h", "PARKING_TIME": "h", "RESERVATION_TIME": "h", "FLAT": "session"}


@dataclass(frozen=True, slots=True)
class LineRow:
    """One priced period of a session (a Lines row): what it bills, on the session's wall clock."""

    item: str
    start_local: datetime  # naive local wall clock
    end_local: datetime
    measured: Decimal
    billed: Decimal
    unit: str
    unit_price: Decimal
    vat: Decimal  # percent, 0 without VAT
    amount_excl: Decimal  # the core's exact amounts (cached values of the formulas)
    amount_incl: Decimal


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One row of the Sessions sheet plus its priced periods."""

    session_id: str
    station_id: str
    customer_class: str
    start_local: datetime  # naive, the session's wall clock
    end_local: datetime
    energy_kwh: Decimal
    lines: tuple[LineRow, ...]


def _naive(moment: datetime, tz_name: str) -> datetime:
    return moment.astimezone(zone(tz_name)).replace(tzinfo=None)


def _line(line: PricedLine, tz_name: str) -> LineRow:
    return LineRow(item=ITEMS.get(line.dimension, line.dimension), start_local=_naive(line.start, tz_name),
                   end_local=_naive(line.end, tz_name), measured=line.volume, billed=line.billed_volume,
                   unit=UNITS.get(line.dimension, ""), unit_price=line.unit_price, vat=line.vat or Decimal(0),
                   amount_excl=line.cost_excl_vat, amount_incl=line.cost_incl_vat)


def session_rows(wt: WorkbookTariff, sessions: Iterable[Session],
                 progress: Callable[[int], None] | None = None) -> list[tuple[SessionRow, RatedSession]]:
    """Rows to write plus the core's rating of each; ``progress(n)`` after every 500 sessions."""
    out: list[tuple[SessionRow, RatedSession]] = []
    for index, session in enumerate(sessions):
        where = f"sessions[{index}] ({session.id})"
        if session.end is None:
            raise WorkbookError(f"{where}.end", "an ongoing session cannot be exported; give an end")
        try:
            rated = rate(session, wt.tariff)
        except RatingError as exc:
            raise WorkbookError(f"{where}.{exc.field}", exc.reason) from exc
        tz_name = rated.time_zone
        row = SessionRow(
            session_id=session.id,
            station_id=session.station_id or NO_CLASS,
            customer_class=session.customer_class or NO_CLASS,
            start_local=_naive(session.start, tz_name),
            end_local=_naive(session.end, tz_name),
            energy_kwh=session.total_energy(),
            lines=tuple(_line(line, tz_name) for line in rated.lines),
        )
        out.append((row, rated))
        if progress is not None and (index + 1) % 500 == 0:
            progress(index + 1)
    return out

"""Sessions as workbook rows, each checked against the formula subset with the rating core.

Why rate here: whether a session stays inside one time-of-day band is decided by the core's own
period cutting, not by a second implementation. A session whose energy is priced by more than one
tariff element would need a per-band split the formulas do not do, so it is refused by id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from connector.models.session import Session
from connector.rating import RatedSession, RatingError, rate
from connector.rating.periods import zone
from connector.spreadsheets.workbook.subset import WorkbookError, WorkbookTariff

NO_CLASS = "(none)"


@dataclass(frozen=True, slots=True)
class SessionRow:
    """What one row of the Sessions sheet holds as input values (formulas derive the rest)."""

    session_id: str
    station_id: str
    customer_class: str
    start_local: datetime  # naive, the session's wall clock: the band lookup reads it
    start_utc: datetime  # naive UTC: the duration is end_utc - start_utc (DST-safe)
    end_utc: datetime
    energy_kwh: Decimal


def _naive(moment: datetime, tz_name: str) -> datetime:
    return moment.astimezone(zone(tz_name)).replace(tzinfo=None)


def _check(session: Session, index: int) -> datetime:
    where = f"sessions[{index}] ({session.id})"
    if session.end is None:
        raise WorkbookError(f"{where}.end", "an ongoing session cannot be exported; give an end")
    for name in ("start", "end"):
        if getattr(session, name).microsecond:
            raise WorkbookError(f"{where}.{name}", "fractional seconds are not supported by the workbook formulas")
    if session.reservation_start is not None:
        raise WorkbookError(f"{where}.reservation_start", "reservations are not supported by the workbook formulas")
    if session.charging_ended_at is not None and session.charging_ended_at < session.end:
        raise WorkbookError(f"{where}.charging_ended_at", "idle (parking) time is not supported by the workbook formulas")
    return session.end


def session_rows(wt: WorkbookTariff, sessions: Iterable[Session]) -> list[tuple[SessionRow, RatedSession]]:
    """Rows to write plus the core's rating of each (the caller reports totals from it)."""
    out: list[tuple[SessionRow, RatedSession]] = []
    for index, session in enumerate(sessions):
        end = _check(session, index)
        where = f"sessions[{index}] ({session.id})"
        try:
            rated = rate(session, wt.tariff)
        except RatingError as exc:
            raise WorkbookError(f"{where}.{exc.field}", exc.reason) from exc
        elements = {line.element_index for line in rated.lines if line.dimension == "ENERGY"}
        if len(elements) > 1:
            raise WorkbookError(f"{where}.start",
                                "the session crosses a time-of-day band boundary; split it per band first")
        if sum(1 for line in rated.lines if line.dimension == "TIME") > 1:
            # The formulas bill charging time as one block (duration rounded up to the step). The core
            # bills it per period, and its step rounding on the sum of per-period hours can add a step
            # (61 min over midnight, 60 s steps -> 62 min), so such a session is refused, not mispriced.
            raise WorkbookError(f"{where}.end", "charging time priced per period (the session crosses local "
                                "midnight or a time-of-day boundary); split it at the boundary first")
        row = SessionRow(
            session_id=session.id,
            station_id=session.station_id or "",
            customer_class=session.customer_class or NO_CLASS,
            start_local=_naive(session.start, rated.time_zone),
            start_utc=_naive(session.start, "UTC"),
            end_utc=end.astimezone(UTC).replace(tzinfo=None),
            energy_kwh=session.total_energy(),
        )
        out.append((row, rated))
    return out

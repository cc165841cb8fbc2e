"""Reconciliation periods: a local day (``2026-01-13``) or month (``2026-01``) at each station.

Choice: a session belongs to the period when its start, in the session's own time zone (the station's,
``Session.time_zone``), falls on a day of the period. An operator's "13 January" at a Berlin station is the
Berlin day; stations in several zones each use their own. The database is searched by UTC ``start_at``
with a day of margin on either side, then each session is filtered exactly in its zone.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connector.validation import FieldError

MARGIN = timedelta(days=1, hours=2)  # covers UTC-12..UTC+14 and instants stored with a local offset


class ReconcileInputError(FieldError):
    """Bad request input; ``field``/``reason`` make a 422 naming the field."""


@dataclass(frozen=True, slots=True)
class Period:
    kind: str
    label: str
    first: date
    last: date  # inclusive

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """A UTC window that contains every instant of the period in any zone."""
        lo = datetime.combine(self.first, time.min, UTC) - MARGIN
        hi = datetime.combine(self.last + timedelta(days=1), time.min, UTC) + MARGIN
        return lo, hi

    def local_bounds(self, time_zone: str | None) -> tuple[datetime, datetime] | None:
        """The UTC instants [lo, hi) whose local date in ``time_zone`` is a day of the period, converted once
        so SQL compares ``start_at`` with them: a session at 23:59:59.999 local on the last day is in, one at
        00:00 the next day is out, DST days included. None when a clock change near an edge makes the period
        not one interval there (a fall-back across local midnight): then sessions are tested one by one."""
        tz = zone(time_zone or "UTC")
        lo = datetime.combine(self.first, time.min, tz).astimezone(UTC)
        hi = datetime.combine(self.last + timedelta(days=1), time.min, tz).astimezone(UTC)
        if not (_edge(lo, tz, self.first) and _edge(hi, tz, self.last + timedelta(days=1))):
            return None
        return lo, hi

    def contains(self, start: datetime, time_zone: str | None) -> bool:
        """Does ``start`` fall on a day of the period in ``time_zone`` (UTC when unknown)?"""
        local = start.astimezone(zone(time_zone or "UTC")).date()
        return self.first <= local <= self.last


EDGE_SCAN = timedelta(hours=26)
TICK = timedelta(microseconds=1)


def _edge(at: datetime, tz: ZoneInfo, day: date) -> bool:
    """Is ``at`` the one instant where "local date >= day" turns true for good? Checked at the microsecond
    either side and, when the UTC offset changes within a day of it, minute by minute across that span."""
    def on_or_after(instant: datetime) -> bool:
        return instant.astimezone(tz).date() >= day

    if on_or_after(at - TICK) or not on_or_after(at):
        return False
    if (at - EDGE_SCAN).astimezone(tz).utcoffset() == (at + EDGE_SCAN).astimezone(tz).utcoffset():
        return True
    step, probe = timedelta(minutes=1), at - EDGE_SCAN
    while probe < at + EDGE_SCAN:
        if on_or_after(probe) != (probe >= at):
            return False
        probe += step
    return True


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def parse_period(kind: str, period: str) -> Period:
    """``daily`` + ``YYYY-MM-DD`` or ``monthly`` + ``YYYY-MM``; anything else names the field."""
    if kind not in ("daily", "monthly"):
        raise ReconcileInputError("kind", "one of: daily, monthly")
    if not isinstance(period, str):
        raise ReconcileInputError("period", "required: YYYY-MM-DD (daily) or YYYY-MM (monthly)")
    try:
        if kind == "daily":
            if len(period) != 10:
                raise ValueError(period)
            day = date.fromisoformat(period)
            found = Period(kind, period, day, day)
        else:
            if len(period) != 7:
                raise ValueError(period)
            year, month = (int(part) for part in period.split("-"))
            first = date(year, month, 1)
            found = Period(kind, period, first, date(year, month, calendar.monthrange(year, month)[1]))
    except ValueError as exc:
        shape = "YYYY-MM-DD" if kind == "daily" else "YYYY-MM"
        raise ReconcileInputError("period", f"expected {shape} for a {kind} reconciliation, got {period!r}") from exc
    try:
        found.utc_bounds()  # the search window (a day of margin either side) must exist in the calendar
    except OverflowError as exc:
        raise ReconcileInputError("period", f"{period!r} is outside the supported dates (years 1 to 9999, "
                                            "not their first and last day)") from exc
    return found


def check_stations(stations: object) -> list[str] | None:
    """None = every station; else a non-empty list of station ids."""
    if stations is None:
        return None
    if not isinstance(stations, list | tuple) or not all(isinstance(s, str) and s for s in stations):
        raise ReconcileInputError("stations", "expected an array of station ids")
    if not stations:
        raise ReconcileInputError("stations", "at least one station id, or leave it out for all stations")
    return sorted(set(stations))

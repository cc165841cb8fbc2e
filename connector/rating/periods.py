"""Charging periods: taken from an OCPI CDR as given, or cut from a raw Session by us.

Cutting policy for raw sessions (docs/rating.md): a new period starts at every instant that can
change a price — session start, every local clock time named by a restriction (both occurrences of
a repeated DST hour), every DST transition (a window starting, ending or lying in the skipped or
repeated hour changes there), local midnight when dates or weekdays matter, kWh thresholds (where the
interpolated energy reaches them), duration and idle-duration thresholds, the charging→idle
transition, every meter sample when power/current restrictions exist, and tariff validity bounds.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from connector.models.cdr import Cdr, CdrDimensionType
from connector.models.energy_profile import hours_between
from connector.models.session import Session
from connector.rating.restrictions import CompiledTariff


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(slots=True, init=False)
class Period:
    """One charging period (explicit ``__init__``: compiled, it is native code (a dataclass-generated one stays interpreted))."""

    start: datetime
    end: datetime
    energy: Decimal | None  # kWh
    time_h: Decimal | None  # hours charging
    parking_h: Decimal | None  # hours not charging
    reservation_h: Decimal | None
    min_power: Decimal | None
    max_power: Decimal | None
    min_current: Decimal | None
    max_current: Decimal | None

    def __init__(self, start: datetime, end: datetime, energy: Decimal | None = None,
                 time_h: Decimal | None = None, parking_h: Decimal | None = None,
                 reservation_h: Decimal | None = None, min_power: Decimal | None = None,
                 max_power: Decimal | None = None, min_current: Decimal | None = None,
                 max_current: Decimal | None = None) -> None:
        self.start = start
        self.end = end
        self.energy = energy
        self.time_h = time_h
        self.parking_h = parking_h
        self.reservation_h = reservation_h
        self.min_power = min_power
        self.max_power = max_power
        self.min_current = min_current
        self.max_current = max_current


@dataclass(slots=True, init=False)
class PeriodSet:
    periods: list[Period]
    session_start: datetime
    end: datetime
    charging_ended_at: datetime | None

    def __init__(self, periods: list[Period], session_start: datetime, end: datetime,
                 charging_ended_at: datetime | None) -> None:
        self.periods = periods
        self.session_start = session_start
        self.end = end
        self.charging_ended_at = charging_ended_at


_ENERGY = CdrDimensionType.ENERGY
_TIME = CdrDimensionType.TIME
_PARKING = CdrDimensionType.PARKING_TIME
_RESERVATION = CdrDimensionType.RESERVATION_TIME
_MIN_POWER = CdrDimensionType.MIN_POWER
_MAX_POWER = CdrDimensionType.MAX_POWER
_MIN_CURRENT = CdrDimensionType.MIN_CURRENT
_MAX_CURRENT = CdrDimensionType.MAX_CURRENT


def _plus(current: Decimal | None, volume: Decimal) -> Decimal:
    return volume if current is None else current + volume


def periods_from_cdr(cdr: Cdr) -> PeriodSet:
    """Periods as the CPO cut them. Volumes are priced as given (timestamps only order them); a dimension
    given twice in a period adds up; dimensions the rating does not read are skipped."""
    raw = cdr.charging_periods
    periods: list[Period] = []
    charging_end: datetime | None = None
    last = len(raw) - 1
    for i, cp in enumerate(raw):
        end = raw[i + 1].start_date_time if i < last else cdr.end_date_time
        period = Period(cp.start_date_time, end)
        for dim in cp.dimensions:
            kind = dim.type
            if kind == _ENERGY:
                period.energy = _plus(period.energy, dim.volume)
            elif kind == _TIME:
                period.time_h = _plus(period.time_h, dim.volume)
            elif kind == _PARKING:
                period.parking_h = _plus(period.parking_h, dim.volume)
            elif kind == _RESERVATION:
                period.reservation_h = _plus(period.reservation_h, dim.volume)
            elif kind == _MIN_POWER:
                period.min_power = _plus(period.min_power, dim.volume)
            elif kind == _MAX_POWER:
                period.max_power = _plus(period.max_power, dim.volume)
            elif kind == _MIN_CURRENT:
                period.min_current = _plus(period.min_current, dim.volume)
            elif kind == _MAX_CURRENT:
                period.max_current = _plus(period.max_current, dim.volume)
        if period.parking_h is not None and period.time_h is None and charging_end is None:
            charging_end = cp.start_date_time
        periods.append(period)
    return PeriodSet(periods, cdr.start_date_time, cdr.end_date_time, charging_end)


def _local_instants(tz: ZoneInfo, first: date, last: date, clock: tuple[time, ...], start: datetime,
                    end: datetime) -> list[datetime]:
    """UTC instants in ``[start, end)`` of local clock times on each date, both folds (DST repeated hour)."""
    out: list[datetime] = []
    day = first
    one_day = timedelta(days=1)
    while day <= last:
        instants = _day_instants(tz, day, clock)
        lo = bisect_left(instants, start)
        hi = bisect_left(instants, end, lo)
        if lo < hi:
            out.extend(instants[lo:hi])
        day += one_day
    return out


@lru_cache(maxsize=8192)
def _day_instants(tz: ZoneInfo, day: date, clock: tuple[time, ...]) -> tuple[datetime, ...]:
    """One local date's instants, sorted (cached: building a local datetime costs ~1 us and sessions share
    days; most of a day's instants lie outside any one session, so callers take their slice by bisection)."""
    out: list[datetime] = []
    for t in clock:
        for fold in (0, 1):
            local = datetime.combine(day, t, tzinfo=tz).replace(fold=fold)
            out.append(local.astimezone(UTC))
    return tuple(sorted(out))


def offset_changes(tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """UTC instants in ``(start, end]`` where the zone's UTC offset changes (DST transitions), to the
    second: a local window that starts, ends or lies in the skipped or repeated hour changes there."""
    a, b = start.astimezone(UTC), end.astimezone(UTC)
    out: list[datetime] = []
    for year in range(a.year, b.year + 1):
        out.extend(t for t in _year_transitions(tz, year) if a < t <= b)
    return out


@lru_cache(maxsize=1024)
def _year_transitions(tz: ZoneInfo, year: int) -> tuple[datetime, ...]:
    """The zone's offset changes in a UTC calendar year (cached per zone and year): compare the offset
    a day apart, then bisect to the first second of the new offset (transitions fall on whole seconds)."""
    out: list[datetime] = []
    day = timedelta(days=1)
    a = datetime(year, 1, 1, tzinfo=UTC)
    stop = datetime(year + 1, 1, 1, tzinfo=UTC)
    while a < stop:
        b = a + day
        before = a.astimezone(tz).utcoffset()
        if before != b.astimezone(tz).utcoffset():
            lo, hi = a, b  # offset(lo) != offset(hi)
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(tz).utcoffset() == before:
                    lo = mid
                else:
                    hi = mid
            out.append(lo.replace(microsecond=0) + timedelta(seconds=1))
        a = b
    return tuple(out)


def cut_session(
    session: Session,
    end: datetime,
    tariffs: list[CompiledTariff],
    time_zone: str,
    extra_boundaries: list[datetime] | None = None,
    max_periods: int | None = None,
) -> PeriodSet | None:
    """Cut a raw session into periods at every boundary that can change a price (None: more than
    ``max_periods`` periods, found before any period is priced)."""
    start = session.start
    charging_end = session.charging_ended_at
    if charging_end is not None and charging_end >= end:
        charging_end = None
    profile = session.energy_profile(end)
    cuts: set[datetime] = {start}
    if charging_end is not None and charging_end > start:
        cuts.add(charging_end)
    tz = zone(time_zone)
    clock: set[time] = set()
    needs_midnight = False
    has_power = False
    for ct in tariffs:
        clock.update(ct.clock_times)
        needs_midnight = needs_midnight or ct.has_calendar or ct.has_time_of_day
        has_power = has_power or ct.has_power
        span = (end - start).total_seconds()  # thresholds beyond the session cut nothing (and may overflow)
        for s in ct.duration_thresholds:
            if s < span:
                cuts.add(start + timedelta(seconds=s))
        if charging_end is not None:
            for s in ct.idle_thresholds:
                if s < span:
                    cuts.add(charging_end + timedelta(seconds=s))
        for kwh in ct.kwh_thresholds:
            at = profile.time_at_energy(kwh)
            if at is not None:
                cuts.add(at)
    if needs_midnight:
        clock.add(time(0))
    if clock:
        first = start.astimezone(tz).date() - timedelta(days=1)
        last = end.astimezone(tz).date() + timedelta(days=1)
        if max_periods is not None and ((last - first).days - 3) * len(clock) > max_periods:
            return None  # refused before generating the instants of every local day
        cuts.update(_local_instants(tz, first, last, tuple(sorted(clock)), start, end))
        # the clocks change between two local times: a window opens or closes at the change itself
        cuts.update(offset_changes(tz, start, end))
    if has_power:
        cuts.update(profile.knot_times())
    if extra_boundaries:
        cuts.update(extra_boundaries)
    instants = sorted(c for c in cuts if start <= c < end)
    if max_periods is not None and len(instants) > max_periods:
        return None
    instants.append(end)
    periods: list[Period] = []
    if session.reservation_start is not None and session.reservation_start < start:
        periods.append(
            Period(session.reservation_start, start, reservation_h=hours_between(session.reservation_start, start))
        )
    previous_energy = profile.energy_at(start)
    for a, b in zip(instants, instants[1:], strict=False):
        if b <= a:
            continue
        energy_b = profile.energy_at(b)
        period = Period(a, b)
        delta = energy_b - previous_energy
        previous_energy = energy_b
        if delta != 0:
            period.energy = delta
        hours = hours_between(a, b)
        if charging_end is not None and a >= charging_end:
            period.parking_h = hours
        else:
            period.time_h = hours
            if has_power:
                power, current = profile.power_in(a, b)
                period.min_power = period.max_power = power
                period.min_current = period.max_current = current
        periods.append(period)
    if not periods:  # zero-length session, or an interim cost at its very start
        period = Period(start, end, time_h=Decimal(0))
        if has_power:  # the power known at start (else a power limit would match a period with none)
            power, current = profile.power_in(start, end)
            period.min_power = period.max_power = power
            period.min_current = period.max_current = current
        periods.append(period)
    return PeriodSet(periods, start, end, charging_end)

"""Energy over time for a raw session: piecewise-linear between meter samples (``Session.energy_profile``).

Policy (documented in docs/rating.md): cumulative energy is interpolated linearly between samples and never
goes down (``first_decrease`` finds the reading that does, so every face refuses it naming the sample);
with no samples, energy is spread uniformly over the charging time (start → charging_ended_at, or
end). Power in a segment is the sample's reported ``power_kw`` when given, otherwise the slope.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal

ZERO = Decimal(0)
SECONDS_PER_HOUR = Decimal(3600)


def hours_between(a: datetime, b: datetime) -> Decimal:
    delta = b - a
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return Decimal(micros) / Decimal(3_600_000_000)


def first_decrease(readings: Sequence[tuple[datetime, Decimal]]) -> tuple[int, int] | None:
    """Cumulative readings ``(at, kWh)`` (any order) taken in time order: ``(index, previous index)`` of the
    first one below an earlier one, else None. A meter that resets or runs backwards cannot be billed."""
    order = sorted(range(len(readings)), key=lambda i: readings[i][0])
    for before, index in zip(order, order[1:], strict=False):
        if readings[index][1] < readings[before][1]:
            return index, before
    return None


@dataclass(slots=True, init=False)
class Knot:
    """A meter reading on the profile (explicit ``__init__``: compiled, it is native code (a dataclass-generated one stays interpreted))."""

    at: datetime
    kwh: Decimal
    power_kw: Decimal | None
    current_a: Decimal | None

    def __init__(self, at: datetime, kwh: Decimal, power_kw: Decimal | None = None,
                 current_a: Decimal | None = None) -> None:
        self.at = at
        self.kwh = kwh
        self.power_kw = power_kw
        self.current_a = current_a


class EnergyProfile:
    """Cumulative kWh at any instant, and the instants where a kWh threshold is crossed."""

    __slots__ = ("_times", "knots")

    def __init__(self, knots: list[Knot]) -> None:
        self.knots = knots
        self._times = [k.at for k in knots]

    def energy_at(self, at: datetime) -> Decimal:
        knots = self.knots
        if at <= knots[0].at:
            return knots[0].kwh if at == knots[0].at else ZERO
        i = bisect_right(self._times, at) - 1
        if i >= len(knots) - 1:
            return knots[-1].kwh
        a, b = knots[i], knots[i + 1]
        if at == a.at:
            return a.kwh
        span = hours_between(a.at, b.at)
        if span == 0:
            return b.kwh
        return a.kwh + (b.kwh - a.kwh) * hours_between(a.at, at) / span

    def time_at_energy(self, kwh: Decimal) -> datetime | None:
        """First instant (whole microsecond) at which cumulative energy reaches ``kwh`` (None if never, or at
        start). Rounded up, and checked with ``energy_at``: a period cut here starts at or past the threshold,
        so a ``min_kwh`` element matches it (a truncated instant fell a hair before the threshold)."""
        knots = self.knots
        for a, b in zip(knots, knots[1:], strict=False):
            if a.kwh < kwh <= b.kwh:
                fraction = (kwh - a.kwh) / (b.kwh - a.kwh)
                delta = b.at - a.at
                span_us = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
                offset = min(int((Decimal(span_us) * fraction).to_integral_value(rounding=ROUND_CEILING)), span_us)
                at = a.at + timedelta(microseconds=offset)
                while at < b.at and self.energy_at(at) < kwh:  # the interpolation's own arithmetic decides
                    at += timedelta(microseconds=1)
                return at
        return None

    def knot_times(self) -> list[datetime]:
        return list(self._times)

    def power_in(self, a: datetime, b: datetime) -> tuple[Decimal | None, Decimal | None]:
        """(power kW, current A) during [a, b), which lies within one profile segment."""
        knots = self.knots
        i = bisect_right(self._times, a) - 1
        if i < 0:
            return None, None
        knot = knots[i]
        power = knot.power_kw
        if power is None and i + 1 < len(knots):
            nxt = knots[i + 1]
            span = hours_between(knot.at, nxt.at)
            if span > 0:
                power = (nxt.kwh - knot.kwh) / span
        elif power is None:
            span = hours_between(a, b)
            power = None if span == 0 else ZERO
        return power, knot.current_a


Sample = tuple[datetime, Decimal, Decimal | None, Decimal | None]  # at, cumulative kWh, power kW, current A


def session_profile(start: datetime, end: datetime | None, charging_ended_at: datetime | None,
                    energy_kwh: Decimal | None, samples: list[Sample], until: datetime) -> EnergyProfile:
    """A session's profile up to ``until`` (``Session.energy_profile``; here so the compiled build compiles
    it, the model's method only unpacks its fields)."""
    charging_end = charging_ended_at or end or until
    charging_end = min(charging_end, until) if end is None else charging_end
    kept = [s for s in samples if start <= s[0]]
    if kept:
        knots = [Knot(start, ZERO)]
        for at, kwh, power, current in kept:
            if at == start:
                knots[0] = Knot(start, kwh, power, current)
            else:
                knots.append(Knot(at, kwh, power, current))
        if energy_kwh is not None and end is not None and knots[-1].at < charging_end:
            knots.append(Knot(charging_end, energy_kwh))
        return EnergyProfile(knots)
    total = energy_kwh or ZERO
    if charging_end <= start:
        return EnergyProfile([Knot(start, total)])
    # Ongoing, no samples: energy_kwh is the latest reading, taken at ``until`` while charging; once
    # charging has ended (``charging_ended_at`` <= until) it was delivered by then, as in the final bill.
    return EnergyProfile([Knot(start, ZERO), Knot(charging_end, total)])

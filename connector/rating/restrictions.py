"""Compiled tariff elements and the OCPI restriction test, evaluated at a period's start.

Instant restrictions use local wall-clock time, local date and weekday, cumulative session energy
and duration at the period start; power/current restrictions compare the period's MIN/MAX
dimensions ("a missing dimension counts as a match"). Bounds: start inclusive, end exclusive;
``end_time < start_time`` wraps past midnight; ``end_time == 00:00`` means end of day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal

from connector.models.tariff import (
    WEEKDAYS,
    PriceComponent,
    ReservationRestrictionType,
    Tariff,
    TariffDimensionType,
    TariffRestrictions,
)


def _hhmm(value: str) -> time:
    return time(int(value[:2]), int(value[3:5]))


@dataclass(slots=True, init=False)
class State:
    """What instant restrictions look at, at a period start (explicit ``__init__``: compiled, it is native code (a dataclass-generated one stays interpreted))."""

    local_time: time
    local_date: date
    weekday: int  # 0 = Monday
    energy_kwh: Decimal  # cumulative before the period
    duration_s: int  # whole seconds since session start
    idle_s: int | None  # whole seconds since charging ended (None while charging)
    customer_class: str | None
    min_power: Decimal | None
    max_power: Decimal | None
    min_current: Decimal | None
    max_current: Decimal | None
    reservation: bool
    reservation_expired: bool

    def __init__(self, local_time: time, local_date: date, weekday: int, energy_kwh: Decimal, duration_s: int,
                 idle_s: int | None, customer_class: str | None, min_power: Decimal | None,
                 max_power: Decimal | None, min_current: Decimal | None, max_current: Decimal | None,
                 reservation: bool, reservation_expired: bool) -> None:
        self.local_time = local_time
        self.local_date = local_date
        self.weekday = weekday
        self.energy_kwh = energy_kwh
        self.duration_s = duration_s
        self.idle_s = idle_s
        self.customer_class = customer_class
        self.min_power = min_power
        self.max_power = max_power
        self.min_current = min_current
        self.max_current = max_current
        self.reservation = reservation
        self.reservation_expired = reservation_expired


@dataclass(slots=True)
class CompiledElement:
    index: int
    restrictions: TariffRestrictions | None
    start_time: time | None
    end_time: time | None
    weekdays: frozenset[int] | None
    components: dict[TariffDimensionType, PriceComponent]

    def matches(self, s: State) -> bool:
        r = self.restrictions
        if r is None:
            return not s.reservation
        if r.reservation is None:
            if s.reservation:
                return False
        else:
            if not s.reservation:
                return False
            if r.reservation is ReservationRestrictionType.RESERVATION_EXPIRES and not s.reservation_expired:
                return False
        st, et = self.start_time, self.end_time
        if st is not None or et is not None:
            t = s.local_time
            if st is not None and et is not None:
                if et == time(0) and st != time(0):
                    if t < st:
                        return False
                elif et < st:
                    if not (t >= st or t < et):
                        return False
                elif st < et and not (st <= t < et):
                    return False
            elif st is not None:
                if t < st:
                    return False
            elif et is not None and et != time(0) and t >= et:
                return False
        if r.start_date is not None and s.local_date < r.start_date:
            return False
        if r.end_date is not None and s.local_date >= r.end_date:
            return False
        if self.weekdays is not None and s.weekday not in self.weekdays:
            return False
        if r.min_kwh is not None and s.energy_kwh < r.min_kwh:
            return False
        if r.max_kwh is not None and s.energy_kwh >= r.max_kwh:
            return False
        if r.min_duration is not None and s.duration_s < r.min_duration:
            return False
        if r.max_duration is not None and s.duration_s >= r.max_duration:
            return False
        if r.min_power is not None and s.min_power is not None and s.min_power < r.min_power:
            return False
        if r.max_power is not None and s.max_power is not None and s.max_power >= r.max_power:
            return False
        if r.min_current is not None and s.min_current is not None and s.min_current < r.min_current:
            return False
        if r.max_current is not None and s.max_current is not None and s.max_current >= r.max_current:
            return False
        # --- extensions ---
        if r.x_customer_classes is not None and s.customer_class not in r.x_customer_classes:
            return False
        if r.x_min_idle_duration is not None and (s.idle_s is None or s.idle_s < r.x_min_idle_duration):
            return False
        return not (r.x_max_idle_duration is not None and (s.idle_s is None or s.idle_s >= r.x_max_idle_duration))


@dataclass(slots=True)
class CompiledTariff:
    tariff: Tariff
    elements: list[CompiledElement]
    has_time_of_day: bool
    has_calendar: bool
    has_power: bool
    kwh_thresholds: list[Decimal]
    duration_thresholds: list[int]
    idle_thresholds: list[int]
    clock_times: list[time]
    # Per dimension, the answer of ``select`` for any non-reservation state, when it does not depend on
    # the state (the first element pricing the dimension is unrestricted, or none prices it).
    constant: dict[TariffDimensionType, tuple[int, PriceComponent] | None]
    # True when every dimension has a constant answer: a period outside a reservation needs no State.
    stateless: bool

    def select(self, dimension: TariffDimensionType, state: State) -> tuple[int, PriceComponent] | None:
        """OCPI: the first element, in order, with this dimension whose restrictions all hold."""
        for element in self.elements:
            component = element.components.get(dimension)
            if component is not None and element.matches(state):
                return element.index, component
        return None


def compile_tariff(tariff: Tariff) -> CompiledTariff:
    """Pre-parse a tariff once (cached on the object) so rating a session does no string work."""
    # The private-attribute dict read directly: ``tariff._compiled`` goes through pydantic's __getattr__.
    private = tariff.__pydantic_private__
    cached: CompiledTariff | None = private.get("_compiled") if private else None
    if cached is not None:
        return cached
    elements: list[CompiledElement] = []
    kwh: set[Decimal] = set()
    durations: set[int] = set()
    idles: set[int] = set()
    clock: set[time] = set()
    has_tod = has_cal = has_power = False
    for index, element in enumerate(tariff.expanded_elements()):
        components: dict[TariffDimensionType, PriceComponent] = {}
        for component in element.price_components:
            components.setdefault(component.type, component)  # first of a type in the element
        r = element.restrictions
        st = _hhmm(r.start_time) if r and r.start_time else None
        et = _hhmm(r.end_time) if r and r.end_time else None
        weekdays = frozenset(WEEKDAYS.index(d) for d in r.day_of_week) if r and r.day_of_week else None
        if r is not None:
            if st or et:
                has_tod = True
                clock.update(t for t in (st, et) if t is not None)
            if r.start_date or r.end_date or weekdays is not None:
                has_cal = True
            kwh.update(v for v in (r.min_kwh, r.max_kwh) if v is not None)
            durations.update(v for v in (r.min_duration, r.max_duration) if v is not None)
            idles.update(v for v in (r.x_min_idle_duration, r.x_max_idle_duration) if v is not None)
            if any(v is not None for v in (r.min_power, r.max_power, r.min_current, r.max_current)):
                has_power = True
        elements.append(CompiledElement(index, r, st, et, weekdays, components))
    constant: dict[TariffDimensionType, tuple[int, PriceComponent] | None] = {}
    for dimension in TariffDimensionType:
        first = next((e for e in elements if dimension in e.components), None)
        if first is None:
            constant[dimension] = None
        elif first.restrictions is None:
            constant[dimension] = (first.index, first.components[dimension])
    compiled = CompiledTariff(
        tariff=tariff,
        elements=elements,
        has_time_of_day=has_tod,
        has_calendar=has_cal,
        has_power=has_power,
        kwh_thresholds=sorted(kwh),
        duration_thresholds=sorted(durations),
        idle_thresholds=sorted(idles),
        clock_times=sorted(clock),
        constant=constant,
        stateless=len(constant) == len(TariffDimensionType),
    )
    tariff._compiled = compiled
    return compiled

"""``rate()``: session or CDR + tariff(s) + customer → priced result. Pure: no I/O, no clock.

Order of work: choose the tariff valid at session start (customer class first), get periods (given
by a CDR, or cut from a raw session), select the active price component per dimension at each period
start, apply step_size on session totals (OCPI 2.3.0 reading), FLAT once, min/max price on both VAT
bases, then build the invoice view (rounding policy, taxes, adjustments) in ``invoice.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from connector.models.cdr import Cdr
from connector.models.customer import Customer
from connector.models.energy_profile import SECONDS_PER_HOUR, hours_between
from connector.models.session import Session
from connector.models.tariff import Tariff, TariffDimensionType
from connector.money import OCPI_QUANTUM, ZERO, ceil_to_step
from connector.rating.caps import apply_caps
from connector.rating.invoice import build_invoice
from connector.rating.options import RatingLimits, RatingOptions, StepSizePolicy, TariffSwitchPolicy
from connector.rating.periods import Period, PeriodSet, cut_session, periods_from_cdr, zone
from connector.rating.restrictions import CompiledTariff, State, compile_tariff
from connector.rating.result import CATEGORIES, Amount, InvoiceView, PricedLine, RatedSession
from connector.validation import FieldError

HUNDRED = Decimal(100)
ZERO4 = Decimal("0.0000")  # what rounding ZERO to 4 decimals gives
THOUSAND = Decimal(1000)
ONE = Decimal(1)

_E = TariffDimensionType.ENERGY
_T = TariffDimensionType.TIME
_P = TariffDimensionType.PARKING_TIME
_F = TariffDimensionType.FLAT


class RatingError(FieldError):
    """Input that cannot be rated; ``field`` names the culprit."""


def select_tariff(
    tariffs: Sequence[Tariff], at: datetime, customer_class: str | None = None
) -> Tariff:
    """The tariff valid at ``at`` (OCPI ``start <= at < end``): one for the customer's class first
    (extension), else the first unrestricted one, in list order."""
    if len(tariffs) == 1:  # the common call: one tariff, for everyone, valid now
        only = tariffs[0]
        if not only.x_customer_classes and only.valid_at(at):
            return only
    valid = [t for t in tariffs if t.valid_at(at)]
    for tariff in valid:
        if tariff.x_customer_classes and customer_class in tariff.x_customer_classes:
            return tariff
    for tariff in valid:
        if not tariff.x_customer_classes:
            return tariff
    raise RatingError("tariff", f"no tariff is valid at {at.isoformat()} for customer class {customer_class!r}")


def _round4(value: Decimal) -> Decimal:
    """``round_ocpi`` without the call and global lookups (called ~15 times per rating)."""
    return value.quantize(OCPI_QUANTUM, ROUND_HALF_UP)


def _whole_seconds(a: datetime, b: datetime) -> int:
    delta = b - a
    return delta.days * 86400 + delta.seconds


def _state(
    period: Period,
    ps: PeriodSet,
    tz: ZoneInfo,
    energy_before: Decimal,
    customer_class: str | None,
    reservation_expired: bool,
) -> State:
    local = period.start.astimezone(tz)
    duration = max(0, _whole_seconds(ps.session_start, period.start))
    idle: int | None = None
    if ps.charging_ended_at is not None and period.start >= ps.charging_ended_at:
        idle = _whole_seconds(ps.charging_ended_at, period.start)
    return State(
        local_time=local.time(),
        local_date=local.date(),
        weekday=local.weekday(),
        energy_kwh=energy_before,
        duration_s=duration,
        idle_s=idle,
        customer_class=customer_class,
        min_power=period.min_power,
        max_power=period.max_power,
        min_current=period.min_current,
        max_current=period.max_current,
        reservation=period.reservation_h is not None,
        reservation_expired=reservation_expired,
    )


class _Priced:
    """The priced lines of one rating, in order, with what step_size needs beside each (not in the result)."""

    __slots__ = ("groups", "lines", "steps")

    def __init__(self) -> None:
        self.lines: list[PricedLine] = []
        self.groups: list[int] = []  # tariff segment (step_size is not carried across tariffs)
        self.steps: list[int] = []

    def add(self, line: PricedLine, group: int, step: int) -> None:
        self.lines.append(line)
        self.groups.append(group)
        self.steps.append(step)


def _line(index: int, period: Period, dimension: str, category: str, volume: Decimal, price: Decimal,
          vat: Decimal | None, element_index: int) -> PricedLine:
    """A line before step_size and costs (both filled in by ``_costs``)."""
    return PricedLine(index, period.start, period.end, dimension, category, volume, volume, price, vat,
                      element_index, ZERO, ZERO)


def _price_periods(
    ps: PeriodSet,
    compiled_for: list[CompiledTariff],
    tz_name: str,
    customer_class: str | None,
    reservation_expired: bool,
) -> _Priced:
    priced = _Priced()
    energy_before = ZERO
    flat_done = [False, False]  # FLAT once per session (and once for the reservation)
    single = all(ct is compiled_for[0] for ct in compiled_for)
    groups: dict[int, int] = {}
    group = 0
    tz = zone(tz_name)
    for index, period in enumerate(ps.periods):
        ct = compiled_for[index]
        if not single:
            group = groups.setdefault(id(ct), len(groups))
        reservation_h = period.reservation_h
        is_res = reservation_h is not None
        # every dimension's element is the same whatever the period's time, energy or duration: no State
        state = None if ct.stateless and not is_res else _state(period, ps, tz, energy_before, customer_class,
                                                                  reservation_expired)
        constant = ct.constant
        if not flat_done[is_res]:
            hit = constant[_F] if state is None else ct.select(_F, state)
            if hit is not None:
                flat_done[is_res] = True
                idx, comp = hit
                priced.add(_line(index, period, "FLAT", "reservation" if is_res else "fixed", ONE, comp.price,
                                 comp.vat, idx), group, 0)
        if reservation_h is not None:
            hit = constant[_T] if state is None else ct.select(_T, state)
            if hit is not None:
                idx, comp = hit
                priced.add(_line(index, period, "RESERVATION_TIME", "reservation", reservation_h, comp.price,
                                 comp.vat, idx), group, comp.step_size)
            continue
        energy = period.energy
        if energy is not None:
            hit = constant[_E] if state is None else ct.select(_E, state)
            if hit is not None:
                idx, comp = hit
                priced.add(_line(index, period, "ENERGY", "energy", energy, comp.price, comp.vat, idx),
                           group, comp.step_size)
            energy_before += energy
        time_h = period.time_h
        if time_h is not None:
            hit = constant[_T] if state is None else ct.select(_T, state)
            if hit is not None:
                idx, comp = hit
                priced.add(_line(index, period, "TIME", "time", time_h, comp.price, comp.vat, idx),
                           group, comp.step_size)
        parking_h = period.parking_h
        if parking_h is not None:
            hit = constant[_P] if state is None else ct.select(_P, state)
            if hit is not None:
                idx, comp = hit
                priced.add(_line(index, period, "PARKING_TIME", "parking", parking_h, comp.price, comp.vat, idx),
                           group, comp.step_size)
    return priced


BASE_UNIT_QUANTUM = Decimal("0.000001")  # a microsecond / micro-Wh: below any meter's resolution


def _round_group(lines: list[PricedLine], step: int, unit: Decimal) -> None:
    """Round the group's total up to the last line's step and bill the extra in that last line."""
    if step <= 0:
        return
    total = ZERO
    for line in lines:
        total += line.volume
    # Round up in the step's own unit (seconds, Wh): hours carry 28-digit remainders (7 min =
    # 0.11666…67 h) that would otherwise push an exact 7 × 60 s into an 8th step.
    base = (total * unit).quantize(BASE_UNIT_QUANTUM)
    billed_base = ceil_to_step(base, Decimal(step))
    if billed_base == base:
        return
    last = lines[-1]
    last.billed_volume = last.volume + (billed_base - base) / unit


def _apply_step_size(priced: _Priced) -> None:
    """OCPI 2.3.0: once per ENERGY, once per TIME+PARKING (parking alone if priced), per tariff."""
    # (tariff segment, dimension) -> its lines and the last line's step, in one pass, order kept
    buckets: dict[tuple[int, str], tuple[list[PricedLine], list[int]]] = {}
    steps = priced.steps
    groups = priced.groups
    for i, line in enumerate(priced.lines):
        dimension = line.dimension
        if dimension != "FLAT":
            key = (groups[i], dimension)
            bucket = buckets.get(key)
            if bucket is None:
                buckets[key] = ([line], [steps[i]])
            else:
                bucket[0].append(line)
                bucket[1][0] = steps[i]
    for (group, dimension), (lines, last_step) in buckets.items():
        if dimension == "ENERGY":
            _round_group(lines, last_step[0], THOUSAND)
        elif dimension == "TIME":
            if (group, "PARKING_TIME") not in buckets:
                _round_group(lines, last_step[0], SECONDS_PER_HOUR)
        else:  # PARKING_TIME, RESERVATION_TIME
            _round_group(lines, last_step[0], SECONDS_PER_HOUR)


def _costs(lines: list[PricedLine]) -> dict[str, list[Decimal]]:
    """Each line's cost at full precision, and per category the sums [excl, incl] in line order (a
    category without lines keeps the ZERO object itself: it rounds without a quantize)."""
    sub: dict[str, list[Decimal]] = {c: [ZERO, ZERO] for c in CATEGORIES}
    for line in lines:
        excl = line.billed_volume * line.unit_price if line.dimension != "FLAT" else line.unit_price
        vat = line.vat
        incl = excl if vat is None else excl * (HUNDRED + vat) / HUNDRED
        line.cost_excl_vat = excl
        line.cost_incl_vat = incl
        acc = sub[line.category]
        acc[0] += excl
        acc[1] += incl
    return sub


def _as_list(tariffs: Tariff | Sequence[Tariff] | None) -> list[Tariff]:
    if tariffs is None:
        return []
    if isinstance(tariffs, Tariff):
        return [tariffs]
    return list(tariffs)


def rate(
    subject: Session | Cdr,
    tariffs: Tariff | Sequence[Tariff] | None = None,
    customer: Customer | None = None,
    options: RatingOptions | None = None,
) -> RatedSession:
    """Price a raw Session or an OCPI CDR. The interim cost is the same call with ``options.as_of``."""
    opts = options or _DEFAULT_OPTIONS
    candidates = _as_list(tariffs)
    # the kind is decided once: a failing isinstance on a pydantic model class takes the ABC path (~0.4 us)
    session: Session | None = subject if type(subject) is Session else None
    cdr: Cdr | None = subject if type(subject) is Cdr else None
    if session is None and cdr is None:  # a subclass
        if isinstance(subject, Session):
            session = subject
        elif isinstance(subject, Cdr):
            cdr = subject
    if cdr is not None:
        subject = cdr
        if not candidates:
            candidates = list(subject.tariffs or [])
        customer_class = opts.customer_class or subject.x_customer_class or (customer.customer_class if customer else None)
        tz_name = opts.time_zone or (subject.cdr_location.time_zone if subject.cdr_location else None) or "UTC"
        start, session_id, reservation_expired = subject.start_date_time, subject.id, subject.x_reservation_expired
    elif session is not None:
        subject = session
        customer_class = opts.customer_class or subject.customer_class or (customer.customer_class if customer else None)
        tz_name = opts.time_zone or subject.time_zone
        start, session_id, reservation_expired = subject.start, subject.id, subject.reservation_expired
    else:
        raise RatingError("session", "expected a Session or an OCPI CDR")
    if not candidates:
        raise RatingError("tariff", "no tariff given (inline, by id, or embedded in the CDR)")
    try:
        zone(tz_name)
    except Exception as exc:
        raise RatingError("time_zone", f"'{tz_name}' is not an IANA time zone") from exc

    tariff = select_tariff(candidates, start, customer_class)
    if session is not None and session.currency and session.currency != tariff.currency:
        raise RatingError("currency", f"session is in {session.currency} but tariff {tariff.id} is in {tariff.currency}")
    if cdr is not None and cdr.currency != tariff.currency:
        raise RatingError("currency", f"the CDR is in {cdr.currency} but tariff {tariff.id} is in {tariff.currency}")
    compiled = compile_tariff(tariff)
    switching = opts.tariff_switch is TariffSwitchPolicy.APPLY_FROM_EFFECTIVE_TIME

    # --- periods ---
    limits = opts.limits
    if cdr is not None:
        end = cdr.end_date_time
        final = True
        _check_length(cdr.start_date_time, end, "end_date_time", limits)
        if len(cdr.charging_periods) > limits.max_periods:
            raise RatingError("charging_periods", f"{len(cdr.charging_periods)} periods; the limit is "
                                                  f"{limits.max_periods} periods")
        ps = periods_from_cdr(cdr)
    else:
        assert session is not None
        subject = session
        end, final = _session_end(subject, opts.as_of)
        # the session as reported (to its end, or its last meter reading while it runs); an interim up to
        # a later as_of is bounded by the number of periods below
        reported = subject.end or max([subject.start, *(m.timestamp for m in subject.meter_samples)])
        _check_length(subject.reservation_start or subject.start, reported, "end", limits)
        relevant = [compile_tariff(t) for t in candidates] if switching else [compiled]
        bounds = [b for t in candidates for b in (t.start_date_time, t.end_date_time) if b] if switching else None
        cut = cut_session(subject, end, relevant, tz_name, bounds, max_periods=limits.max_periods)
        if cut is None:
            raise RatingError("end" if final else "as_of",
                              f"the session would be cut into more than {limits.max_periods} periods "
                              f"(the limit is {limits.max_periods} periods)")
        ps = cut
    if switching:
        compiled_for = [compile_tariff(_tariff_at(candidates, p.start, customer_class, tariff)) for p in ps.periods]
    else:
        compiled_for = [compiled] * len(ps.periods)
    if cdr is not None:
        _period_tariffs(cdr, candidates, compiled_for)

    # --- price ---
    priced = _price_periods(ps, compiled_for, tz_name, customer_class, reservation_expired)
    if opts.step_size is StepSizePolicy.OCPI_2_3_0:
        _apply_step_size(priced)
    lines = priced.lines
    sub = _costs(lines)
    excl_sum = incl_sum = ZERO
    subtotals: dict[str, Amount] = {}
    for c, (excl, incl) in sub.items():
        excl_sum += excl
        incl_sum += incl
        # a category without lines rounds to 0.0000 on both sides: no quantize needed
        subtotals[c] = Amount(_round4(excl), _round4(incl)) if excl is not ZERO or incl is not ZERO else \
            Amount(ZERO4, ZERO4)
    uncapped = Amount(excl_sum, incl_sum)
    capped, cap_applied = apply_caps(uncapped, tariff)

    total_energy = total_parking = ZERO
    for p in ps.periods:
        if p.energy is not None:
            total_energy += p.energy
        if p.parking_h is not None:
            total_parking += p.parking_h
    invoice = _invoice_builder(lines, tariff, customer, customer_class, opts, uncapped, capped, cap_applied,
                               total_energy, start)
    return RatedSession(
        session_id=session_id,
        tariff_id=tariff.id,
        currency=tariff.currency,
        customer_class=customer_class,
        start=start,
        end=end,
        time_zone=tz_name,
        final=final,
        lines=lines,
        subtotals=subtotals,
        cap_applied=cap_applied,
        total_cost=Amount(_round4(capped.excl_vat), _round4(capped.incl_vat)),
        total_fixed_cost=subtotals["fixed"],
        total_energy=_round4(total_energy),
        total_energy_cost=subtotals["energy"],
        total_time=_round4(hours_between(ps.session_start, ps.end)),
        total_time_cost=subtotals["time"],
        total_parking_time=_round4(total_parking),
        total_parking_cost=subtotals["parking"],
        total_reservation_cost=subtotals["reservation"],
        invoice_builder=invoice,
    )


_DEFAULT_OPTIONS = RatingOptions()  # frozen: one instance serves every call without options


def _invoice_builder(lines: list[PricedLine], tariff: Tariff, customer: Customer | None, customer_class: str | None,
                     options: RatingOptions, uncapped: Amount, capped: Amount, cap_applied: str | None,
                     total_energy: Decimal, at: datetime) -> Callable[[], InvoiceView]:
    """The result's lazy invoice (a closure over its own arguments: cheaper to make than a keyword partial,
    and the rating function's locals stay plain locals when compiled)."""

    def build() -> InvoiceView:
        return build_invoice(lines=lines, tariff=tariff, customer=customer, customer_class=customer_class,
                             options=options, uncapped=uncapped, capped=capped, cap_applied=cap_applied,
                             total_energy=total_energy, at=at)

    return build


def _check_length(start: datetime, end: datetime, field: str, limits: RatingLimits) -> None:
    """Refuse a session longer than the limit before any period is cut (a reset clock reports 1970)."""
    if end - start > timedelta(days=limits.max_session_days):
        days = (end - start).days
        raise RatingError(field, f"the session lasts {days} days; the limit is {limits.max_session_days} days "
                                 "(a charger clock reset?)")


def _session_end(session: Session, as_of: datetime | None) -> tuple[datetime, bool]:
    if as_of is not None and (as_of.tzinfo is None or as_of.utcoffset() is None):
        raise RatingError("as_of", "must carry a time zone offset")
    if session.end is None:
        if as_of is None:
            raise RatingError("end", "the session is ongoing: give an end, or as_of for an interim cost")
        if as_of < session.start:
            raise RatingError("as_of", "must not be before the session start")
        return as_of.astimezone(UTC), False
    if as_of is not None and as_of < session.end:
        if as_of < session.start:
            raise RatingError("as_of", "must not be before the session start")
        return as_of.astimezone(UTC), False
    return session.end, True


def _tariff_at(candidates: list[Tariff], at: datetime, customer_class: str | None, fallback: Tariff) -> Tariff:
    try:
        return select_tariff(candidates, at, customer_class)
    except RatingError:
        return fallback


def _period_tariffs(cdr: Cdr, candidates: list[Tariff], compiled_for: list[CompiledTariff]) -> None:
    """OCPI ``ChargingPeriod.tariff_id``: a period that names its tariff is priced with it (the version
    valid at the period start when several share the id); it must exist and be in the CDR's currency."""
    for index, period in enumerate(cdr.charging_periods):
        if period.tariff_id is None:
            continue
        field = f"charging_periods[{index}].tariff_id"
        named = [t for t in candidates if t.id == period.tariff_id]
        if not named:
            known = ", ".join(sorted({t.id for t in candidates}))
            raise RatingError(field, f"tariff '{period.tariff_id}' is not among the tariffs given ({known})")
        valid = [t for t in named if t.valid_at(period.start_date_time)]
        chosen = (valid or named)[0]
        if chosen.currency != cdr.currency:
            raise RatingError(field, f"tariff '{chosen.id}' is in {chosen.currency} but the CDR is in {cdr.currency}")
        compiled_for[index] = compile_tariff(chosen)

"""The invariants of issue 14 as plain functions of one drawn case (the CI tests and the long run share them).

Each ``check_*`` rates through the one public call, ``connector.rating.rate``, and asserts exact Decimals.
``PROPERTIES`` lists (name, strategy, check) for ``bench/rating_properties.py``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from connector.models import Cdr, Session, Tariff
from connector.money import round_money, round_ocpi
from connector.rating import RatedSession, RatingOptions, StepSizePolicy, rate
from connector.rating.periods import cut_session
from connector.rating.restrictions import compile_tariff
from tests.rating.properties.strategies import Case, cases

ZERO = Decimal(0)


def _rate(case: Case, subject: Session | Cdr | None = None, tariff: Tariff | None = None,
          as_of: datetime | None = None) -> RatedSession:
    return rate(subject or case.session, [tariff or case.tariff],
                options=RatingOptions(rounding=case.policy, as_of=as_of))


def _money(case: Case, value: Decimal) -> Decimal:
    return round_money(value, case.tariff.currency, case.policy)


TOTALS = {"total_cost": None, "total_energy_cost": "energy", "total_time_cost": "time",
          "total_parking_cost": "parking", "total_fixed_cost": "fixed"}
NOISE = Decimal("1e-15")  # Decimal's 28 digits on hour fractions and interpolated kWh: far below any money


def _exact(r: RatedSession, category: str | None, basis: str) -> Decimal:
    return sum((getattr(ln, f"cost_{basis}") for ln in r.lines if category is None or ln.category == category), ZERO)


def _at_half_way(value: Decimal) -> bool:
    """Is ``value`` within noise of a half-way point of the OCPI 4-decimal rounding?"""
    scaled = value.scaleb(4)
    return abs(scaled - scaled.to_integral_value(rounding="ROUND_FLOOR") - Decimal("0.5")) < NOISE.scaleb(4)


def _same_totals(a: RatedSession, b: RatedSession, what: str) -> None:
    """The same OCPI totals and invoice. A rounded total may differ by 0.0001 only where the exact sums agree
    to within ``NOISE`` and sit on a half-way point (docs/rating.md: a sum within 10^-20 of a half-way point
    may round to either neighbour, hours being 28-digit fractions)."""
    noisy = False
    for name, category in TOTALS.items():
        x, y = getattr(a, name), getattr(b, name)
        for basis in ("excl_vat", "incl_vat"):
            ex, ey = _exact(a, category, basis), _exact(b, category, basis)
            if category is not None or a.cap_applied is None:
                assert abs(ex - ey) <= NOISE, f"{what}: exact {name}.{basis} {ex} != {ey}"
            if getattr(x, basis) != getattr(y, basis):
                assert _at_half_way(ex) and abs(getattr(x, basis) - getattr(y, basis)) == Decimal("0.0001"), (
                    f"{what}: {name}.{basis} {getattr(x, basis)} != {getattr(y, basis)} (exact {ex} / {ey})")
                noisy = True
    assert a.total_energy == b.total_energy or abs(a.total_energy - b.total_energy) == Decimal("0.0001"), what
    if not noisy:
        assert (a.invoice.net_total, a.invoice.amount_due) == (b.invoice.net_total, b.invoice.amount_due), what


# ----------------------------------------------------------------------------- the invoice bills the rating


def check_invoice_bills_the_rating(case: Case) -> None:
    """amount_due = total_cost.incl_vat and net_total = total_cost.excl_vat, each rounded to the minor unit
    by the named policy; excl <= incl (every VAT rate drawn is >= 0)."""
    r = _rate(case)
    inv = r.invoice
    assert inv.amount_due == _money(case, r.total_cost.incl_vat), (inv.amount_due, r.total_cost)
    assert inv.net_total == _money(case, r.total_cost.excl_vat), (inv.net_total, r.total_cost)
    assert r.total_cost.excl_vat <= r.total_cost.incl_vat, r.total_cost
    assert inv.net_total <= inv.amount_due


# ------------------------------------------------------------------------------------------------- caps


def check_caps_hold(case: Case) -> None:
    """min/max_price hold on both bases (a limit without incl_vat: its excl × the session's own incl/excl
    ratio, docs/rating.md) and on the invoice."""
    r = _rate(case)
    lo, hi = case.tariff.min_price, case.tariff.max_price
    ux = sum((ln.cost_excl_vat for ln in r.lines), ZERO)
    ui = sum((ln.cost_incl_vat for ln in r.lines), ZERO)

    def incl(limit: Any) -> Decimal:
        if limit.incl_vat is not None:
            return Decimal(limit.incl_vat)
        if ux != 0:
            return Decimal(limit.excl_vat) * (ui / ux).quantize(Decimal("1e-20"))  # caps.RATIO_PLACES
        vats = [c.vat for e in case.tariff.elements for c in e.price_components if c.vat is not None]
        return Decimal(limit.excl_vat) * (100 + max(vats)) / 100 if vats else Decimal(limit.excl_vat)

    total, inv = r.total_cost, r.invoice
    if lo is not None:
        assert total.excl_vat >= round_ocpi(lo.excl_vat) and total.incl_vat >= round_ocpi(incl(lo)), (lo, total)
        assert inv.net_total >= _money(case, round_ocpi(lo.excl_vat))
        assert inv.amount_due >= _money(case, round_ocpi(incl(lo)))
    if hi is not None:
        assert total.excl_vat <= round_ocpi(hi.excl_vat) and total.incl_vat <= round_ocpi(incl(hi)), (hi, total)
        assert inv.net_total <= _money(case, round_ocpi(hi.excl_vat))
        assert inv.amount_due <= _money(case, round_ocpi(incl(hi)))
    if lo is None and hi is None:
        assert (total.excl_vat, total.incl_vat) == (round_ocpi(ux), round_ocpi(ui))


# --------------------------------------------------------------------------- a CDR of the session's periods


def cdr_of(session: Session, tariff: Tariff) -> Cdr:
    """The session's own charging periods (as the rating cuts them) written as an OCPI CDR."""
    assert session.end is not None
    ps = cut_session(session, session.end, [compile_tariff(tariff)], session.time_zone)
    periods = []
    for p in ps.periods:
        dims = [{"type": t, "volume": v} for t, v in (
            ("ENERGY", p.energy), ("TIME", p.time_h), ("PARKING_TIME", p.parking_h),
            ("MIN_POWER", p.min_power), ("MAX_POWER", p.max_power),
            ("MIN_CURRENT", p.min_current), ("MAX_CURRENT", p.max_current)) if v is not None]
        periods.append({"start_date_time": p.start, "dimensions": dims})
    return Cdr.model_validate({"id": "CDR", "currency": tariff.currency, "start_date_time": session.start,
                               "end_date_time": session.end, "cdr_location": {"time_zone": session.time_zone},
                               "charging_periods": periods})


def check_cdr_of_the_session_rates_the_same(case: Case) -> None:
    _same_totals(_rate(case), _rate(case, cdr_of(case.session, case.tariff)), "CDR of the session's periods")


# ----------------------------------------------------------------------------------------------- invariance


@dataclass(frozen=True)
class Split:
    case: Case
    segment: int  # which profile segment gets a sample at its midpoint


def with_midpoint_sample(session: Session, segment: int) -> Session | None:
    """The session with one more meter sample, on its own energy line, halfway through a profile segment
    (with the segment's reported power/current): no price boundary moves."""
    assert session.end is not None
    profile = session.energy_profile(session.end)
    knots = list(profile.knots)
    pairs = [(a, b) for a, b in zip(knots, knots[1:], strict=False) if b.at > a.at]
    if not pairs:
        return None
    a, b = pairs[segment % len(pairs)]
    mid = a.at + (b.at - a.at) / 2
    sample: dict[str, Any] = {"timestamp": mid, "energy_kwh": profile.energy_at(mid)}
    if a.power_kw is not None:
        sample["power_kw"] = a.power_kw
    if a.current_a is not None:
        sample["current_a"] = a.current_a
    doc = session.model_dump()
    doc["meter_samples"] = sorted([*doc["meter_samples"], sample], key=lambda s: s["timestamp"])
    return Session.model_validate(doc)


def check_split_changes_nothing(split: Split) -> None:
    case = split.case
    more = with_midpoint_sample(case.session, split.segment)
    if more is None:
        return
    _same_totals(_rate(case), _rate(case, more), "a sample on the energy line")


def split_cdr(cdr: Cdr, index: int) -> Cdr:
    """Period ``index`` cut in two at its midpoint, each half with half its volumes (powers kept)."""
    data = cdr.model_dump(mode="json", exclude_none=True)
    periods = data["charging_periods"]
    index %= len(periods)
    start = cdr.charging_periods[index].start_date_time
    end = cdr.charging_periods[index + 1].start_date_time if index + 1 < len(periods) else cdr.end_date_time
    if end - start < timedelta(microseconds=2):
        return cdr
    halves = [{"type": d["type"], "volume": str(Decimal(d["volume"]) / 2) if d["type"] in HALVED else d["volume"]}
              for d in periods[index]["dimensions"]]
    periods[index:index + 1] = [{**periods[index], "dimensions": halves},
                                {"start_date_time": (start + (end - start) / 2).isoformat(), "dimensions": halves}]
    return Cdr.model_validate(data)


HALVED = ("ENERGY", "TIME", "PARKING_TIME", "RESERVATION_TIME")


def check_cdr_split_changes_nothing(split: Split) -> None:
    """A period of the session's own CDR cut at its midpoint: every price boundary (clock times on both sides
    of a DST change, kWh, duration and idle thresholds) is a period start already, so nothing changes."""
    case = split.case
    cdr = cdr_of(case.session, case.tariff)
    _same_totals(_rate(case, cdr), _rate(case, split_cdr(cdr, split.segment)), "a CDR period cut in two")


@dataclass(frozen=True)
class Reordered:
    case: Case
    seed: int


def check_reordering_changes_nothing(item: Reordered) -> None:
    """Price components of an element in any order (they have distinct types), the CDR's dimensions in any
    order: the same price."""
    case, rng = item.case, random.Random(item.seed)
    data = case.tariff.model_dump(mode="json", exclude_none=True)
    for element in data["elements"]:
        rng.shuffle(element["price_components"])
    shuffled = Tariff.model_validate(data)
    _same_totals(_rate(case), _rate(case, tariff=shuffled), "components re-ordered")
    cdr = cdr_of(case.session, case.tariff).model_dump(mode="json", exclude_none=True)
    for period in cdr["charging_periods"]:
        rng.shuffle(period["dimensions"])
    _same_totals(_rate(case, cdr_of(case.session, case.tariff)), _rate(case, Cdr.model_validate(cdr)),
                 "CDR dimensions re-ordered")


@dataclass(frozen=True)
class Shifted:
    case: Case
    weeks: int


def _offsets(session: Session, delta: timedelta) -> tuple[timedelta | None, timedelta | None]:
    assert session.end is not None
    tz = ZoneInfo(session.time_zone)
    return (session.start + delta).astimezone(tz).utcoffset(), (session.end + delta).astimezone(tz).utcoffset()


def shift(session: Session, delta: timedelta) -> Session:
    doc = session.model_dump()
    for key in ("start", "end", "charging_ended_at", "reservation_start"):
        if doc.get(key) is not None:
            doc[key] = doc[key] + delta
    doc["meter_samples"] = [{**s, "timestamp": s["timestamp"] + delta} for s in doc["meter_samples"]]
    return Session.model_validate(doc)


def check_week_shift_changes_nothing(item: Shifted) -> None:
    """The whole session moved by whole weeks (tariffs without date restrictions), where no DST change lies in
    either window and the UTC offset is the same: the same local clock, the same weekdays, the same price."""
    case, delta = item.case, timedelta(weeks=item.weeks)
    before, after = _offsets(case.session, timedelta(0)), _offsets(case.session, delta)
    if len(set(before) | set(after)) != 1:
        return  # a DST change intervenes
    _same_totals(_rate(case), _rate(case, shift(case.session, delta)), f"shifted {item.weeks} weeks")


# ---------------------------------------------------------------------------------------------- interim


def live_and_ended(session: Session) -> tuple[Session, Session]:
    """The session as the system knew it while it ran (no end; the meter's last reading at charging end
    when it reports samples) and the same session ended."""
    assert session.end is not None
    doc = session.model_dump()
    charging_end = session.charging_ended_at or session.end
    if doc["meter_samples"] and session.energy_kwh is not None:
        samples = [s for s in doc["meter_samples"] if s["timestamp"] < charging_end]
        doc["meter_samples"] = [*samples, {"timestamp": charging_end, "energy_kwh": session.energy_kwh}]
    ended = Session.model_validate(doc)
    live = Session.model_validate({**doc, "end": None})
    return live, ended


def check_interim_at_end_is_final(case: Case) -> None:
    live, ended = live_and_ended(case.session)
    assert ended.end is not None
    _same_totals(_rate(case, live, as_of=ended.end), _rate(case, ended), "interim at end vs final")


@dataclass(frozen=True)
class Monotone:
    case: Case
    cuts: tuple[int, ...]  # per mille of the session


def check_interim_never_decreases(item: Monotone) -> None:
    """The running cost of a live session never goes down as ``as_of`` advances (no negative prices).

    With step_size rounding as measured (``StepSizePolicy.EXACT``): under OCPI 2.3.0 the step's round-up is
    billed in the *last* period, at that period's price, so a later period with a cheaper element can lower
    the running total. And caps that give ``incl_vat``: a limit without it follows the session's own
    incl/excl ratio (docs/rating.md), which moves as components of other VAT rates accrue, so a capped
    incl-VAT total can go down by the ratio's change (tests/rating/properties/test_found.py, both cases)."""
    case = item.case
    live, ended = live_and_ended(case.session)
    assert ended.end is not None
    span = ended.end - ended.start
    previous: RatedSession | None = None
    for cut in sorted(item.cuts):
        at = ended.start + span * cut / 1000
        r = rate(live, [case.tariff], options=RatingOptions(rounding=case.policy, as_of=at,
                                                            step_size=StepSizePolicy.EXACT))
        if previous is not None:
            for name in ("excl_vat", "incl_vat"):
                assert getattr(r.total_cost, name) >= getattr(previous.total_cost, name), (
                    f"{name} went down from {previous.total_cost} at {previous.end} to {r.total_cost} at {at}")
            assert r.invoice.amount_due >= previous.invoice.amount_due
        previous = r


# ------------------------------------------------------------------------------------------- the registry

splits = st.builds(Split, cases(), st.integers(0, 20))
reorders = st.builds(Reordered, cases(), st.integers(0, 2**32))
shifts = st.builds(Shifted, cases(dated=False, near_dst=False), st.integers(-8, 8).filter(bool))
monotone = st.builds(Monotone, cases(samples=True, caps_incl=True), st.lists(st.integers(0, 1000), min_size=2, max_size=6,
                                                               unique=True).map(tuple))

PROPERTIES: list[tuple[str, st.SearchStrategy[Any], Callable[[Any], None]]] = [
    ("invoice bills the rating", cases(), check_invoice_bills_the_rating),
    ("caps hold", cases(with_caps=True), check_caps_hold),
    ("CDR of the session's periods", cases(), check_cdr_of_the_session_rates_the_same),
    ("split where no boundary lies", splits, check_split_changes_nothing),
    ("CDR period cut in two", st.builds(Split, cases(near_dst=True), st.integers(0, 50)),
     check_cdr_split_changes_nothing),
    ("re-ordering equivalent inputs", reorders, check_reordering_changes_nothing),
    ("shift by whole weeks", shifts, check_week_shift_changes_nothing),
    ("interim at end = final", cases(), check_interim_at_end_is_final),
    ("interim never decreases", monotone, check_interim_never_decreases),
]

"""Hypothesis strategies: random OCPI tariffs and raw sessions / CDRs around daylight-saving nights.

Tariffs: one to four elements of distinct-type price components (ENERGY, TIME, PARKING_TIME, FLAT) with
every restriction kind (time of day incl. times inside the DST gap or repeated hour, dates, weekdays, kWh,
power, current, duration, idle duration), mixed VAT (none, 0 and positive rates), every step size, and
min/max caps with or without ``incl_vat``. No negative prices (they need an explicit opt-in).

Sessions: in Europe/Berlin, America/Los_Angeles and Australia/Lord_Howe (a 30-minute shift), half of them
starting within hours of a 2026 DST transition; total energy or cumulative meter samples (some with
reported power and current); an idle tail after charging ends. Times are whole seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from connector.models import Session, Tariff
from connector.money import RoundingPolicy

ZONES = ("Europe/Berlin", "America/Los_Angeles", "Australia/Lord_Howe")
# 2026 transitions (UTC instants): spring forward and fall back in each zone
TRANSITIONS: dict[str, tuple[datetime, ...]] = {
    "Europe/Berlin": (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), datetime(2026, 10, 25, 1, 0, tzinfo=UTC)),
    "America/Los_Angeles": (datetime(2026, 3, 8, 10, 0, tzinfo=UTC), datetime(2026, 11, 1, 9, 0, tzinfo=UTC)),
    # Lord Howe: 02:00 local -> 01:30 (first Sunday of April), 02:00 -> 02:30 (first Sunday of October)
    "Australia/Lord_Howe": (datetime(2026, 4, 4, 15, 0, tzinfo=UTC), datetime(2026, 10, 3, 15, 30, tzinfo=UTC)),
}
CURRENCIES = ("EUR", "USD", "AUD", "JPY", "KWD")
VATS = (None, Decimal("0"), Decimal("5"), Decimal("7.7"), Decimal("10"), Decimal("19"), Decimal("20"),
        Decimal("21"))
# clock times that fall in (or next to) a DST gap or repeated hour in one of the zones, and ordinary ones
CLOCK = ("00:00", "01:00", "01:30", "01:45", "02:00", "02:15", "02:30", "03:00", "06:00", "07:30", "09:00",
         "12:00", "17:00", "18:30", "21:00", "22:00", "23:00", "23:59")
DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
TYPES = ("ENERGY", "TIME", "PARKING_TIME", "FLAT")
STEPS = {"ENERGY": (0, 1, 100, 250, 1000), "TIME": (0, 1, 60, 300, 900), "PARKING_TIME": (0, 1, 60, 300, 900),
         "FLAT": (1,)}
POLICIES = tuple(RoundingPolicy)

price = st.decimals(min_value=Decimal("0"), max_value=Decimal("5"), places=4)


@dataclass(frozen=True)
class Case:
    """One rating input: the tariff, the subject and the rounding policy."""

    tariff: Tariff
    session: Session
    policy: RoundingPolicy
    notes: dict[str, Any] = field(default_factory=dict)


@st.composite
def restrictions(draw: st.DrawFn, around: date) -> dict[str, Any] | None:
    """Zero to three restriction kinds on one element (any kind OCPI defines, plus idle duration)."""
    kinds = draw(st.lists(st.sampled_from(("time", "date", "day", "kwh", "power", "current", "duration", "idle")),
                          max_size=3, unique=True))
    out: dict[str, Any] = {}
    for kind in kinds:
        if kind == "time":
            which = draw(st.sampled_from(("both", "both", "start_time", "end_time")))
            for key in ("start_time", "end_time"):
                if which in ("both", key):
                    out[key] = draw(st.sampled_from(CLOCK))
        elif kind == "date":
            first = around + timedelta(days=draw(st.integers(-3, 2)))
            out["start_date"] = first.isoformat()
            if draw(st.booleans()):
                out["end_date"] = (first + timedelta(days=draw(st.integers(1, 4)))).isoformat()
        elif kind == "day":
            out["day_of_week"] = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=5, unique=True))
        elif kind == "kwh":
            lo = draw(st.sampled_from((None, Decimal("0"), Decimal("2"), Decimal("5.5"), Decimal("20"))))
            hi = draw(st.sampled_from((None, Decimal("3"), Decimal("10"), Decimal("40"))))
            if lo is not None:
                out["min_kwh"] = lo
            if hi is not None and (lo is None or hi > lo):
                out["max_kwh"] = hi
        elif kind == "power":
            out["min_power" if draw(st.booleans()) else "max_power"] = draw(st.sampled_from(
                (Decimal("3.7"), Decimal("11"), Decimal("22"), Decimal("50"))))
        elif kind == "current":
            out["min_current" if draw(st.booleans()) else "max_current"] = draw(st.sampled_from(
                (Decimal("16"), Decimal("32"), Decimal("63"))))
        elif kind == "duration":
            out["min_duration" if draw(st.booleans()) else "max_duration"] = draw(st.sampled_from(
                (600, 1800, 3600, 7200)))
        elif kind == "idle":
            out["x_min_idle_duration"] = draw(st.sampled_from((0, 300, 900, 3600)))
    return out or None


@st.composite
def components(draw: st.DrawFn, vat_choice: st.SearchStrategy[Decimal | None]) -> list[dict[str, Any]]:
    kinds = draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=4, unique=True))
    return [{"type": k, "price": draw(price), "vat": draw(vat_choice), "step_size": draw(st.sampled_from(STEPS[k]))}
            for k in kinds]


@st.composite
def caps(draw: st.DrawFn, with_incl: bool | None = None) -> dict[str, Any]:
    """min_price / max_price, each with or without incl_vat; lo <= hi on both bases and incl >= excl."""
    kind = draw(st.sampled_from(("none", "min", "max", "both")))
    if with_incl is None:
        with_incl = draw(st.booleans())
    lo = draw(st.decimals(min_value=Decimal("0"), max_value=Decimal("8"), places=2))
    hi = lo + draw(st.decimals(min_value=Decimal("0"), max_value=Decimal("30"), places=2))
    rate = draw(st.sampled_from((Decimal("0"), Decimal("0.1"), Decimal("0.19"), Decimal("0.2"))))

    def price_of(excl: Decimal) -> dict[str, Any]:
        return {"excl_vat": excl, "incl_vat": (excl * (1 + rate)).quantize(Decimal("0.0001"))} if with_incl \
            else {"excl_vat": excl}

    out: dict[str, Any] = {}
    if kind in ("min", "both"):
        out["min_price"] = price_of(lo)
    if kind in ("max", "both"):
        out["max_price"] = price_of(hi)
    return out


@st.composite
def tariffs(draw: st.DrawFn, around: date, restricted: bool = True, with_caps: bool | None = None,
            dated: bool = True, caps_incl: bool | None = None) -> Tariff:
    """A tariff priced in one currency; the last element is unrestricted unless the draw says otherwise."""
    vat_pool = draw(st.lists(st.sampled_from(VATS), min_size=1, max_size=3))
    vat_choice = st.sampled_from(vat_pool)
    n = draw(st.integers(1, 4))
    elements = []
    for i in range(n):
        element: dict[str, Any] = {"price_components": draw(components(vat_choice))}
        last = i == n - 1
        if restricted and (not last or draw(st.integers(0, 4)) == 0):
            found = draw(restrictions(around))
            if found is not None and not dated:
                found = {k: v for k, v in found.items() if k not in ("start_date", "end_date")} or None
            if found:
                element["restrictions"] = found
        elements.append(element)
    data: dict[str, Any] = {"id": "PROP", "currency": draw(st.sampled_from(CURRENCIES)), "elements": elements}
    if with_caps is None:
        with_caps = draw(st.booleans())
    if with_caps:
        data.update(draw(caps(caps_incl)))
    return Tariff.model_validate(data)


@st.composite
def starts(draw: st.DrawFn, zone: str, near_dst: bool | None = None) -> datetime:
    """A whole-second start: within hours of a DST transition of ``zone`` (half the time), else any 2026 day."""
    if near_dst is None:
        near_dst = draw(st.booleans())
    if near_dst:
        pivot = draw(st.sampled_from(TRANSITIONS[zone]))
        return pivot + timedelta(seconds=draw(st.integers(-8 * 3600, 3 * 3600)))
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=draw(st.integers(0, 364 * 86400)))


@st.composite
def sessions(draw: st.DrawFn, zone: str | None = None, near_dst: bool | None = None,
             samples: bool | None = None) -> Session:
    """An ended raw session: charging for 1 min - 10 h, then idle for up to 3 h; energy as a total or as
    cumulative meter samples (optionally with reported power/current)."""
    tz = zone or draw(st.sampled_from(ZONES))
    start = draw(starts(tz, near_dst))
    charging = draw(st.integers(60, 10 * 3600))
    idle = draw(st.sampled_from((0, 0, 60, 900, 3600, 10800)))
    charging_end = start + timedelta(seconds=charging)
    end = charging_end + timedelta(seconds=idle)
    kwh = draw(st.decimals(min_value=Decimal("0"), max_value=Decimal("90"), places=3))
    doc: dict[str, Any] = {"id": "S", "start": start, "end": end, "time_zone": tz, "energy_kwh": kwh}
    if idle:
        doc["charging_ended_at"] = charging_end
    if samples is None:
        samples = draw(st.booleans())
    if samples:
        count = draw(st.integers(1, 6))
        offsets = sorted(draw(st.lists(st.integers(1, charging), min_size=count, max_size=count, unique=True)))
        parts = sorted(draw(st.lists(st.decimals(min_value=Decimal("0"), max_value=kwh, places=3),
                                     min_size=count, max_size=count)))
        with_power = draw(st.booleans())
        doc["meter_samples"] = [
            {"timestamp": start + timedelta(seconds=o), "energy_kwh": e,
             **({"power_kw": draw(st.sampled_from((Decimal("3.6"), Decimal("11"), Decimal("22"), Decimal("48")))),
                 "current_a": draw(st.sampled_from((Decimal("16"), Decimal("32"), Decimal("80"))))}
                if with_power else {})}
            for o, e in zip(offsets, parts, strict=True)]
    return Session.model_validate(doc)


def local_date(session: Session) -> date:
    return session.start.astimezone(ZoneInfo(session.time_zone)).date()


@st.composite
def cases(draw: st.DrawFn, with_caps: bool | None = None, restricted: bool = True, samples: bool | None = None,
          near_dst: bool | None = None, dated: bool = True, caps_incl: bool | None = None) -> Case:
    session = draw(sessions(near_dst=near_dst, samples=samples))
    tariff = draw(tariffs(local_date(session), restricted=restricted, with_caps=with_caps, dated=dated,
                          caps_incl=caps_incl))
    return Case(tariff, session, draw(st.sampled_from(POLICIES)))

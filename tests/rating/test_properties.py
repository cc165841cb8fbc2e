"""Property tests: totals are sums of lines, splitting a period changes nothing, caps hold, no floats."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.models import Cdr, Session, Tariff
from connector.money import round_ocpi
from connector.rating import RatingOptions, StepSizePolicy, rate
from connector.rating.result import RatedSession

T0 = datetime(2026, 1, 13, 8, 0, tzinfo=UTC)
VAT = st.sampled_from([None, Decimal("0"), Decimal("7"), Decimal("19"), Decimal("20")])
PRICE = st.decimals(min_value=Decimal("0"), max_value=Decimal("9.9999"), places=4)
STEP = st.sampled_from([0, 1, 60, 300, 900])
VOLUME = st.decimals(min_value=Decimal("0"), max_value=Decimal("80"), places=4)


@st.composite
def flat_tariffs(draw: st.DrawFn, with_caps: bool = False) -> Tariff:
    comps = [
        {"type": "ENERGY", "price": draw(PRICE), "vat": draw(VAT), "step_size": draw(st.sampled_from([1, 100, 500]))},
        {"type": "TIME", "price": draw(PRICE), "vat": draw(VAT), "step_size": draw(STEP)},
        {"type": "PARKING_TIME", "price": draw(PRICE), "vat": draw(VAT), "step_size": draw(STEP)},
        {"type": "FLAT", "price": draw(PRICE), "vat": draw(VAT), "step_size": 1},
    ]
    data: dict[str, object] = {"id": "P", "currency": "EUR", "elements": [{"price_components": comps}]}
    if with_caps:
        lo = draw(st.decimals(min_value=Decimal("0"), max_value=Decimal("5"), places=2))
        hi = lo + draw(st.decimals(min_value=Decimal("0"), max_value=Decimal("50"), places=2))
        data["min_price"] = {"excl_vat": lo, "incl_vat": lo * Decimal("1.2")}
        data["max_price"] = {"excl_vat": hi, "incl_vat": hi * Decimal("1.2")}
    return Tariff.model_validate(data)


@st.composite
def cdrs(draw: st.DrawFn) -> Cdr:
    n = draw(st.integers(min_value=1, max_value=6))
    periods, minute = [], 0
    for i in range(n):
        dims = [{"type": "ENERGY", "volume": draw(VOLUME)}]
        hours = draw(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("3"), places=4))
        dims.append({"type": "PARKING_TIME" if i == n - 1 and draw(st.booleans()) else "TIME", "volume": hours})
        periods.append({"start_date_time": (T0 + timedelta(minutes=minute)).isoformat(), "dimensions": dims})
        minute += int(hours * 60) + 1
    return Cdr.model_validate({"currency": "EUR", "start_date_time": T0.isoformat(),
                               "end_date_time": (T0 + timedelta(minutes=minute)).isoformat(),
                               "charging_periods": periods})


def _split(cdr: Cdr, index: int, fraction: Decimal) -> Cdr:
    """Cut period ``index`` in two at a fraction of its volumes (same dimensions, same restrictions)."""
    data = cdr.model_dump(mode="json")
    period = data["charging_periods"][index]
    nxt = (data["charging_periods"][index + 1]["start_date_time"] if index + 1 < len(data["charging_periods"])
           else data["end_date_time"])
    a, b = datetime.fromisoformat(period["start_date_time"]), datetime.fromisoformat(nxt)
    first = {"start_date_time": period["start_date_time"],
             "dimensions": [{"type": d["type"], "volume": str(Decimal(d["volume"]) * fraction)} for d in period["dimensions"]]}
    second = {"start_date_time": (a + (b - a) / 2).isoformat(),
              "dimensions": [{"type": d["type"], "volume": str(Decimal(d["volume"]) * (1 - fraction))}
                             for d in period["dimensions"]]}
    data["charging_periods"][index:index + 1] = [first, second]
    return Cdr.model_validate(data)


@settings(max_examples=150, deadline=None)
@given(cdr=cdrs(), tariff=flat_tariffs())
def test_totals_equal_sum_of_lines(cdr: Cdr, tariff: Tariff) -> None:
    r = rate(cdr, [tariff], options=RatingOptions(time_zone="UTC"))
    excl = sum((ln.cost_excl_vat for ln in r.lines), Decimal(0))
    incl = sum((ln.cost_incl_vat for ln in r.lines), Decimal(0))
    assert r.total_cost.excl_vat == round_ocpi(excl) and r.total_cost.incl_vat == round_ocpi(incl)
    for category, amount in r.subtotals.items():
        assert amount.excl_vat == round_ocpi(sum((ln.cost_excl_vat for ln in r.lines if ln.category == category),
                                                 Decimal(0)))
    inv = r.invoice
    assert inv.net_total == sum((ln.net for ln in inv.lines if ln.kind != "incentive"), Decimal(0))
    assert inv.tax_total == sum((ln.tax for ln in inv.lines), Decimal(0)) == sum((t.amount for t in inv.taxes), Decimal(0))
    assert inv.amount_due == sum((ln.net + ln.tax for ln in inv.lines), Decimal(0))


@settings(max_examples=150, deadline=None)
@given(cdr=cdrs(), tariff=flat_tariffs(), data=st.data())
def test_splitting_a_period_never_changes_the_price(cdr: Cdr, tariff: Tariff, data: st.DataObject) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(cdr.charging_periods) - 1))
    fraction = data.draw(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("0.99"), places=2))
    whole = rate(cdr, [tariff], options=RatingOptions(time_zone="UTC"))
    split = rate(_split(cdr, index, fraction), [tariff], options=RatingOptions(time_zone="UTC"))
    assert split.total_cost == whole.total_cost
    assert split.invoice.amount_due == whole.invoice.amount_due


@settings(max_examples=150, deadline=None)
@given(cdr=cdrs(), tariff=flat_tariffs(with_caps=True))
def test_caps_hold(cdr: Cdr, tariff: Tariff) -> None:
    r = rate(cdr, [tariff], options=RatingOptions(time_zone="UTC"))
    assert tariff.min_price and tariff.max_price
    assert tariff.min_price.excl_vat <= r.total_cost.excl_vat <= tariff.max_price.excl_vat
    assert tariff.min_price.incl_vat is not None and tariff.max_price.incl_vat is not None
    assert round_ocpi(tariff.min_price.incl_vat) <= r.total_cost.incl_vat <= round_ocpi(tariff.max_price.incl_vat)


def _no_float(value: object, path: str = "result") -> None:
    assert not isinstance(value, float), f"float at {path}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            _no_float(getattr(value, f.name), f"{path}.{f.name}")
    elif isinstance(value, dict):
        for k, v in value.items():
            _no_float(v, f"{path}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _no_float(v, f"{path}[{i}]")


@settings(max_examples=60, deadline=None)
@given(cdr=cdrs(), tariff=flat_tariffs(with_caps=True))
def test_no_float_anywhere_in_money_paths(cdr: Cdr, tariff: Tariff) -> None:
    r: RatedSession = rate(cdr, [tariff], options=RatingOptions(time_zone="UTC"))
    _no_float(r)
    _no_float(r.to_dict())


@settings(max_examples=100, deadline=None)
@given(
    minutes=st.integers(min_value=1, max_value=600),
    idle=st.integers(min_value=0, max_value=120),
    kwh=VOLUME,
    cut=st.floats(min_value=0, max_value=1),
    tariff=flat_tariffs(),
)
def test_interim_is_monotone_and_ends_at_the_final_bill(
    minutes: int, idle: int, kwh: Decimal, cut: float, tariff: Tariff
) -> None:
    end = T0 + timedelta(minutes=minutes + idle)
    s = Session(id="s", start=T0, end=end, energy_kwh=kwh, charging_ended_at=T0 + timedelta(minutes=minutes))
    final = rate(s, [tariff])
    at_end = rate(s, [tariff], options=RatingOptions(as_of=end))
    assert at_end.total_cost == final.total_cost and at_end.invoice.amount_due == final.invoice.amount_due
    # Without step_size rounding, the running cost never exceeds the final cost. (With OCPI step_size it
    # can: an interim TIME rounded up may exceed the final, where only parking is rounded — §1.5 rule 4.)
    exact = RatingOptions(step_size=StepSizePolicy.EXACT)
    interim = rate(s, [tariff], options=RatingOptions(as_of=T0 + (end - T0) * cut, step_size=StepSizePolicy.EXACT))
    assert interim.total_cost.excl_vat <= rate(s, [tariff], options=exact).total_cost.excl_vat

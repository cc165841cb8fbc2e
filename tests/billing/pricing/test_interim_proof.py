"""Proof of "the final bill equals the last interim figure plus what came after" (docs/billing.md, rules
R1-R5) for 1,000 seeded random sessions: random TOU tariffs, kWh thresholds, idle/parking, FLAT fees,
step_size, min/max caps, VAT or none, three time zones, and for ~30 % a new tariff version effective mid-session
under apply_from_effective_time; the interim is taken on the live (ongoing) session."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

from connector.models import Session, Tariff
from connector.models.energy_profile import hours_between
from connector.money import round_ocpi
from connector.rating import PricedLine, RatedSession, RatingOptions, TariffSwitchPolicy, rate, select_tariff

N = 1000
ZONES = ("UTC", "Europe/Berlin", "America/New_York")
TOLERANCE = Decimal("1e-20")  # Decimal's 28-digit working precision on hour fractions; far below 0.0001


def _price(rng: random.Random, lo: int, hi: int) -> str:
    return str(Decimal(rng.randint(lo, hi)) / 10000)


def random_tariff(rng: random.Random, i: int) -> Tariff:
    vat = rng.choice([None, "19", "7"])
    step_e = rng.choice([1, 1, 100, 500, 1000])
    step_t = rng.choice([1, 1, 60, 300, 900])

    def comp(kind: str, lo: int, hi: int, step: int) -> dict[str, Any]:
        out: dict[str, Any] = {"type": kind, "price": _price(rng, lo, hi), "step_size": step}
        if vat is not None:
            out["vat"] = vat
        return out

    elements: list[dict[str, Any]] = []
    for _ in range(rng.randint(0, 2)):  # time-of-use windows
        h1 = rng.randint(0, 23)
        h2 = (h1 + rng.randint(1, 8)) % 24
        comps = [comp("ENERGY", 2000, 7000, step_e)]
        if rng.random() < 0.5:
            comps.append(comp("TIME", 5000, 40000, step_t))
        elements.append({"price_components": comps,
                         "restrictions": {"start_time": f"{h1:02d}:00", "end_time": f"{h2:02d}:{rng.choice(['00', '30'])}"}})
    if rng.random() < 0.4:  # first kWh cheaper (a kWh threshold inside the session)
        elements.append({"price_components": [comp("ENERGY", 500, 2000, step_e)],
                         "restrictions": {"max_kwh": str(rng.randint(1, 20))}})
    fallback = [comp("ENERGY", 1000, 6000, step_e)]
    if rng.random() < 0.6:
        fallback.append(comp("TIME", 0, 30000, step_t))
    if rng.random() < 0.6:
        fallback.append(comp("PARKING_TIME", 10000, 120000, step_t))
    if rng.random() < 0.4:
        fallback.append(comp("FLAT", 1000, 20000, 0))
    elements.append({"price_components": fallback})
    doc: dict[str, Any] = {"id": f"T{i}", "currency": "EUR", "elements": elements}
    if rng.random() < 0.25:
        doc["min_price"] = {"excl_vat": _price(rng, 10000, 40000)}
    if rng.random() < 0.25:
        doc["max_price"] = {"excl_vat": _price(rng, 30000, 200000)}
    return Tariff.model_validate(doc)


def random_session(rng: random.Random, i: int) -> tuple[Session, Session, datetime, Decimal]:
    """(final session, the same session live at ``as_of``, as_of, metered kWh at as_of)."""
    tz = rng.choice(ZONES)
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 60 * 86400))
    every = timedelta(minutes=rng.randint(1, 15))
    charge_end = start + every * rng.randint(2, 30)
    idle = timedelta(minutes=rng.randint(1, 120)) if rng.random() < 0.5 else timedelta(0)
    samples: list[tuple[datetime, Decimal]] = []
    at, kwh = start, Decimal(0)
    while at < charge_end:
        at += every
        kwh += Decimal(rng.randint(0, 4000)) / 1000
        samples.append((at, kwh))
    end = charge_end + idle
    if idle and rng.random() < 0.5:
        as_of = charge_end + timedelta(seconds=rng.randint(1, int(idle.total_seconds()) - 1 or 1))
        as_of = min(as_of, end - timedelta(seconds=1)) if end - charge_end > timedelta(seconds=1) else charge_end
    else:
        as_of = rng.choice([s[0] for s in samples])
        if as_of >= end:  # no idle: the last sample is the end; the interim is one reading earlier
            as_of = samples[-2][0]
    metered = max((k for t, k in samples if t <= as_of), default=Decimal(0))
    common = {"id": f"S{i}", "time_zone": tz, "start": start, "tariff_id": f"T{i}", "currency": "EUR"}
    final = Session(**common, end=end, energy_kwh=kwh, charging_ended_at=charge_end if idle else None,
                    meter_samples=[[t.isoformat(), str(k)] for t, k in samples])
    live = Session(**common, end=None, energy_kwh=metered,
                   charging_ended_at=charge_end if idle and charge_end <= as_of else None,
                   meter_samples=[[t.isoformat(), str(k)] for t, k in samples if t <= as_of])
    return final, live, as_of, metered


def _by_period(lines: list[PricedLine]) -> dict[int, list[PricedLine]]:
    out: dict[int, list[PricedLine]] = {}
    for ln in lines:
        out.setdefault(ln.period_index, []).append(ln)
    return out


def _key(ln: PricedLine) -> tuple[Any, ...]:
    return (ln.dimension, ln.element_index, ln.unit_price, ln.vat, ln.start)


def _uncapped(r: RatedSession) -> Decimal:
    return sum((ln.cost_excl_vat for ln in r.lines), Decimal(0))


def _step_extra(r: RatedSession) -> Decimal:
    return sum((ln.unit_price * (ln.billed_volume - ln.volume) for ln in r.lines if ln.dimension != "FLAT"),
               Decimal(0))


def _clamp(value: Decimal, tariff: Tariff) -> Decimal:
    if tariff.min_price is not None and value < tariff.min_price.excl_vat:
        value = tariff.min_price.excl_vat
    if tariff.max_price is not None and value > tariff.max_price.excl_vat:
        value = tariff.max_price.excl_vat
    return value


def check_one(tariffs: list[Tariff], final_s: Session, live: Session, as_of: datetime, metered: Decimal,
              interim_tariffs: list[Tariff] | None = None,
              switch: TariffSwitchPolicy = TariffSwitchPolicy.PRICE_LOCK_AT_START) -> None:
    opts = RatingOptions(tariff_switch=switch)
    interim = rate(live, interim_tariffs or tariffs, options=replace(opts, as_of=as_of))
    final = rate(final_s, tariffs, options=opts)
    tariff = select_tariff(tariffs, final_s.start)  # its min/max bound the whole session
    # R1: the live session's interim is the final session seen at as_of (same call, same inputs)
    assert interim.to_dict() == rate(final_s, tariffs, options=replace(opts, as_of=as_of)).to_dict()
    assert interim.final is False and interim.end == as_of and final.final is True
    # R2: measured quantities up to as_of
    assert interim.total_energy == round_ocpi(metered)
    assert interim.total_time == round_ocpi(hours_between(live.start, as_of))
    # R3: the final's periods before as_of are the interim's; the one spanning as_of continues it
    fp = _by_period(final.lines)
    for ln in interim.lines:
        match = {_key(f): f for f in fp[ln.period_index]}[_key(ln)]  # same dimension, element, price, VAT, start
        if ln.end < as_of:
            assert (ln.end, ln.volume) == (match.end, match.volume)
        else:
            assert ln.end == as_of <= match.end and ln.volume <= match.volume
    # R4: final = interim + what came after (priced at the same unit prices) + step re-rounding, capped once
    with localcontext() as ctx:
        ctx.prec = 60
        matched = {(ln.period_index, _key(ln)): ln.volume for ln in interim.lines}
        after = sum((ln.unit_price * (ln.volume - matched.get((ln.period_index, _key(ln)), Decimal(0)))
                     for ln in final.lines if ln.dimension != "FLAT"), Decimal(0))
        flat_after = sum((ln.cost_excl_vat for ln in final.lines
                          if ln.dimension == "FLAT" and (ln.period_index, _key(ln)) not in matched), Decimal(0))
        expected = _uncapped(interim) + after + flat_after + _step_extra(final) - _step_extra(interim)
    assert abs(_uncapped(final) - expected) <= TOLERANCE, (final_s.id, _uncapped(final), expected)
    # exact, except that a sum within 1e-20 of a half-way point may round either way (28-digit hours)
    capped = {round_ocpi(_clamp(expected - TOLERANCE, tariff)), round_ocpi(_clamp(expected + TOLERANCE, tariff))}
    assert final.total_cost.excl_vat in capped
    expected = _clamp(expected, tariff)
    # R5: costs never go down (no adjustments here): the final is at least the last interim
    assert final.total_cost.excl_vat >= interim.total_cost.excl_vat
    # invoice (minor units): each line is rounded on its own (and a binding cap is its own line), so the
    # net may only move against the exact order by the half-unit rounding of the lines of both invoices
    slack = Decimal("0.005") * (len(final.invoice.lines) + len(interim.invoice.lines))
    assert final.invoice.net_total >= interim.invoice.net_total - slack
    assert abs(final.invoice.net_total - expected) <= Decimal("0.005") * len(final.invoice.lines) + TOLERANCE


def test_final_equals_last_interim_plus_what_came_after_for_1000_random_sessions():
    rng = random.Random(20260113)
    kinds = {"step": 0, "capped": 0, "idle_interim": 0, "tou": 0, "switch": 0}
    for i in range(N):
        tariff = random_tariff(rng, i)
        final_s, live, as_of, metered = random_session(rng, i)
        tariffs, switch = [tariff], TariffSwitchPolicy.PRICE_LOCK_AT_START
        if rng.random() < 0.3:  # a new version effective while the session runs, split policy
            assert final_s.end is not None
            span = int((final_s.end - final_s.start).total_seconds())
            effective = final_s.start + timedelta(seconds=rng.randint(1, max(1, span - 1)))
            newer = random_tariff(rng, i).model_copy(update={"start_date_time": effective})
            tariffs = [newer, tariff.model_copy(update={"end_date_time": effective})]
            switch = TariffSwitchPolicy.APPLY_FROM_EFFECTIVE_TIME
            kinds["switch"] += 1
        check_one(tariffs, final_s, live, as_of, metered, switch=switch)
        kinds["step"] += any(c.step_size > 1 for e in tariff.elements for c in e.price_components)
        kinds["capped"] += tariff.min_price is not None or tariff.max_price is not None
        kinds["idle_interim"] += live.charging_ended_at is not None
        kinds["tou"] += any(e.restrictions and e.restrictions.start_time for e in tariff.elements)
    # the sample really covers the hard cases
    assert all(v >= 50 for v in kinds.values()), kinds


def test_the_proof_catches_a_wrong_interim():
    """An interim priced differently from the final (here: energy 0.01 EUR/kWh dearer) fails the proof."""
    rng = random.Random(7)
    tariff = random_tariff(rng, 0)
    final_s, live, as_of, metered = random_session(rng, 0)
    check_one([tariff], final_s, live, as_of, metered)  # the honest interim passes
    doc = tariff.model_dump(mode="json", exclude_none=True)
    for element in doc["elements"]:
        for comp in element["price_components"]:
            if comp["type"] == "ENERGY":
                comp["price"] = str(Decimal(comp["price"]) + Decimal("0.01"))
    dearer = Tariff.model_validate(doc)
    try:
        check_one([tariff], final_s, live, as_of, metered, interim_tariffs=[dearer])
    except (AssertionError, KeyError):
        return
    raise AssertionError("a wrong interim passed the proof")

"""Minimal cases the property suite found in the rating core, each fixed and pinned here with exact money."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from connector.models import Session, Tariff
from connector.rating import RatingOptions, StepSizePolicy, rate

T0 = datetime(2026, 1, 13, 9, 30, tzinfo=UTC)


def _tariff(*elements: dict) -> Tariff:
    return Tariff.model_validate({"id": "F", "currency": "EUR", "elements": list(elements)})


def test_interim_after_charging_ended_spreads_energy_like_the_final_bill() -> None:
    # 10 kWh charged 09:30-10:00, idle until 11:00; energy costs 0.30 from 10:00 to 11:00, else 0.10.
    tariff = _tariff(
        {"price_components": [{"type": "ENERGY", "price": "0.30"}],
         "restrictions": {"start_time": "10:00", "end_time": "11:00"}},
        {"price_components": [{"type": "ENERGY", "price": "0.10"}]})
    doc = {"id": "s", "start": T0, "charging_ended_at": T0 + timedelta(minutes=30), "energy_kwh": "10",
           "time_zone": "UTC"}
    end = T0 + timedelta(minutes=90)
    final = rate(Session.model_validate({**doc, "end": end}), tariff)
    interim = rate(Session.model_validate(doc), tariff, options=RatingOptions(as_of=end))
    # every kWh was delivered before 10:00: 10 x 0.10 (the live session spread it up to as_of: 2.33)
    assert final.total_cost.excl_vat == interim.total_cost.excl_vat == Decimal("1.0000")


def test_a_kwh_threshold_cut_starts_at_the_threshold() -> None:
    # 4.001 kWh in one minute; a session fee applies from 2 kWh on. The cut at 2 kWh was truncated to the
    # microsecond before the threshold, so the min_kwh element never matched and the fee was never billed.
    tariff = _tariff(
        {"price_components": [{"type": "FLAT", "price": "0.50"}], "restrictions": {"min_kwh": "2"}},
        {"price_components": [{"type": "ENERGY", "price": "0"}]})
    session = Session.model_validate({"id": "s", "start": T0, "end": T0 + timedelta(minutes=1),
                                      "energy_kwh": "4.001"})
    assert rate(session, tariff).total_cost.excl_vat == Decimal("0.5000")


def test_interim_at_the_start_knows_the_power() -> None:
    # A fee for sessions drawing >= 3.7 kW; the meter shows nothing drawn. At as_of = start the one
    # (zero-length) period had no power, so the power limit matched and the fee showed, then vanished.
    tariff = _tariff(
        {"price_components": [{"type": "FLAT", "price": "1.00"}], "restrictions": {"min_power": "3.7"}},
        {"price_components": [{"type": "ENERGY", "price": "0"}]})
    live = Session.model_validate({"id": "s", "start": T0, "meter_samples": [[T0 + timedelta(seconds=1), "0"]]})
    exact = StepSizePolicy.EXACT
    costs = [rate(live, tariff, options=RatingOptions(as_of=T0 + timedelta(seconds=s), step_size=exact))
             .total_cost.excl_vat for s in (0, 1, 30)]
    assert costs == [Decimal("0.0000")] * 3


def test_a_min_price_without_incl_vat_rounds_its_exact_half_way_point_up() -> None:
    # Found by the long run: FLAT 0.01 + TIME 0.0085/h for one minute, all at 7.7 %, min_price 0.45 excl.
    # The incl side is 0.45 x 1.077 = 0.48465 exactly; the 28-digit sums of 1/60 h made it 0.48464999...
    tariff = Tariff.model_validate({"id": "F", "currency": "EUR", "min_price": {"excl_vat": "0.45"}, "elements": [
        {"price_components": [{"type": "FLAT", "price": "0.01", "vat": "7.7", "step_size": 1},
                              {"type": "TIME", "price": "0.0085", "vat": "7.7", "step_size": 0}]}]})
    session = Session.model_validate({"id": "s", "start": T0, "end": T0 + timedelta(minutes=1), "energy_kwh": "0"})
    total = rate(session, tariff).total_cost
    assert (total.excl_vat, total.incl_vat) == (Decimal("0.4500"), Decimal("0.4847"))

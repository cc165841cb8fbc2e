"""Raw sessions: the engine cuts periods itself. DST, midnight wrap, tariff change mid-session."""

from __future__ import annotations

from decimal import Decimal

from connector.models import Session, Tariff
from connector.rating import RatingOptions, TariffSwitchPolicy, rate

D = Decimal


def tou_time_tariff(window: tuple[str, str], inside: str, outside: str, currency: str = "EUR") -> Tariff:
    return Tariff.model_validate({
        "id": "tou", "currency": currency,
        "elements": [
            {"price_components": [{"type": "TIME", "price": inside, "step_size": 1}],
             "restrictions": {"start_time": window[0], "end_time": window[1]}},
            {"price_components": [{"type": "TIME", "price": outside, "step_size": 1}]},
        ],
    })


def test_berlin_spring_forward_counts_real_hours() -> None:
    """23:00 CET → 06:00 CEST is 6 real hours: 1 h before midnight at 2.00, 5 h (00:00-06:00 local,
    one hour skipped) at 1.00 → 7.00. Local wall-clock arithmetic would say 8.00."""
    session = Session(id="s", time_zone="Europe/Berlin", start="2026-03-28T22:00:00Z", end="2026-03-29T04:00:00Z")
    r = rate(session, tou_time_tariff(("00:00", "06:00"), "1.00", "2.00"))
    assert r.total_cost.excl_vat == D("7.0000")
    assert r.total_time == D("6.0000")


def test_los_angeles_fall_back_repeated_hour_priced_twice() -> None:
    """00:30 PDT → 03:00 PST (3.5 h). 01:00-02:00 local happens twice and is in the window both times."""
    session = Session(id="s", time_zone="America/Los_Angeles", start="2026-11-01T07:30:00Z",
                      end="2026-11-01T11:00:00Z")
    r = rate(session, tou_time_tariff(("01:00", "02:00"), "5.00", "1.00", "USD"))
    assert r.total_cost.excl_vat == D("11.5000")  # 0.5 + 2 × 5.00 + 1.0


def test_window_wrapping_past_midnight() -> None:
    session = Session(id="s", time_zone="UTC", start="2026-01-13T21:00:00Z", end="2026-01-14T07:00:00Z")
    r = rate(session, tou_time_tariff(("22:00", "06:00"), "1.00", "3.00"))
    # 21-22 at 3.00, 22-06 at 1.00 (8 h), 06-07 at 3.00
    assert r.total_cost.excl_vat == D("14.0000")


def test_end_time_midnight_means_end_of_day() -> None:
    session = Session(id="s", time_zone="UTC", start="2026-01-13T19:00:00Z", end="2026-01-14T01:00:00Z")
    r = rate(session, tou_time_tariff(("20:00", "00:00"), "2.00", "1.00"))
    assert r.total_cost.excl_vat == D("10.0000")  # 1 + 4 × 2 + 1


def test_energy_split_at_time_of_use_boundary_uniformly() -> None:
    tariff = Tariff.model_validate({"id": "e", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.50", "vat": 19, "step_size": 1}],
         "restrictions": {"start_time": "17:00", "end_time": "21:00"}},
        {"price_components": [{"type": "ENERGY", "price": "0.30", "vat": 19, "step_size": 1}]}]})
    session = Session(id="s", time_zone="Europe/Berlin", start="2026-01-13T15:00:00Z",
                      end="2026-01-13T17:00:00Z", energy_kwh="30")  # 16:00-18:00 local
    r = rate(session, tariff)
    assert [(ln.volume, ln.unit_price) for ln in r.lines] == [(D(15), D("0.30")), (D(15), D("0.50"))]
    assert (r.total_cost.excl_vat, r.total_cost.incl_vat) == (D("12.0000"), D("14.2800"))
    assert (r.invoice.net_total, r.invoice.tax_total, r.invoice.amount_due) == (D("12.00"), D("2.28"), D("14.28"))


def test_meter_samples_drive_energy_split_and_power_restriction() -> None:
    tariff = Tariff.model_validate({"id": "p", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.60", "step_size": 1}], "restrictions": {"min_power": 50}},
        {"price_components": [{"type": "ENERGY", "price": "0.40", "step_size": 1}]}]})
    session = Session(id="s", start="2026-01-13T10:00:00Z", end="2026-01-13T11:00:00Z", meter_samples=[
        ["2026-01-13T10:00:00Z", "0", "100"], ["2026-01-13T10:15:00Z", "25", "20"],
        ["2026-01-13T11:00:00Z", "40"]])
    r = rate(session, tariff)
    # 25 kWh at 100 kW (>= 50 → 0.60) then 15 kWh at 20 kW (0.40)
    assert r.total_energy == D("40.0000")
    assert r.total_cost.excl_vat == D("21.0000")


def _versions() -> list[Tariff]:
    base = {"currency": "EUR", "id": "T1"}
    v1 = Tariff.model_validate({**base, "end_date_time": "2026-01-13T12:00:00Z", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1},
                              {"type": "FLAT", "price": "1.00", "step_size": 1}]}]})
    v2 = Tariff.model_validate({**base, "start_date_time": "2026-01-13T12:00:00Z", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.40", "step_size": 1},
                              {"type": "FLAT", "price": "2.00", "step_size": 1}]}]})
    return [v1, v2]


def test_tariff_announced_mid_session_price_lock_at_start() -> None:
    session = Session(id="s", start="2026-01-13T11:00:00Z", end="2026-01-13T13:00:00Z", energy_kwh="20")
    r = rate(session, _versions())
    assert r.total_cost.excl_vat == D("7.0000")  # 1.00 + 20 × 0.30, the tariff valid at start


def test_tariff_announced_mid_session_apply_from_effective_time() -> None:
    session = Session(id="s", start="2026-01-13T11:00:00Z", end="2026-01-13T13:00:00Z", energy_kwh="20")
    r = rate(session, _versions(), options=RatingOptions(tariff_switch=TariffSwitchPolicy.APPLY_FROM_EFFECTIVE_TIME))
    assert r.total_cost.excl_vat == D("8.0000")  # FLAT once (1.00) + 10 × 0.30 + 10 × 0.40


def test_session_starting_after_switch_uses_new_version() -> None:
    session = Session(id="s", start="2026-01-13T12:00:00Z", end="2026-01-13T13:00:00Z", energy_kwh="10")
    assert rate(session, _versions()).total_cost.excl_vat == D("6.0000")


def test_time_step_rounding_is_exact_in_seconds() -> None:
    """7 minutes in 60 s steps is 7 steps (hours as Decimal carry 28-digit remainders)."""
    from decimal import Decimal

    from connector.models import Session, Tariff
    from connector.rating import rate

    tariff = Tariff.model_validate({"id": "P", "currency": "EUR", "elements": [
        {"price_components": [{"type": "TIME", "price": "6.00", "step_size": 60}]}]})
    for minutes, expected in ((7, "0.7000"), (61, "6.1000"), (239, "23.9000")):
        end = f"2026-03-02T{8 + minutes // 60:02d}:{minutes % 60:02d}:00Z"
        s = Session.model_validate({"id": "s", "start": "2026-03-02T08:00:00Z", "end": end, "energy_kwh": "0"})
        assert rate(s, tariff).total_cost.excl_vat == Decimal(expected)
    s = Session.model_validate({"id": "s", "start": "2026-03-02T08:00:30Z", "end": "2026-03-02T08:07:00Z",
                                "energy_kwh": "0"})
    assert rate(s, tariff).total_cost.excl_vat == Decimal("0.7000")  # 6.5 min → 7 steps

"""Inputs no charger sends are refused with the field named, before any money is computed: energy in
zero time, negative or absurd quantities and prices, sessions of centuries, too many periods."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from connector.models import Cdr, Session, Tariff
from connector.rating import RatingError, RatingLimits, RatingOptions, rate
from connector.validation import field_errors

D = Decimal


def tou_tariff(**extra: object) -> Tariff:
    return Tariff.model_validate({"id": "TOU", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.20", "vat": "19", "step_size": 1}],
         "restrictions": {"start_time": "22:00", "end_time": "06:00"}},
        {"price_components": [{"type": "ENERGY", "price": "0.40", "vat": "19", "step_size": 1}]}], **extra})


def session(**kw: object) -> dict[str, Any]:
    data: dict[str, Any] = {"id": "s", "start": "2026-01-13T10:00:00Z", "end": "2026-01-13T11:00:00Z",
                            "energy_kwh": "5"}
    data.update(kw)
    return data


def refused(model: type[Session] | type[Tariff] | type[Cdr], data: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return field_errors(caught.value)


# --- zero length ---

def test_energy_in_a_session_of_zero_length_is_refused() -> None:
    errors = refused(Session, session(end="2026-01-13T10:00:00Z"))  # was rated as 0 kWh
    assert errors[0]["field"] == "energy_kwh" and "zero length" in errors[0]["reason"]
    samples = [["2026-01-13T10:00:00Z", "5"]]
    assert refused(Session, session(end="2026-01-13T10:00:00Z", energy_kwh=None, meter_samples=samples))[0][
        "field"] == "energy_kwh"
    # no energy in no time is a valid (free) session
    empty = Session.model_validate(session(end="2026-01-13T10:00:00Z", energy_kwh="0"))
    assert rate(empty, tou_tariff()).total_cost.excl_vat == D("0")


def test_energy_with_charging_ended_at_start_is_refused() -> None:
    errors = refused(Session, session(charging_ended_at="2026-01-13T10:00:00Z"))  # energy was dropped
    assert errors[0]["field"] == "charging_ended_at" and "5" in errors[0]["reason"]
    # with meter samples the energy is where the samples put it
    s = Session.model_validate(session(charging_ended_at="2026-01-13T10:00:00Z", energy_kwh=None,
                                       meter_samples=[["2026-01-13T10:30:00Z", "5"]]))
    assert rate(s, tou_tariff()).total_energy == D("5.0000")


# --- values no charger sends ---

@pytest.mark.parametrize(("data", "field"), [
    (session(energy_kwh="-5"), "energy_kwh"),
    (session(energy_kwh="1e28"), "energy_kwh"),
    (session(energy_kwh=None, meter_samples=[["2026-01-13T10:30:00Z", "1e28"]]), "meter_samples[0].energy_kwh"),
    (session(energy_kwh=None, meter_samples=[["2026-01-13T10:30:00Z", "-1"]]), "meter_samples[0].energy_kwh"),
])
def test_session_energy_out_of_bounds_is_refused(data: dict[str, Any], field: str) -> None:
    errors = refused(Session, data)
    assert errors[0]["field"] == field
    assert "between 0 and 1000000" in errors[0]["reason"]


def test_prices_out_of_bounds_are_refused() -> None:
    data = tou_tariff().model_dump(mode="json")
    data["elements"][1]["price_components"][0]["price"] = "1e25"  # was a decimal error and a 500
    errors = refused(Tariff, data)
    assert errors[0]["field"] == "elements[1].price_components[0].price"
    data["elements"][1]["price_components"][0]["price"] = "-0.10"
    errors = refused(Tariff, data)
    assert errors[0]["field"] == "elements[1].price_components[0].price"
    assert "x_negative_prices" in errors[0]["reason"]
    data["max_price"] = {"excl_vat": "1e25"}
    assert any(e["field"] == "max_price.excl_vat" for e in refused(Tariff, data))


def test_negative_prices_only_where_the_tariff_opts_in() -> None:
    dynamic = tou_tariff(x_negative_prices=True).model_dump(mode="json")
    dynamic["elements"][0]["price_components"][0]["price"] = "-0.05"  # night: paid to charge
    tariff = Tariff.model_validate(dynamic)
    night = Session.model_validate(session(start="2026-01-13T23:00:00Z", end="2026-01-14T00:00:00Z"))
    r = rate(night, tariff)
    assert r.total_cost.excl_vat == D("-0.2500") and r.invoice.amount_due == D("-0.30")


def test_cdr_volumes_out_of_bounds_are_refused() -> None:
    base = {"currency": "EUR", "start_date_time": "2026-01-13T10:00:00Z", "end_date_time": "2026-01-13T11:00:00Z"}
    for volume in ("-1", "1e28"):
        data = {**base, "charging_periods": [{"start_date_time": "2026-01-13T10:00:00Z",
                                              "dimensions": [{"type": "ENERGY", "volume": volume}]}]}
        assert refused(Cdr, data)[0]["field"] == "charging_periods[0].dimensions[0].volume"


# --- sessions of centuries ---

def test_a_session_of_centuries_is_refused_before_rating() -> None:
    ancient = Session.model_validate(session(start="1000-01-01T00:00:00Z"))  # a reset clock
    with pytest.raises(RatingError) as caught:
        rate(ancient, tou_tariff())
    assert caught.value.field == "end" and "62 days" in caught.value.reason
    # the bound is a rating option (faces read it from the configuration)
    month = Session.model_validate(session(start="2025-12-01T10:00:00Z"))
    assert rate(month, tou_tariff()).final
    with pytest.raises(RatingError, match="31 days"):
        rate(month, tou_tariff(), options=RatingOptions(limits=RatingLimits(max_session_days=31)))


def test_a_cdr_of_centuries_is_refused() -> None:
    c = Cdr.model_validate({"currency": "EUR", "start_date_time": "1970-01-01T00:00:00Z",
                            "end_date_time": "2026-01-13T11:00:00Z", "charging_periods": [
                                {"start_date_time": "1970-01-01T00:00:00Z",
                                 "dimensions": [{"type": "ENERGY", "volume": "5"}]}]})
    with pytest.raises(RatingError) as caught:
        rate(c, tou_tariff())
    assert caught.value.field == "end_date_time"


def test_too_many_periods_are_refused_before_pricing() -> None:
    s = Session.model_validate(session(start="2026-01-01T10:00:00Z"))  # 12 days: 12 × 4 cuts
    with pytest.raises(RatingError) as caught:
        rate(s, tou_tariff(), options=RatingOptions(limits=RatingLimits(max_periods=20)))
    assert caught.value.field == "end" and "20 periods" in caught.value.reason
    assert len(rate(s, tou_tariff()).lines) > 20


def test_an_interim_long_after_the_last_reading_is_bounded_by_periods() -> None:
    # the charger reported a start and nothing since; an interim decades later with a time-of-use tariff
    ongoing = Session.model_validate(session(start="1970-01-01T00:00:00Z", end=None))
    with pytest.raises(RatingError) as caught:
        rate(ongoing, tou_tariff(), options=RatingOptions(as_of=ongoing.start + timedelta(days=20000)))
    assert caught.value.field == "as_of" and "50000 periods" in caught.value.reason
    # a reset clock with readings decades apart is a session of centuries
    reset = Session.model_validate(session(start="1970-01-01T00:00:00Z", end=None, energy_kwh=None,
                                           meter_samples=[["2026-01-13T10:30:00Z", "5"]]))
    with pytest.raises(RatingError, match="62 days"):
        rate(reset, tou_tariff(), options=RatingOptions(as_of=reset.meter_samples[0].timestamp))

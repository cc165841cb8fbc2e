"""A CDR's charging periods may name their tariff (OCPI ``ChargingPeriod.tariff_id``): each period is
priced with the tariff it names; the CDR's currency must be the tariffs' currency."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connector.models import Cdr, Tariff
from connector.rating import RatingError, rate

D = Decimal


def energy_tariff(tariff_id: str, price: str, currency: str = "EUR", **extra: object) -> Tariff:
    return Tariff.model_validate({"id": tariff_id, "currency": currency, "elements": [{"price_components": [
        {"type": "ENERGY", "price": price, "vat": "10", "step_size": 1}]}], **extra})


def cdr(periods: list[tuple[str, str, str | None]], currency: str = "EUR") -> Cdr:
    return Cdr.model_validate({
        "id": "C", "currency": currency, "start_date_time": "2026-01-13T10:00:00Z",
        "end_date_time": "2026-01-13T12:00:00Z",
        "charging_periods": [
            {"start_date_time": start, "dimensions": [{"type": "ENERGY", "volume": kwh}],
             **({"tariff_id": tid} if tid else {})}
            for start, kwh, tid in periods]})


def test_each_period_is_priced_with_its_own_tariff() -> None:
    day, night = energy_tariff("DAY", "0.40"), energy_tariff("NIGHT", "0.20")
    c = cdr([("2026-01-13T10:00:00Z", "10", "DAY"), ("2026-01-13T11:00:00Z", "5", "NIGHT")])
    r = rate(c, [day, night])
    assert [(ln.volume, ln.unit_price) for ln in r.lines] == [(D(10), D("0.40")), (D(5), D("0.20"))]
    assert r.total_cost.excl_vat == D("5.0000")  # was 6.00: the first tariff priced both
    assert r.invoice.amount_due == D("5.50")
    # the tariffs embedded in the CDR are used the same way
    embedded = Cdr.model_validate({**c.model_dump(mode="json"), "tariffs": [day.model_dump(mode="json"),
                                                                          night.model_dump(mode="json")]})
    assert rate(embedded).total_cost.excl_vat == D("5.0000")


def test_periods_without_a_tariff_id_use_the_tariff_valid_at_start() -> None:
    day, night = energy_tariff("DAY", "0.40"), energy_tariff("NIGHT", "0.20")
    c = cdr([("2026-01-13T10:00:00Z", "10", None), ("2026-01-13T11:00:00Z", "5", "NIGHT")])
    assert rate(c, [day, night]).total_cost.excl_vat == D("5.0000")


def test_an_unknown_period_tariff_is_refused_naming_the_period() -> None:
    c = cdr([("2026-01-13T10:00:00Z", "10", "DAY"), ("2026-01-13T11:00:00Z", "5", "GONE")])
    with pytest.raises(RatingError) as caught:
        rate(c, [energy_tariff("DAY", "0.40")])
    assert caught.value.field == "charging_periods[1].tariff_id"


def test_a_cdr_in_another_currency_than_its_tariff_is_refused() -> None:
    c = cdr([("2026-01-13T10:00:00Z", "10", None)], currency="USD")
    with pytest.raises(RatingError) as caught:
        rate(c, [energy_tariff("DAY", "0.40")])
    assert caught.value.field == "currency" and "USD" in caught.value.reason and "EUR" in caught.value.reason
    day, usd = energy_tariff("DAY", "0.40", currency="USD"), energy_tariff("EUR1", "0.40")
    mixed = cdr([("2026-01-13T10:00:00Z", "10", "DAY"), ("2026-01-13T11:00:00Z", "5", "EUR1")], currency="USD")
    with pytest.raises(RatingError) as caught:
        rate(mixed, [day, usd])
    assert caught.value.field == "charging_periods[1].tariff_id"

"""The OCPI spec's worked examples (2.3.0 values, rules doc §1.9), with CDRs built from their prose."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connector.models import Cdr, Tariff
from connector.rating import RatingOptions, rate

from .conftest import SPEC_221, load_json, make_cdr, spec_tariff

UTC = RatingOptions(time_zone="UTC")
D = Decimal


def totals(cdr: Cdr, tariff: Tariff, expired: bool = False) -> tuple[Decimal, Decimal]:
    if expired:
        cdr.x_reservation_expired = True
    r = rate(cdr, [tariff], options=UTC)
    return r.total_cost.excl_vat, r.total_cost.incl_vat


@pytest.mark.parametrize(
    ("tariff", "periods", "expected"),
    [
        ("tariff_8_simple_025kwh", [(0, {"ENERGY": "20"})], ("5.00", "5.50")),
        ("tariff_9_025kwh_start", [(0, {"ENERGY": "20"})], ("5.50", "6.10")),
        ("tariff_12_025kwh_min_price", [(0, {"ENERGY": "20"})], ("5.00", "5.50")),
        ("tariff_12_025kwh_min_price", [(0, {"ENERGY": "1.2"})], ("0.50", "0.55")),
        ("tariff_10_025kwh_parking_start", [(0, {"ENERGY": "20", "TIME": "1"}), (60, {"PARKING_TIME": "0.6667"})],
         ("7.00", "7.90")),
        ("tariff_6_025kwh_start_max_price", [(0, {"ENERGY": "50"})], ("10.00", "11.00")),
        ("tariff_6_025kwh_start_max_price", [(0, {"ENERGY": "30"})], ("8.00", "8.85")),
        ("tariff_1_simple_2hour", [(0, {"TIME": "2.5"})], ("5.00", "5.50")),
        ("tariff_13_simple_3hour_5parking", [(0, {"TIME": "2.5"}), (150, {"PARKING_TIME": "0.7"})],
         ("11.25", "12.75")),
        ("tariff_15_reservation_5_euro_per_hour",
         [(0, {"RESERVATION_TIME": "0.25"}), (15, {"ENERGY": "20", "TIME": "1"})], ("6.75", "7.60")),
        ("tariff_16_reservation_2_euro_fee_5_euro_per_hour",
         [(0, {"RESERVATION_TIME": "0.2167"}), (13, {"ENERGY": "20", "TIME": "1"})], ("8.75", "10.00")),
        ("tariff_17_reservation_with_expire_fee",
         [(0, {"RESERVATION_TIME": "0.3667"}), (22, {"ENERGY": "20", "TIME": "1"})], ("6.50", "7.30")),
        ("tariff_18_reservation_with_expire_time",
         [(0, {"RESERVATION_TIME": "0.3667"}), (22, {"ENERGY": "20", "TIME": "1"})], ("7.00", "7.90")),
    ],
)
def test_spec_example(tariff: str, periods: list, expected: tuple[str, str]) -> None:
    t = spec_tariff(tariff)
    # tariff_6 is valid until 2019-06-30 (end_date_time): rate a session inside its validity
    start = "2019-06-03T09:00:00+00:00" if t.end_date_time else "2026-01-13T09:00:00+00:00"
    cdr = make_cdr(start, periods)
    excl, incl = totals(cdr, t)
    assert (excl, incl) == (D(expected[0]), D(expected[1]))


@pytest.mark.parametrize(
    ("tariff", "minutes", "expected"),
    [("tariff_17_reservation_with_expire_fee", 60, ("6.00", "7.20")),
     ("tariff_18_reservation_with_expire_time", 90, ("9.00", "10.80"))],
)
def test_expired_reservation(tariff: str, minutes: int, expected: tuple[str, str]) -> None:
    hours = str(Decimal(minutes) / 60)
    cdr = make_cdr("2026-01-13T09:00:00+00:00", [(0, {"RESERVATION_TIME": hours})], end_minutes=minutes)
    assert totals(cdr, spec_tariff(tariff), expired=True) == (D(expected[0]), D(expected[1]))


def test_alt_url_step_size_prose_values_on_the_invoice() -> None:
    """20.45 kWh with a 100 Wh step → 20.5 kWh; prose 5.63 / 6.24 (the spec's table ignores step_size)."""
    cdr = make_cdr("2026-01-13T09:00:00+00:00", [(0, {"ENERGY": "20.45"})])
    r = rate(cdr, [spec_tariff("tariff_3_alt_url")], options=UTC)
    assert (r.total_cost.excl_vat, r.total_cost.incl_vat) == (D("5.6250"), D("6.2375"))
    assert (r.invoice.net_total, r.invoice.gross_total) == (D("5.63"), D("6.24"))


def test_alt_text_vat_5_2_percent_rounds_to_5_00() -> None:
    cdr = make_cdr("2026-01-13T09:00:00+00:00", [(0, {"TIME": "2.5"})], end_minutes=150)
    r = rate(cdr, [spec_tariff("tariff_2_alt_text")], options=UTC)
    assert (r.total_cost.excl_vat, r.total_cost.incl_vat) == (D("4.7500"), D("4.9970"))
    assert (r.invoice.net_total, r.invoice.tax_total, r.invoice.amount_due) == (D("4.75"), D("0.25"), D("5.00"))


def test_complex_monday() -> None:
    """Mon 09:30, 165 min at 16 A then 42 min parking → 9.00 / 10.30."""
    cdr = make_cdr("2026-01-12T09:30:00+00:00", [
        (0, {"TIME": "2.75", "MIN_CURRENT": "16", "MAX_CURRENT": "16"}), (165, {"PARKING_TIME": "0.7"})],
        end_minutes=207)
    assert totals(cdr, spec_tariff("tariff_4_complex")) == (D("9.00"), D("10.30"))


def test_complex_saturday_corrects_the_spec_table() -> None:
    """Sat 13:30, 114 min at 43 A + 71 min parking. The spec table says 12.28 but 1.25/h × 114 min is
    2.375, not 2.28 (ocpi/ocpi#579): 2.50 + 2.375 + 75 min × 6.00/h = 12.375 excl."""
    cdr = make_cdr("2026-01-17T13:30:00+00:00", [
        (0, {"TIME": "1.9", "MIN_CURRENT": "43", "MAX_CURRENT": "43"}), (114, {"PARKING_TIME": "1.1833"})],
        end_minutes=185)
    assert totals(cdr, spec_tariff("tariff_4_complex")) == (D("12.375"), D("13.975"))


@pytest.mark.parametrize(
    ("start", "periods", "end", "expected"),
    [
        # #1: 5 min × 1.20/h + 5 min × 2.40/h, 2 min parking rounded alone to 15 min × 1.00/h
        ("2026-01-13T16:55:00+00:00", [(0, {"TIME": "0.083333333333"}), (5, {"TIME": "0.083333333333"}),
                                       (10, {"PARKING_TIME": "0.033333333333"})], 12, "0.55"),
        # #2: 25 min × 1.20/h + (35 → 45 min total, so 20 min) × 2.40/h
        ("2026-01-13T16:35:00+00:00", [(0, {"TIME": "0.416666666667"}), (25, {"TIME": "0.166666666667"})],
         35, "1.30"),
        # 12 min × 2.40/h + 8 min parking rounded to 15 min × 1.00/h
        ("2026-01-13T17:05:00+00:00", [(0, {"TIME": "0.2"}), (12, {"PARKING_TIME": "0.133333333333"})], 20, "0.73"),
    ],
)
def test_step_size_examples_2_3_0(start: str, periods: list, end: int, expected: str) -> None:
    cdr = make_cdr(start, periods, end_minutes=end)
    excl, _ = totals(cdr, spec_tariff("tariff_14_step_size"))
    assert excl.quantize(Decimal("0.01")) == D(expected)


def test_max_power_restriction() -> None:
    cdr = make_cdr("2026-01-13T09:00:00+00:00", [
        (0, {"ENERGY": "1", "MIN_POWER": "6", "MAX_POWER": "6"}),
        (10, {"ENERGY": "40", "MIN_POWER": "48", "MAX_POWER": "48"}),
        (60, {"ENERGY": "0.5", "MIN_POWER": "4", "MAX_POWER": "4"})])
    excl, _ = totals(cdr, spec_tariff("tariffrestriction_example_max_power"))
    assert excl == D("20.30")


def test_max_duration_restriction() -> None:
    cdr = make_cdr("2026-01-13T09:00:00+00:00", [(0, {"ENERGY": "5"}), (30, {"ENERGY": "1.2"})], end_minutes=40)
    excl, _ = totals(cdr, spec_tariff("tariffrestriction_example_max_duration"))
    assert excl == D("0.30")


def test_spec_cdr_example_with_embedded_tariff() -> None:
    cdr = Cdr.model_validate(load_json(SPEC_221 / "cdr_example.json"))
    r = rate(cdr)  # tariff comes embedded in the CDR
    assert (r.total_cost.excl_vat, r.total_cost.incl_vat) == (D("4.00"), D("4.40"))
    assert r.invoice.amount_due == D("4.40")


def test_free_of_charge() -> None:
    cdr = make_cdr("2026-01-13T09:00:00+00:00", [(0, {"ENERGY": "20", "TIME": "1"})])
    assert totals(cdr, spec_tariff("tariff_5_free_of_charge")) == (D("0"), D("0"))

"""``connector.spreadsheets.rating``: cells -> Session -> the rating core, one result or #ERROR per row."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from connector.models import Session, Tariff
from connector.rating import RatingOptions, rate
from connector.spreadsheets.rating import SheetRow, build_session, parse_start, rate_rows
from tests.spreadsheets.sheets.conftest import TOU

TARIFFS = [Tariff.model_validate(TOU)]


def lookup_counting(calls: list[str]) -> Any:
    def lookup(tariff_id: str) -> list[Tariff] | None:
        calls.append(tariff_id)
        return TARIFFS if tariff_id == "T-TOU" else None
    return lookup


def money(result: Any) -> tuple[str | None, str | None, str | None, str | None]:
    return result.cost_incl_tax, result.cost_excl_tax, result.tax, result.currency


def test_peak_offpeak_fleet_and_serial_dates_in_berlin() -> None:
    calls: list[str] = []
    rows = [[10, 60, "2026-01-13T14:00", "T-TOU"],                # peak: 10 x 0.40
            ["10", "60", "2026-01-13 07:30", "T-TOU"],             # half off-peak, half peak
            [10, 60, 46035.583333333336, "T-TOU"],                 # serial for 2026-01-13 14:00
            [10, 60, "46035.5833333333", "T-TOU"],                 # the same serial as text
            [10, 60, "2026-01-13T14:00", "T-TOU", "fleet"]]        # fleet 0.25, VAT 0.475 -> 0.48
    results = rate_rows(rows, lookup_counting(calls), "Europe/Berlin")
    assert [money(r) for r in results] == [("4.76", "4.00", "0.76", "EUR"), ("3.57", "3.00", "0.57", "EUR"),
                                           ("4.76", "4.00", "0.76", "EUR"), ("4.76", "4.00", "0.76", "EUR"),
                                           ("2.98", "2.50", "0.48", "EUR")]
    assert calls == ["T-TOU"]  # looked up once for the whole range
    assert results[1].lines == [["2", "energy", "Energy @ 0.20 EUR/kWh", "5", "kWh", "0.20", "1.00", "0.19", "1.19"],
                                ["2", "energy", "Energy @ 0.40 EUR/kWh", "5", "kWh", "0.40", "2.00", "0.38", "2.38"]]


def test_offset_is_kept_and_the_zone_decides_local_time() -> None:
    row = [[10, 60, "2026-01-13T18:30:00Z", "T-TOU"]]  # 19:30 in Berlin (half peak), 18:30 in UTC (all peak)
    berlin = rate_rows(row, lookup_counting([]), "Europe/Berlin")[0]
    utc = rate_rows(row, lookup_counting([]), "UTC")[0]
    assert (berlin.cost_incl_tax, utc.cost_incl_tax) == ("3.57", "4.76")


def test_default_zone_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVBILL_DEFAULT_TIME_ZONE", "America/New_York")  # 18:30Z = 13:30 in New York: peak
    row = [[10, 60, "2026-01-14T00:30:00Z", "T-TOU"]]  # 19:30 in New York: half peak; 00:30 UTC: off-peak
    assert rate_rows(row, lookup_counting([]))[0].cost_incl_tax == "3.57"
    monkeypatch.delenv("EVBILL_DEFAULT_TIME_ZONE")
    assert rate_rows(row, lookup_counting([]))[0].cost_incl_tax == "2.38"


def test_results_equal_the_core_for_the_same_session() -> None:
    session = Session(id="x", start="2026-03-29T01:30:00+01:00", end="2026-03-29T03:45:00+02:00",
                      energy_kwh=Decimal("22.345"), time_zone="Europe/Berlin")
    core = rate(session, TARIFFS, None, RatingOptions(time_zone="Europe/Berlin")).invoice
    sheet = rate_rows([["22.345", 75, "2026-03-29T01:30", "T-TOU"]], lookup_counting([]), "Europe/Berlin")[0]
    assert (sheet.cost_incl_tax, sheet.cost_excl_tax, sheet.tax) == (
        format(core.gross_total, "f"), format(core.net_total, "f"), format(core.tax_total, "f"))
    assert sheet.cost_incl_tax == "5.32"  # 22.345 kWh x 0.20 = 4.469 -> 4.47 net, 0.85 VAT


@pytest.mark.parametrize(("row", "error"), [
    ([-1, 60, "2026-01-13T14:00", "T-TOU"], "#ERROR: kwh: must not be negative"),
    ([True, 60, "2026-01-13T14:00", "T-TOU"], "#ERROR: kwh: expected a number"),
    (["ten", 60, "2026-01-13T14:00", "T-TOU"], "#ERROR: kwh: 'ten' is not a number"),
    ([10, 0, "2026-01-13T14:00", "T-TOU"], "#ERROR: minutes: must be more than 0 and at most 44640 (31 days)"),
    ([10, 60, "yesterday", "T-TOU"], "#ERROR: start: 'yesterday' is not an ISO 8601 date-time or a serial date"),
    ([10, 60, 30, "T-TOU"], "#ERROR: start: serial date 30 is outside 61 (1900-03-01) .. 2958465 (9999-12-31)"),
    ([10, 60, None, "T-TOU"], "#ERROR: start: is empty"),
    ([10, 60, "2026-01-13T14:00", "NOPE"], "#ERROR: tariff_id: tariff 'NOPE' does not exist"),
    ([10, 60, "2026-01-13T14:00", ""], "#ERROR: tariff_id: is empty"),
    ([10, 60, "2026-01-13T14:00", "T-TOU", 7], "#ERROR: customer_class: expected text"),
    ([10, 60, "9999-12-31T23:30", "T-TOU"], "#ERROR: minutes: the session would end after the year 9999"),
    ([1, 2], "#ERROR: row: expected [kwh, minutes, start, tariff_id, customer_class?]"),
    ("10", "#ERROR: row: expected [kwh, minutes, start, tariff_id, customer_class?]"),
])
def test_a_bad_row_is_an_error_text_and_does_not_fail_the_range(row: Any, error: str) -> None:
    good = [10, 60, "2026-01-13T14:00", "T-TOU"]
    results = rate_rows([good, row, good], lookup_counting([]), "UTC")
    assert [r.to_dict().get("error") for r in results] == [None, error, None]
    assert results[0].cost_incl_tax == results[2].cost_incl_tax == "4.76"


def test_blank_rows_stay_blank() -> None:
    results = rate_rows([[None, "", " ", None], [None, None, None, "T-TOU", "fleet"]], lookup_counting([]), "UTC")
    assert [r.to_dict() for r in results] == [{"ok": True, "blank": True}] * 2


def test_serial_dates_round_to_the_second_and_minutes_may_be_fractional() -> None:
    assert parse_start(45292.333333333336, "UTC").isoformat() == "2024-01-01T08:00:00+00:00"
    assert parse_start(Decimal("61"), "UTC").isoformat() == "1900-03-01T00:00:00+00:00"
    session = build_session(SheetRow("7.5", 90.5, "2026-01-13T08:00", "T-TOU"), 0, "Europe/Berlin")
    assert (session.end - session.start).total_seconds() == 5430
    assert session.energy_kwh == Decimal("7.5") and session.time_zone == "Europe/Berlin"


def test_a_bad_zone_is_named() -> None:
    with pytest.raises(ValueError, match="time_zone: 'Mars/Base' is not an IANA time zone"):
        rate_rows([], lookup_counting([]), "Mars/Base")


def test_rows_past_the_deadline_ask_to_be_retried_and_prices_ignore_the_clock() -> None:
    ticks = iter(range(100))
    rows = [[10, 60, "2026-01-13T14:00", "T-TOU"]] * 4
    results = rate_rows(rows, lookup_counting([]), "UTC", deadline=1.5, clock=lambda: float(next(ticks)))
    assert [r.to_dict().get("cost_incl_tax") for r in results] == ["4.76", "4.76", None, None]
    assert results[3].to_dict() == {"ok": False, "retry": True,
                                    "error": "#ERROR: row: not rated within the time budget; recalculate, or split "
                                             "the range"}

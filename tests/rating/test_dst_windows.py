"""Time-of-day windows on the nights the clocks change (raw sessions, local wall-clock windows).

A window whose start or end does not exist that night (spring-forward gap) starts/ends at the first
instant after the gap; a repeated hour (fall back) is matched both times it occurs. Each case: 20 kWh
spread uniformly over the session, 0.20/kWh inside the window, 0.50/kWh outside, expected by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connector.models import Session, Tariff
from connector.rating import rate

D = Decimal


def window_tariff(start: str, end: str) -> Tariff:
    return Tariff.model_validate({"id": "tou", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.20", "step_size": 1}],
         "restrictions": {"start_time": start, "end_time": end}},
        {"price_components": [{"type": "ENERGY", "price": "0.50", "step_size": 1}]}]})


CASES = [
    # Berlin spring forward 2026-03-29 01:00 UTC (02:00 CET -> 03:00 CEST); session 01:00 CET -> 04:00 CEST.
    # Window starting in the gap: opens at 03:00 CEST, the first instant after the gap (was 8.50).
    ("Europe/Berlin", "2026-03-29T00:00:00Z", "2026-03-29T02:00:00Z", ("02:30", "05:00"), "7.0000"),
    # Window ending in the gap: closes at the gap (01:00-02:00 CET inside, 03:00-04:00 CEST outside; was 5.50).
    ("Europe/Berlin", "2026-03-29T00:00:00Z", "2026-03-29T02:00:00Z", ("22:00", "02:30"), "7.0000"),
    # Window lying inside the gap: never open that night.
    ("Europe/Berlin", "2026-03-29T00:00:00Z", "2026-03-29T02:00:00Z", ("02:10", "02:50"), "10.0000"),
    # Berlin fall back 2026-10-25 01:00 UTC (03:00 CEST -> 02:00 CET); session 02:00 CEST -> 03:00 CET.
    # Window starting in the repeated hour: 02:30-03:00 CEST in, 02:00-02:30 CET out, 02:30-03:00 CET in.
    ("Europe/Berlin", "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z", ("02:30", "04:00"), "7.0000"),
    # Los Angeles fall back 2026-11-01 09:00 UTC (02:00 PDT -> 01:00 PST); session 01:00 PDT -> 02:00 PST.
    ("America/Los_Angeles", "2026-11-01T08:00:00Z", "2026-11-01T10:00:00Z", ("01:30", "06:00"), "7.0000"),
    # Window ending in the repeated hour: 01:00-01:30 PDT in, 01:30 PDT-01:00 PST out, 01:00-01:30 PST in.
    ("America/Los_Angeles", "2026-11-01T08:00:00Z", "2026-11-01T10:00:00Z", ("22:00", "01:30"), "7.0000"),
    # Los Angeles spring forward 2026-03-08 10:00 UTC (02:00 PST -> 03:00 PDT), window starts in the gap.
    ("America/Los_Angeles", "2026-03-08T09:00:00Z", "2026-03-08T11:00:00Z", ("02:30", "06:00"), "7.0000"),
    # Lord Howe spring forward 2026-10-03 15:30 UTC (02:00 +10:30 -> 02:30 +11:00), a 30-minute gap;
    # session 01:30 -> 03:00 local: 01:30-02:00 outside, then inside from 02:30 (was 8.50).
    ("Australia/Lord_Howe", "2026-10-03T15:00:00Z", "2026-10-03T16:00:00Z", ("02:15", "06:00"), "7.0000"),
    # Lord Howe fall back 2026-04-04 15:00 UTC (02:00 +11:00 -> 01:30 +10:30); session 01:00 -> 02:30 local:
    # 01:00-01:45 in, 01:45-02:00 out, 01:30-01:45 (again) in, 01:45-02:30 out: 1 h in, 1 h out (was 7.75).
    ("Australia/Lord_Howe", "2026-04-04T14:00:00Z", "2026-04-04T16:00:00Z", ("22:00", "01:45"), "7.0000"),
]


@pytest.mark.parametrize(("zone", "start", "end", "window", "expected"), CASES)
def test_window_on_a_dst_night(zone: str, start: str, end: str, window: tuple[str, str], expected: str) -> None:
    session = Session(id="s", time_zone=zone, start=start, end=end, energy_kwh="20")
    r = rate(session, window_tariff(*window))
    assert r.total_cost.excl_vat == D(expected)
    assert r.total_energy == D("20.0000")

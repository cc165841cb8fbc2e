"""The cached zone facts used to cut raw sessions agree with a direct computation."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from connector.rating.periods import _local_instants, offset_changes, zone


def _scan(tz_name: str, start: datetime, end: datetime) -> list[datetime]:
    """Every whole-minute instant in (start, end] whose offset differs from a second before (zones here
    change on whole minutes): slow, independent of the cache."""
    tz = zone(tz_name)
    out, at = [], start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while at <= end:
        if at.astimezone(tz).utcoffset() != (at - timedelta(seconds=1)).astimezone(tz).utcoffset():
            out.append(at)
        at += timedelta(minutes=1)
    return out


@pytest.mark.parametrize("tz_name", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"])
def test_offset_changes_across_a_year_end_match_a_minute_scan(tz_name: str) -> None:
    start = datetime(2025, 9, 20, 13, 17, 5, 250000, tzinfo=UTC)  # not aligned to a day or a second
    end = datetime(2026, 4, 12, 2, tzinfo=UTC)
    assert offset_changes(zone(tz_name), start, end) == _scan(tz_name, start, end)


def test_local_instants_are_the_same_on_a_second_call_and_cover_both_folds() -> None:
    tz = zone("Europe/Berlin")
    clock = (time(0), time(2, 30))
    start, end = datetime(2026, 10, 23, tzinfo=UTC), datetime(2026, 10, 27, tzinfo=UTC)
    first = _local_instants(tz, date(2026, 10, 24), date(2026, 10, 26), clock, start, end)
    assert first == _local_instants(tz, date(2026, 10, 24), date(2026, 10, 26), clock, start, end)
    # 25 October 2026: 02:30 happens twice (CEST then CET), an hour apart
    assert datetime(2026, 10, 25, 0, 30, tzinfo=UTC) in first
    assert datetime(2026, 10, 25, 1, 30, tzinfo=UTC) in first
    assert first == sorted(first)


def test_local_instants_keep_the_session_start_and_leave_out_its_end() -> None:
    tz = zone("Europe/Berlin")
    clock = (time(0), time(2, 30))
    every = _local_instants(tz, date(2026, 10, 24), date(2026, 10, 26), clock,
                            datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    start, end = datetime(2026, 10, 24, 22, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    within = _local_instants(tz, date(2026, 10, 24), date(2026, 10, 26), clock, start, end)
    assert within == [at for at in every if start <= at < end]
    assert start in within and end not in within and end in every

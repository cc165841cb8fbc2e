"""Anomaly rules on stored sessions, per-tenant thresholds, and one event per anomaly ever."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from connector.billing import anomalies
from connector.storage import repo
from connector.storage.tables.outbox import EventRow

T = "t-anom"


def store(db, session_id: str, start: str, end: str | None, energy: str, station: str = "ST-1"):
    doc = {"id": session_id, "station_id": station, "start": start, "energy_kwh": energy, "tariff_id": "T"}
    if end:
        doc["end"] = end
    repo.ensure_tenant(db, T)
    repo.put_session(db, T, doc)
    return repo.get_session_row(db, T, session_id)


def emitted(db) -> list[dict]:
    return [e.data["anomaly"] for e in db.scalars(select(EventRow).where(
        EventRow.tenant_id == T, EventRow.type == "billing.anomaly").order_by(EventRow.created_at))]


def test_clean_session_has_no_anomaly(db):
    row = store(db, "OK", "2026-01-13T10:00:00Z", "2026-01-13T11:00:00Z", "40")
    assert anomalies.check_session(db, T, row, None) == []
    assert emitted(db) == []


def test_negative_implausible_and_long(db):
    negative = store(db, "NEG", "2026-01-13T10:00:00Z", "2026-01-13T11:00:00Z", "-2")
    fast = store(db, "FAST", "2026-01-13T10:00:00Z", "2026-01-13T10:10:00Z", "70")  # 400 kW x 1/6 h = 66.67
    long = store(db, "LONG", "2026-01-12T10:00:00Z", "2026-01-13T10:00:01Z", "30")
    assert [a["rule"] for a in anomalies.check_session(db, T, negative, None)] == ["negative_energy"]
    found = anomalies.check_session(db, T, fast, None)
    assert [a["rule"] for a in found] == ["implausible_energy"]
    assert found[0]["severity"] == "high" and found[0]["details"]["energy_kwh"] == "70"
    assert [a["rule"] for a in anomalies.check_session(db, T, long, None)] == ["long_session"]
    under = store(db, "EDGE", "2026-01-13T10:00:00Z", "2026-01-13T10:10:00Z", "66.66")
    assert anomalies.check_session(db, T, under, None) == []
    assert {a["session_id"] for a in emitted(db)} == {"NEG", "FAST", "LONG"}
    assert set(emitted(db)[0]) == {"id", "rule", "severity", "session_id", "station_id", "message", "details"}


def test_same_anomaly_is_emitted_once(db):
    row = store(db, "NEG", "2026-01-13T10:00:00Z", "2026-01-13T11:00:00Z", "-2")
    first = anomalies.check_session(db, T, row, None)
    assert len(first) == 1 and first[0]["id"].startswith("anm_")
    assert anomalies.check_session(db, T, row, None) == []
    db.commit()
    assert anomalies.check_session(db, T, row, None) == []
    assert len(emitted(db)) == 1
    assert anomalies.list_anomalies(db, T)["items"] == first


def test_duplicate_pair_is_one_anomaly(db):
    store(db, "D1", "2026-01-13T10:00:00Z", "2026-01-13T11:00:00Z", "12.5")
    store(db, "OTHER-STATION", "2026-01-13T10:00:00Z", "2026-01-13T11:00:00Z", "12.5", station="ST-9")
    store(db, "OTHER-ENERGY", "2026-01-13T10:00:00Z", "2026-01-13T11:00:00Z", "12.6")
    second = store(db, "D2", "2026-01-13T10:00:00Z", "2026-01-13T11:00:00Z", "12.50")
    found = anomalies.check_session(db, T, second, None)
    assert [(a["rule"], a["session_id"], a["details"]["duplicate_of"]) for a in found] == \
        [("duplicate_session", "D2", "D1")]
    # checking the other session of the pair finds the same anomaly: nothing new
    assert anomalies.check_session(db, T, repo.get_session_row(db, T, "D1"), None) == []


def test_thresholds_per_tenant(db):
    row = store(db, "THREE-H", "2026-01-13T10:00:00Z", "2026-01-13T13:00:00Z", "30")
    assert anomalies.check_session(db, T, row, None) == []
    assert anomalies.put_rules(db, T, {"max_session_hours": "2", "max_power_kw": 5}) == {
        "max_power_kw": "5", "max_session_hours": "2", "mismatch_tolerance": "0", "disabled_rules": []}
    assert sorted(a["rule"] for a in anomalies.check_session(db, T, row, None)) == \
        ["implausible_energy", "long_session"]
    assert anomalies.get_rules(db, "another-tenant")["max_session_hours"] == "24"
    anomalies.put_rules(db, T, {"disabled_rules": ["negative_energy"]})
    negative = store(db, "NEG", "2026-01-13T10:00:00Z", "2026-01-13T11:00:00Z", "-1")
    assert anomalies.check_session(db, T, negative, None) == []


@pytest.mark.parametrize(("body", "field"), [
    ({"max_power_kw": "0"}, "max_power_kw"), ({"max_session_hours": "abc"}, "max_session_hours"),
    ({"disabled_rules": ["nope"]}, "disabled_rules[0]"), ({"extra": 1}, "extra"), ([], "body"),
])
def test_bad_thresholds_name_the_field(db, body, field):
    with pytest.raises(ValueError) as info:
        anomalies.put_rules(db, T, body)
    assert info.value.field == field  # type: ignore[attr-defined]


def test_rating_failure_recorded_once_per_reason(db):
    repo.ensure_tenant(db, T)
    first = anomalies.record_rating_failure(db, T, "S1", "ST-1", "session.tariff_id", "tariff 'X' does not exist")
    assert first is not None and first["rule"] == "rating_failure" and first["severity"] == "high"
    assert anomalies.record_rating_failure(db, T, "S1", "ST-1", "session.tariff_id", "tariff 'X' does not exist") \
        is None
    assert anomalies.record_rating_failure(db, T, "S1", "ST-1", "session.end", "missing") is not None
    assert [a["rule"] for a in emitted(db)] == ["rating_failure", "rating_failure"]


def test_duplicate_lookup_reads_the_same_rows_however_often_a_session_was_resent(db):
    """A charger re-sending one session under 60 new ids: the 61st check reads a bounded number of candidate
    sessions (it read all 60 before), and still points at the first one."""
    from sqlalchemy import event

    for i in range(60):
        store(db, f"R-{i:02d}", "2026-01-13T10:00:00Z", "2026-01-13T11:00:00Z", "12.5")
    db.commit()
    last = store(db, "R-LAST", "2026-01-13T10:00:00Z", "2026-01-13T11:00:00Z", "12.5")
    looked_up: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT") and "station_id" in statement and "document" in statement:
            looked_up.append((statement, parameters))

    bind = db.get_bind()
    event.listen(bind, "before_cursor_execute", capture)
    try:
        found = anomalies.check_session(db, T, last, None)
    finally:
        event.remove(bind, "before_cursor_execute", capture)
    assert [a["details"]["duplicate_of"] for a in found] == ["R-00"]
    [(statement, parameters)] = looked_up
    rows = db.connection().exec_driver_sql(statement, parameters).fetchall()  # what that statement returns
    assert 1 <= len(rows) <= anomalies.DUPLICATE_CANDIDATES

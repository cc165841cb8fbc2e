"""Reconciliation of the seeded day: exact money per group, every exception kind, stored and emitted."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from connector.billing.reconciliation.run import get_reconciliation, reconcile
from connector.storage.tables.outbox import EventRow
from connector.storage.tables.reconciliation import AnomalyRow
from connector.validation import NotFound
from tests.billing.reconciliation.seed import TENANT


def groups(report: dict) -> dict[tuple, tuple]:
    return {(r["station_id"], r["tariff_id"], r["customer_class"]):
            (r["sessions"], r["expected"], r["billed"], r["paid"], r["difference"]) for r in report["rows"]}


def test_expected_billed_paid_per_station_tariff_and_class(seeded):
    report = reconcile(seeded, TENANT, "daily", "2026-01-13")
    assert groups(report) == {
        ("ST-1", "T-A", "public"): (4, "14.28", "10.71", "7.14", "3.57"),
        ("ST-1", "T-A", "fleet"): (1, "7.14", "7.14", "0.00", "0.00"),
        ("ST-2", "T-A", "public"): (1, "3.57", "3.00", "3.00", "0.57"),
        ("ST-2", "T-B", "fleet"): (1, "2.38", "2.38", "2.38", "0.00"),
        ("ST-2", "T-B", "public"): (1, "4.76", "4.76", "4.76", "0.00"),
        ("ST-3", "T-A", "public"): (2, "10.71", "10.71", "10.71", "0.00"),
        ("ST-3", "T-B", "public"): (1, "5.95", "5.95", "5.95", "0.00"),
    }
    summary = report["summary"]
    assert (summary["currency"], summary["expected"], summary["billed"], summary["paid"], summary["difference"],
            summary["unpaid"]) == ("EUR", "48.79", "44.65", "33.94", "4.14", "10.71")
    assert summary["sessions"] == 11 and summary["open_sessions"] == 1
    assert summary["energy_kwh"] == "127.500"
    assert summary["exceptions"] == {"duplicate": 1, "mismatch": 1, "negative_energy": 1, "unbilled": 2}
    assert (report["period_start"], report["period_end"]) == ("2026-01-13", "2026-01-13")
    assert all(r["currency"] == "EUR" for r in report["rows"])


def test_each_exception_kind(seeded):
    report = reconcile(seeded, TENANT, "daily", "2026-01-13")
    found = {(e["kind"], e["session_id"]): e for e in report["exceptions"]}
    assert set(found) == {("duplicate", "S9"), ("mismatch", "S8"), ("negative_energy", "S10"),
                          ("unbilled", "S7"), ("unbilled", "S10")}
    mismatch = found[("mismatch", "S8")]["details"]
    assert (mismatch["expected"], mismatch["billed"], mismatch["difference"]) == ("3.57", "3.00", "0.57")
    assert found[("duplicate", "S9")]["details"]["duplicate_of"] == "S1"
    assert found[("negative_energy", "S10")]["details"]["energy_kwh"] == "-5"
    assert found[("unbilled", "S7")]["details"]["expected"] == "3.57"
    assert found[("unbilled", "S7")]["rule"] == "unbilled_session"


def test_station_filter_and_monthly_period(seeded):
    report = reconcile(seeded, TENANT, "daily", "2026-01-13", ["ST-2"])
    assert report["stations"] == ["ST-2"]
    assert {r["station_id"] for r in report["rows"]} == {"ST-2"}
    assert (report["summary"]["expected"], report["summary"]["billed"]) == ("10.71", "10.14")
    month = reconcile(seeded, TENANT, "monthly", "2026-01")
    assert (month["period_start"], month["period_end"]) == ("2026-01-01", "2026-01-31")
    # S11 (00:30 Berlin on the 14th) joins: 48.79 + 3.57 expected, 44.65 + 3.57 billed
    assert (month["summary"]["expected"], month["summary"]["billed"]) == ("52.36", "48.22")
    assert reconcile(seeded, TENANT, "daily", "2026-01-14")["summary"]["expected"] == "3.57"


def test_rating_failure_is_an_exception_not_a_crash(seeded):
    from connector.storage import repo
    from tests.billing.reconciliation.seed import session_doc

    doc = session_doc("S7") | {"tariff_id": "T-MISSING"}
    repo.put_session(seeded, TENANT, doc)
    report = reconcile(seeded, TENANT, "daily", "2026-01-13")
    failure = [e for e in report["exceptions"] if e["kind"] == "rating_failure"]
    assert [(e["session_id"], e["details"]["field"]) for e in failure] == [("S7", "session.tariff_id")]
    assert "T-MISSING" in failure[0]["details"]["reason"]


def test_stored_emitted_and_anomalies_not_repeated(seeded):
    report = reconcile(seeded, TENANT, "daily", "2026-01-13")
    seeded.commit()
    assert get_reconciliation(seeded, TENANT, report["id"])["summary"] == report["summary"]
    events = seeded.scalars(select(EventRow).where(EventRow.tenant_id == TENANT)).all()
    completed = [e for e in events if e.type == "reconciliation.completed"]
    assert len(completed) == 1
    assert completed[0].data["reconciliation"]["summary"]["difference"] == "4.14"
    anomalies = [e.data["anomaly"] for e in events if e.type == "billing.anomaly"]
    assert sorted((a["rule"], a["session_id"]) for a in anomalies) == [
        ("duplicate_session", "S9"), ("negative_energy", "S10"), ("reconciliation_mismatch", "S8"),
        ("unbilled_session", "S10"), ("unbilled_session", "S7")]
    assert {a["id"] for a in anomalies} == {e["anomaly_id"] for e in report["exceptions"]}
    # a rerun over the same facts finds the same anomalies: a new report, no new anomaly events
    reconcile(seeded, TENANT, "daily", "2026-01-13")
    seeded.commit()
    events = seeded.scalars(select(EventRow).where(EventRow.tenant_id == TENANT)).all()
    assert sum(e.type == "billing.anomaly" for e in events) == 5
    assert sum(e.type == "reconciliation.completed" for e in events) == 2
    assert len(seeded.scalars(select(AnomalyRow)).all()) == 5


def test_other_tenant_sees_nothing(seeded):
    report = reconcile(seeded, "t2", "daily", "2026-01-13")
    assert report["rows"] == [] and report["summary"]["sessions"] == 0
    with pytest.raises(NotFound):
        get_reconciliation(seeded, "t2", reconcile(seeded, TENANT, "daily", "2026-01-13")["id"])


@pytest.mark.parametrize(("kind", "period", "stations", "field"), [
    ("weekly", "2026-01-13", None, "kind"), ("daily", "2026-01", None, "period"),
    ("monthly", "2026-13", None, "period"), ("daily", "2026-02-30", None, "period"),
    ("daily", "2026-01-13", [], "stations"), ("daily", "2026-01-13", [1], "stations"),
])
def test_bad_input_names_the_field(db, kind, period, stations, field):
    with pytest.raises(ValueError) as info:
        reconcile(db, TENANT, kind, period, stations)
    assert info.value.field == field  # type: ignore[attr-defined]


def test_stored_mode_and_worker_pool_agree_with_rerating(seeded):
    base = reconcile(seeded, TENANT, "daily", "2026-01-13", emit_events=False)
    pooled = reconcile(seeded, TENANT, "daily", "2026-01-13", workers=2, chunk=3, emit_events=False)
    assert pooled["rows"] == base["rows"] and pooled["summary"] == base["summary"]
    assert [(e["kind"], e["session_id"]) for e in pooled["exceptions"]] == \
        [(e["kind"], e["session_id"]) for e in base["exceptions"]]
    # stored mode: only sessions with a stored rating have an expected amount (none stored yet)
    stored = reconcile(seeded, TENANT, "daily", "2026-01-13", mode="stored", emit_events=False)
    assert stored["summary"]["expected"] == "0.00"
    assert stored["summary"]["exceptions"]["rating_failure"] == 10
    # with the ratings billing would have stored, stored mode agrees with re-rating
    from connector.models.session_merge import to_session
    from connector.rating import rate
    from connector.storage import repo
    from tests.billing.reconciliation.seed import SESSIONS, session_doc

    for session_id, (_st, tariff_id, customer_id, *_rest) in SESSIONS.items():
        doc = session_doc(session_id)
        if doc.get("end") and not doc["energy_kwh"].startswith("-"):
            customer = repo.customer_model(repo.get_customer(seeded, TENANT, customer_id))
            rating = rate(to_session(doc), repo.load_tariffs(seeded, TENANT, tariff_id), customer).to_dict()
            repo.put_rating(seeded, TENANT, session_id, rating)
    stored = reconcile(seeded, TENANT, "daily", "2026-01-13", mode="stored", emit_events=False)
    assert stored["rows"] == base["rows"] and stored["summary"] == base["summary"]


def test_station_partitions_in_processes_agree(seeded):
    from connector.storage import repo
    from tests.billing.reconciliation.seed import session_doc

    doc = session_doc("S7") | {"id": "NO-STATION", "station_id": None}
    repo.put_session(seeded, TENANT, doc)
    seeded.commit()  # partitions read committed data through their own connections
    base = reconcile(seeded, TENANT, "daily", "2026-01-13", emit_events=False)
    split = reconcile(seeded, TENANT, "daily", "2026-01-13", partitions=2, emit_events=False)
    assert split["rows"] == base["rows"] and split["summary"] == base["summary"]
    assert sorted((e["kind"], e["session_id"]) for e in split["exceptions"]) == \
        sorted((e["kind"], e["session_id"]) for e in base["exceptions"])
    assert [r for r in base["rows"] if r["station_id"] is None] == [{
        "station_id": None, "tariff_id": "T-A", "customer_class": "public", "currency": "EUR", "sessions": 1,
        "energy_kwh": "10.000", "expected": "3.57", "billed": "0.00", "paid": "0.00", "difference": "3.57",
        "unpaid": "0.00"}]
    two = reconcile(seeded, TENANT, "daily", "2026-01-13", ["ST-1", "ST-3"], mode="stored", partitions=2,
                    emit_events=False)  # no stored ratings: expected 0, billed as invoiced
    assert (two["summary"]["expected"], two["summary"]["billed"], two["summary"]["paid"]) == \
        ("0.00", "34.51", "23.80")

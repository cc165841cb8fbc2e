"""One bad stored session never stops a tenant's reconciliation: it is an exception row, the rest is exact."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from connector.billing.reconciliation.run import reconcile
from connector.storage import repo
from connector.storage.tables.reconciliation import AnomalyRow
from tests.billing.reconciliation.seed import TENANT, session_doc

# energy no charger sends, written straight into storage as a session from before the input bounds:
# 1e22 kWh passes the report's Wh precision but the rating cannot compute it; 1e30 kWh passes neither
BAD = {"S7": "1e22", "S5": "1e30"}


def _stage(db) -> None:
    for session_id, kwh in BAD.items():
        repo.put_session(db, TENANT, session_doc(session_id) | {"energy_kwh": kwh})
    db.commit()


@pytest.mark.parametrize("workers", [1, 2])
def test_bad_sessions_become_rating_failures_and_the_rest_is_reconciled(seeded, workers):
    _stage(seeded)
    report = reconcile(seeded, TENANT, "daily", "2026-01-13", workers=workers, chunk=3)
    failures = {e["session_id"]: e["details"] for e in report["exceptions"] if e["kind"] == "rating_failure"}
    assert set(failures) == {"S5", "S7"}
    assert failures["S5"]["field"] == "session.energy_kwh" and "1E+30" in failures["S5"]["reason"]
    assert failures["S7"]["field"].startswith("session")
    rows = {(r["station_id"], r["tariff_id"], r["customer_class"]): r for r in report["rows"]}
    # S7 (was 3.57 expected, unbilled) and S5 (10.71 expected, 10.71 billed) now add nothing expected
    assert rows[("ST-1", "T-A", "public")]["expected"] == "10.71"
    assert rows[("ST-3", "T-A", "public")]["expected"] == "0.00"
    assert rows[("ST-3", "T-A", "public")]["billed"] == "10.71"
    # every other group is exactly as on the clean day
    assert rows[("ST-2", "T-B", "public")]["expected"] == "4.76"
    assert rows[("ST-3", "T-B", "public")]["expected"] == "5.95"
    summary = report["summary"]
    assert summary["sessions"] == 11 and summary["expected"] == "34.51"
    # energy: S5's cannot be held at Wh precision and is left out (127.5 - 30); S7's unrated document value
    # is summed as for any rating failure
    assert summary["energy_kwh"] == "10000000000000000000087.500"
    seeded.commit()
    recorded = {a.session_id for a in seeded.scalars(select(AnomalyRow).where(AnomalyRow.rule == "rating_failure"))}
    assert recorded == {"S5", "S7"}

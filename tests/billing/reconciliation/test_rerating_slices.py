"""Re-rating with worker processes that read their own slices gives the one-process report, on SQLite and
PostgreSQL (where the workers import the caller's snapshot), and the narrowed read (each zone's day, not the
UTC window with its margins) gives the report of reading the whole window.

The random month of ``test_set_based`` (zones with DST days, unknown zones, starts written with another
offset, duplicates, negative and missing energy, credit notes, void invoices, partial payments), with the
two tariffs stored so every session is re-rated.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from connector.billing.anomalies import Thresholds
from connector.billing.reconciliation import batch
from connector.billing.reconciliation.batch import Run, Scope
from connector.billing.reconciliation.period import parse_period
from connector.billing.reconciliation.run import reconcile
from connector.models import Tariff
from connector.storage import repo
from connector.storage.db import make_engine
from connector.storage.tables import all_metadata
from connector.storage.tables.core import CustomerRow
from tests.api.pg import fresh_database, pg_available
from tests.billing.reconciliation.seed import TARIFFS
from tests.billing.reconciliation.test_set_based import (
    TENANT,
    add_bill,
    add_session,
    outcome_report,
    seed_random,
)

pytestmark = pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(),
                                reason="no fork here")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> Iterator[Session]:
    url_ctx: Any = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'slices.db'}"
    else:
        if not pg_available():
            pytest.skip("PostgreSQL not reachable (EVBILL_TEST_PG_URL); run scripts/setup_system.sh")
        url_ctx = fresh_database()
        url = url_ctx.__enter__()
    engine = make_engine(url)
    all_metadata().create_all(engine)
    try:
        with sessionmaker(engine, expire_on_commit=False)() as session:
            repo.ensure_tenant(session, TENANT)
            for customer_id, klass in (("C-PUB", "public"), ("C-FLEET", "fleet")):
                session.add(CustomerRow(tenant_id=TENANT, customer_id=customer_id, customer_class=klass))
            for tariff in TARIFFS.values():
                repo.create_tariff(session, TENANT, Tariff.model_validate(tariff))
            session.commit()
            yield session
    finally:
        engine.dispose()
        if url_ctx is not None:
            url_ctx.__exit__(None, None, None)


@pytest.fixture
def sliced_runs(monkeypatch) -> list[bool]:
    """Records, per run with workers, whether the worker processes read their own slices."""
    taken: list[bool] = []
    real = Run._sliced

    def spy(self: Run) -> Any:
        out = real(self)
        taken.append(out is not None)
        return out

    monkeypatch.setattr(Run, "_sliced", spy)
    return taken


@pytest.mark.parametrize("seed", [3, 4])
def test_slices_and_the_narrowed_read_equal_one_process_reading_the_window(db, seed, sliced_runs):
    seed_random(db, seed, 160)
    db.commit()  # its ANALYZE wrote statistics in a transaction: worker connections read committed data
    limits = Thresholds()
    for kind, label in (("monthly", "2026-03"), ("daily", "2026-03-29"), ("daily", "2026-03-01")):
        period = parse_period(kind, label)
        whole = outcome_report(Run(db, TENANT, period, None, limits, chunk=7, scope=Scope()).execute())
        narrowed = outcome_report(Run(db, TENANT, period, None, limits, chunk=7).execute())
        sliced = outcome_report(Run(db, TENANT, period, None, limits, chunk=7, workers=2).execute())
        assert narrowed == whole, (kind, label)
        assert sliced == whole, (kind, label)
        assert whole[0]["sessions"] > 0
    assert sliced_runs == [True, True, True]


def test_without_unsummable_sessions_the_read_is_a_plain_range(db, sliced_runs):
    for i in range(40):  # every session's columns are its document's: no OR branch for the odd ones
        start = datetime(2026, 3, 28, 20, tzinfo=UTC).replace(minute=i)
        add_session(db, f"P{i:03d}", start, station=f"ST-{i % 3}", energy=str(5 + i % 7), rating=None,
                    zone="Europe/Berlin" if i % 2 else "America/Los_Angeles")
        add_bill(db, f"P{i:03d}", 100 + i)
    db.commit()
    period = parse_period("daily", "2026-03-28")
    scope = batch.scope_for(db, TENANT, period, None)
    assert scope.zones is not None and not scope.unsummable
    limits = Thresholds()
    whole = outcome_report(Run(db, TENANT, period, None, limits, chunk=3, scope=Scope()).execute())
    assert outcome_report(Run(db, TENANT, period, None, limits, chunk=3).execute()) == whole
    assert outcome_report(Run(db, TENANT, period, None, limits, chunk=3, workers=2).execute()) == whole
    assert sliced_runs == [True]
    assert whole[0]["sessions"] == 40 and whole[0]["exceptions"] == {"mismatch": 40}


def test_uncommitted_sessions_are_re_rated_in_this_process(db, sliced_runs):
    seed_random(db, 5, 40)
    add_session(db, "UNCOMMITTED", datetime(2026, 3, 10, 12, tzinfo=UTC), rating=None)
    db.flush()  # written in this transaction only: worker connections could not see it
    one = reconcile(db, TENANT, "monthly", "2026-03", workers=1, chunk=5, emit_events=False)
    two = reconcile(db, TENANT, "monthly", "2026-03", workers=2, chunk=5, emit_events=False, pool_min=1)
    assert sliced_runs == [False]
    assert any(e["session_id"] == "UNCOMMITTED" for e in one["exceptions"])
    assert (two["summary"], two["rows"], two["exceptions"]) == (one["summary"], one["rows"], one["exceptions"])
    db.rollback()

"""The ingestion pipeline on PostgreSQL (``EVBILL_TEST_PG_URL``): dedupe under concurrency, row locks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from connector.billing.intake import DatabaseSink, RatingOnly
from connector.models.session_event import parse_event
from connector.storage.db import make_engine
from tests.api.pg import fresh_database, pg_available

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_sink() -> Iterator[DatabaseSink]:
    """A throw-away database: a shared one may hold tables from an older schema (CI keeps its server)."""
    if not pg_available():
        pytest.skip("PostgreSQL not reachable (EVBILL_TEST_PG_URL); run scripts/setup_system.sh")
    from connector.models import Tariff
    from tests.ingest.conftest import TOU_TARIFF

    with fresh_database() as url:
        engine = make_engine(url)
        try:
            yield DatabaseSink(engine, RatingOnly([Tariff.model_validate(TOU_TARIFF)]))
        finally:
            engine.dispose()


def test_pipeline_on_postgres(pg_sink) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    t0, t15, t30 = "2026-11-24T10:00:00Z", "2026-11-24T10:15:00Z", "2026-11-24T10:30:00Z"
    pg_sink.ingest(tenant, parse_event({"event_id": "s", "type": "start", "session_id": "S", "timestamp": t0,
                                        "session": {"start": t0}}))
    updates = [parse_event({"event_id": f"u{i}", "type": "update", "session_id": "S", "timestamp": t15,
                            "meter_samples": [[t15, "12"]]}) for i in range(4)]
    end = parse_event({"event_id": "e", "type": "end", "session_id": "S", "timestamp": t30,
                       "session": {"end": t30, "energy_kwh": "18.2"}})
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda e: pg_sink.ingest(tenant, e), updates))
        outcomes = list(pool.map(lambda _: pg_sink.ingest(tenant, end), range(12)))
    assert [o.status for o in outcomes].count("accepted") == 1
    assert {str(o.total_cost) for o in outcomes} == {"5.81"}
    assert pg_sink.interim_cost(tenant, "S", parse_event(end.model_dump()).timestamp) is None  # ended
    doc = pg_sink.load_session(tenant, "S")
    assert [s["energy_kwh"] for s in doc["meter_samples"]] == ["12"]

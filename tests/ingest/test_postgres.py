"""The ingestion pipeline on PostgreSQL (``EVBILL_TEST_PG_URL``): dedupe under concurrency, row locks."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from connector.billing.intake import DatabaseSink, RatingOnly
from connector.models.session_event import parse_event
from connector.storage.db import make_engine

PG_URL = os.environ.get("EVBILL_TEST_PG_URL", "postgresql+psycopg://evbill:evbill@127.0.0.1:5432/evbill_test")
pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_sink(request):
    try:
        with create_engine(PG_URL, connect_args={"connect_timeout": 3}).connect() as conn:
            conn.execute(text("select 1"))
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc.orig}")
    from connector.models import Tariff
    from tests.ingest.conftest import TOU_TARIFF

    return DatabaseSink(make_engine(PG_URL), RatingOnly([Tariff.model_validate(TOU_TARIFF)]))


def test_pipeline_on_postgres(pg_sink) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"  # the tables are shared across runs: a tenant per run
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

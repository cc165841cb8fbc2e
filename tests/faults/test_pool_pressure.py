"""Pool pressure: one gunicorn worker with 40 threads (more than its 30 pooled connections would allow at
two connections a request) takes 40 duplicates of one keyed session end and 40 other keyed sessions at
once. No answer is a 500, the duplicates bill one session once, every other session once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from connector.storage.db import make_engine
from tests.api.conftest import TARIFF
from tests.faults.burst import end_event, lines_per_session
from tests.faults.processes import HEADERS, api
from tests.faults.test_kill_burst import url

__all__ = ["url"]


@pytest.mark.timeout(600)
def test_threads_beyond_the_pool_get_answers_not_500s(url: str) -> None:
    run = f"P{int(time.time() * 1000) % 10**8}"
    dup = end_event(run, 0)
    others = [end_event(run, i) for i in range(1, 41)]
    with api(url, workers=1, threads=40) as server:
        assert requests.post(server.base + "/v1/tariffs", json=TARIFF, headers=HEADERS, timeout=10).status_code == 201

        def post(event: dict, key: str) -> tuple[int, str]:
            r = requests.post(server.base + "/v1/sessions/events", json=event, timeout=120,
                              headers={**HEADERS, "Idempotency-Key": key})
            return r.status_code, r.headers.get("Retry-After", "")

        jobs = [(dup, f"key-{run}-dup")] * 40 + [(e, f"key-{e['event_id']}") for e in others]
        with ThreadPoolExecutor(80) as pool:
            answers = list(pool.map(lambda job: post(*job), jobs))
        statuses = sorted({status for status, _ in answers})
        assert all(s in (200, 202, 409, 503) for s in statuses), answers
        assert all(after for status, after in answers if status in (409, 503))  # told when to come back
        # whatever was told to come back, comes back once more and is answered
        for (event, key), (status, _) in zip(jobs, answers, strict=True):
            if status in (409, 503):
                deadline = time.monotonic() + 60
                while (again := post(event, key)[0]) in (409, 503) and time.monotonic() < deadline:
                    time.sleep(0.5)
                assert again in (200, 202)
    engine = make_engine(url)
    try:
        counts = lines_per_session(engine, [dup["session_id"]] + [e["session_id"] for e in others])
    finally:
        engine.dispose()
    assert set(counts.values()) == {1}, counts

"""The batch rating pool: what it sends to its processes rates exactly as here, the output is identical and in
order whether a batch runs here or in the pool, the pool is started once and reused, a dead pool process
costs nothing but time."""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Iterator, Sequence

import pytest

from connector.config import ConfigError, RatingSettings
from connector.models import Tariff
from connector.rating import RatingOptions, rate
from connector.spreadsheets import batch_pool
from connector.spreadsheets.batch_csv import rate_csv
from connector.spreadsheets.batch_pool import RatingJob, chunk_size
from tests.rating.corpus.cases import cases, outcome

TOU = {"id": "TOU", "currency": "EUR", "elements": [
    {"price_components": [{"type": "ENERGY", "price": "0.55", "vat": "19", "step_size": 1}],
     "restrictions": {"start_time": "17:00", "end_time": "21:00"}},
    {"price_components": [{"type": "PARKING_TIME", "price": "6.00", "vat": "19", "step_size": 60}],
     "restrictions": {"x_min_idle_duration": 900}},
    {"price_components": [{"type": "ENERGY", "price": "0.39", "vat": "19", "step_size": 1},
                          {"type": "TIME", "price": "1.20", "vat": "19", "step_size": 60}]}]}


@pytest.fixture(autouse=True)
def _stop_pools() -> Iterator[None]:
    yield
    batch_pool.shutdown()


def test_a_job_sent_to_a_pool_process_rates_every_corpus_case_identically() -> None:
    """The job crosses to a pool process as JSON documents: rated after that trip, every raw-session and CDR
    case of the identical-output corpus (versions, customers, options, refusals) gives the same text."""
    checked = 0
    for number, (name, run) in enumerate(cases()):
        if not name.startswith(("session/", "cdr/")) or number % 4:  # a quarter of them keeps the test short
            continue
        args = run.__defaults__
        assert args is not None
        if name.startswith("session/"):
            subject, tariffs, customer, options = args
        else:
            (subject, tariff, options), customer = args, None
            tariffs = [tariff]
        travelled = pickle.loads(pickle.dumps(RatingJob(tariffs, customer, options)))
        assert travelled.tariffs is not tariffs
        here = outcome(run)
        there = outcome(lambda s=subject, j=travelled: rate(s, j.tariffs, j.customer, j.options))
        assert there == here, name
        checked += 1
    assert checked > 900


def _pids(_job: RatingJob, items: Sequence[int]) -> list[tuple[int, int]]:
    return [(item, os.getpid()) for item in items]


def _dies_in_a_pool_process(_job: RatingJob, items: Sequence[tuple[int, int]]) -> list[int]:
    if any(os.getpid() != parent for parent, _ in items):
        os._exit(1)
    return [item * 2 for _, item in items]


JOB = RatingJob([Tariff.model_validate(TOU)], None, RatingOptions())


def test_order_kept_pool_started_once_and_reused() -> None:
    items = list(range(1000))
    first = batch_pool.rate_batch(_pids, JOB, items, processes=2, min_sessions=10)
    second = batch_pool.rate_batch(_pids, JOB, items, processes=2, min_sessions=10)
    assert [i for i, _ in first] == items == [i for i, _ in second]
    workers = {pid for _, pid in first}
    assert os.getpid() not in workers and 1 <= len(workers) <= 2
    assert {pid for _, pid in second} <= workers  # the same processes: reused, not started again


def test_small_batches_and_a_pool_of_one_stay_here() -> None:
    assert {pid for _, pid in batch_pool.rate_batch(_pids, JOB, list(range(9)), processes=2, min_sessions=10)} == \
        {os.getpid()}
    assert {pid for _, pid in batch_pool.rate_batch(_pids, JOB, list(range(500)), processes=1, min_sessions=1)} == \
        {os.getpid()}
    assert batch_pool._executors == {}


def test_a_dead_pool_process_means_the_batch_is_rated_here() -> None:
    items = list(range(300))
    assert batch_pool.rate_batch(_dies_in_a_pool_process, JOB, [(os.getpid(), i) for i in items], processes=2,
                                 min_sessions=10) == [i * 2 for i in items]
    assert batch_pool._executors == {}  # the broken pool was dropped; the next batch starts a new one
    assert {pid for _, pid in batch_pool.rate_batch(_pids, JOB, items, processes=2, min_sessions=10)} - {os.getpid()}


def test_chunks_a_few_per_process_and_bounded() -> None:
    assert chunk_size(1000, 2) == 125
    assert chunk_size(3, 2) == 1
    assert chunk_size(10_000_000, 2) == batch_pool.MAX_CHUNK


def _csv(rows: int) -> str:
    lines = ["session_id,start,end,energy_kwh,time_zone,charging_ended_at"]
    for i in range(rows):
        day, hour, minutes = 1 + i % 28, i % 24, 5 + (i * 37) % 600
        end_h, end_m = divmod(hour * 60 + minutes, 60)
        end = f"2026-03-{day:02d}T{end_h:02d}:{end_m:02d}:00Z" if end_h < 24 else ""
        charged = f"2026-03-{day:02d}T{hour:02d}:{1 + i % 4:02d}:00Z" if i % 3 == 0 else ""
        energy = "x" if i % 97 == 5 else f"{(i * 7919) % 60000 / 1000}"
        lines.append(f"S{i},2026-03-{day:02d}T{hour:02d}:00:00Z,{end},{energy},Europe/Berlin,{charged}")
    return "\n".join(lines) + "\n"


def test_csv_batch_identical_here_and_in_the_pool() -> None:
    source = _csv(700)
    outputs: list[tuple[str, tuple[int, int]]] = []
    for processes in (1, 2):
        target = io.StringIO()
        counts = rate_csv(io.StringIO(source), target, [Tariff.model_validate(TOU)], RatingOptions(),
                          processes=processes, min_sessions=10)
        outputs.append((target.getvalue(), counts))
    assert outputs[0] == outputs[1]
    text, (ok, bad) = outputs[0]
    assert bad > 0 and ok > 500 and len(text.splitlines()) == 701


def test_pool_settings() -> None:
    assert RatingSettings.from_environ({}).processes == (os.cpu_count() or 1)
    assert RatingSettings.from_environ({"EVBILL_RATING_PROCESSES": "3"}).processes == 3
    with pytest.raises(ConfigError, match="EVBILL_RATING_PROCESSES: must be at least 1"):
        RatingSettings.from_environ({"EVBILL_RATING_PROCESSES": "0"})
    with pytest.raises(ConfigError, match="EVBILL_RATING_POOL_MIN_SESSIONS"):
        RatingSettings.from_environ({"EVBILL_RATING_POOL_MIN_SESSIONS": "many"})

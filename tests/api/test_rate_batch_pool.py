"""POST /v1/rate/batch answers byte for byte the same whether the API worker rates the batch itself or its
rating pool does (EVBILL_RATING_PROCESSES): results in order, errors naming their field, exact totals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from connector.spreadsheets import batch_pool
from tests.api.conftest import TARIFF, A, make_app

TOU: dict[str, Any] = {"id": "TOU", "currency": "EUR", "elements": [
    {"price_components": [{"type": "ENERGY", "price": "0.20", "vat": "19", "step_size": 1}],
     "restrictions": {"x_customer_classes": ["fleet"]}},
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


def sessions(count: int) -> list[Any]:
    out: list[Any] = []
    for i in range(count):
        day, hour, minutes = 1 + i % 28, i % 24, 5 + (i * 37) % 600
        session: dict[str, Any] = {
            "id": f"S{i}", "start": f"2026-03-{day:02d}T{hour:02d}:00:00Z",
            "energy_kwh": f"{(i * 7919) % 60000 / 1000}", "time_zone": ("Europe/Berlin", "America/New_York")[i % 2]}
        end_h, end_m = divmod(hour * 60 + minutes, 60)
        session["end"] = f"2026-03-{day + end_h // 24:02d}T{end_h % 24:02d}:{end_m:02d}:00Z"
        if i % 3 == 0:
            session["charging_ended_at"] = f"2026-03-{day:02d}T{hour:02d}:{1 + i % 4:02d}:00Z"
        if i % 41 == 7:
            session = ["not", "an", "object"]  # type: ignore[assignment]
        elif i % 43 == 9:
            session["energy_kwh"] = "a lot"
        elif i % 47 == 11:
            session["end"] = "2026-01-01T00:00:00Z"  # before its start
        out.append(session)
    return out


def answers(url: str, processes: int) -> list[bytes]:
    client = make_app(url, RATING_PROCESSES=processes, RATING_POOL_MIN_SESSIONS=20).test_client()
    got = []
    for body in ({"sessions": sessions(400), "tariff_id": "TOU", "customer_id": "C-FLEET"},
                 {"sessions": sessions(300), "tariff_id": "TOU", "options": {"rounding": "line_half_even"}},
                 {"sessions": sessions(250), "tariff": [TARIFF, {**TARIFF, "start_date_time": "2026-03-15T00:00:00Z",
                  "elements": TOU["elements"][1:]}], "customer_class": "fleet"},
                 {"sessions": sessions(10), "tariff_id": "TOU"}):
        r = client.post("/v1/rate/batch", json=body, headers=A)
        assert r.status_code == 200, r.text
        got.append(r.get_data())
    return got


def test_batch_identical_in_this_process_and_in_the_pool(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    client = make_app(url).test_client()
    assert client.post("/v1/tariffs", json=TOU, headers=A).status_code == 201
    assert client.post("/v1/customers", json={"id": "C-FLEET", "customer_class": "fleet"},
                       headers=A).status_code == 201
    here = answers(url, 1)
    assert batch_pool._executors == {}
    pooled = answers(url, 2)
    assert batch_pool._executors  # the large batches did go to the pool
    assert pooled == here
    app = make_app(url)
    with app.app_context():  # the items are encoded where they are rated: the answer is still the app's JSON
        assert [app.json.response(json.loads(body)).get_data() for body in here] == here
    first = make_app(url).test_client().post(
        "/v1/rate/batch", json={"sessions": sessions(400), "tariff_id": "TOU", "customer_id": "C-FLEET"},
        headers=A).get_json()
    assert [item["index"] for item in first["results"]] == list(range(400))
    refused = {item["index"]: item["error"] for item in first["results"] if not item["ok"]}
    assert refused[7] == {"field": "sessions[7]", "detail": "sessions[7]: expected an object"}
    assert refused[9]["field"] == "sessions[9].energy_kwh"
    assert refused[11]["field"] == "sessions[11].end"
    assert first["totals"]["currency"] == "EUR" and first["totals"]["amount_due"] != "0.00"

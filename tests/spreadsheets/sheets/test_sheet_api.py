"""``POST /v1/rate/sheet`` on the real app: per-row results equal the core, tenant-scoped tariffs, limits."""

from __future__ import annotations

from typing import Any

from connector.models import Tariff
from connector.spreadsheets.rating import rate_rows
from tests.spreadsheets.sheets.conftest import TOU, A, B

ROWS: list[list[Any]] = [[10, 60, "2026-01-13T14:00", "T-TOU"], ["10", 60, "2026-01-13T07:30", "T-TOU"],
                         [10, 60, 46035.583333333336, "T-TOU", "fleet"], [None, None, None, None],
                         [-1, 60, "2026-01-13T14:00", "T-TOU"], [10, 60, "2026-01-13T14:00", "T-OTHER"]]


def test_one_call_rates_the_range_like_the_core(client: Any) -> None:
    r = client.post("/v1/rate/sheet", json={"rows": ROWS, "time_zone": "Europe/Berlin"}, headers=A)
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert (body["count"], body["time_zone"]) == (6, "Europe/Berlin")
    core = [x.to_dict() for x in rate_rows(ROWS, lambda i: [Tariff.model_validate(TOU)] if i == "T-TOU" else None,
                                           "Europe/Berlin")]
    assert body["results"] == core
    assert [x.get("cost_incl_tax") for x in body["results"]] == ["4.76", "3.57", "2.98", None, None, None]
    assert body["results"][3] == {"ok": True, "blank": True}
    assert body["results"][4] == {"ok": False, "error": "#ERROR: kwh: must not be negative"}
    assert body["results"][5] == {"ok": False, "error": "#ERROR: tariff_id: tariff 'T-OTHER' does not exist"}


def test_default_zone_from_app_config_and_tenant_scope(tmp_path: Any) -> None:
    from tests.spreadsheets.sheets.conftest import make_app

    app = make_app(f"sqlite:///{tmp_path / 'z.db'}", DEFAULT_TIME_ZONE="America/New_York")
    c = app.test_client()
    assert c.post("/v1/tariffs", json=TOU, headers=A).status_code == 201
    rows = [[10, 60, "2026-01-14T00:30:00Z", "T-TOU"]]  # 19:30 in New York: half peak
    assert c.post("/v1/rate/sheet", json={"rows": rows}, headers=A).get_json()["results"][0]["cost_incl_tax"] == "3.57"
    other = c.post("/v1/rate/sheet", json={"rows": rows}, headers=B).get_json()["results"][0]
    assert other == {"ok": False, "error": "#ERROR: tariff_id: tariff 'T-TOU' does not exist"}


def problem(r: Any, status: int, field: str) -> None:
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.mimetype == "application/problem+json"
    assert field in [e["field"] for e in r.get_json()["errors"]]


def test_request_level_errors_are_problems(client: Any) -> None:
    problem(client.post("/v1/rate/sheet", json={"rows": "A1:D9"}, headers=A), 422, "rows")
    problem(client.post("/v1/rate/sheet", json={"rows": [], "time_zone": "Mars/Base"}, headers=A), 422, "time_zone")
    problem(client.post("/v1/rate/sheet", json={"rows": [], "tariff": {}}, headers=A), 422, "tariff")
    too_many = [[1, 1, "2026-01-13T14:00", "T-TOU"]] * 10001
    problem(client.post("/v1/rate/sheet", json={"rows": too_many}, headers=A), 413, "rows")
    assert client.post("/v1/rate/sheet", json={"rows": []}).status_code == 401


def test_ten_thousand_rows_in_one_call(app: Any) -> None:
    app.config["SHEET_TIME_BUDGET_SECONDS"] = 600  # capacity, not speed: a loaded CI box must not hit the budget
    rows = [[i % 50 + 1, 30, "2026-01-13T09:00", "T-TOU"] for i in range(10000)]
    r = app.test_client().post("/v1/rate/sheet", json={"rows": rows, "time_zone": "UTC"}, headers=A)
    results = r.get_json()["results"]
    assert len(results) == 10000 and all(x["ok"] for x in results)
    assert results[0]["cost_incl_tax"] == "0.48" and results[49]["cost_incl_tax"] == "23.80"  # 1 and 50 kWh at 0.40


def test_the_time_budget_is_a_setting(tmp_path: Any) -> None:
    from tests.spreadsheets.sheets.conftest import make_app

    app = make_app(f"sqlite:///{tmp_path / 'b.db'}", SHEET_TIME_BUDGET_SECONDS=-1)  # already over budget
    c = app.test_client()
    assert c.post("/v1/tariffs", json=TOU, headers=A).status_code == 201
    body = c.post("/v1/rate/sheet", json={"rows": ROWS[:1]}, headers=A).get_json()
    assert body["results"] == [{"ok": False, "retry": True, "error": "#ERROR: row: not rated within the time "
                                                                    "budget; recalculate, or split the range"}]

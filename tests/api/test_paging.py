"""Cursor paging and date/status filters of the list endpoints (what the low-code pickers and x-ms-pageable
follow): every item exactly once across pages, in the list's order, even when items are added meanwhile."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from connector.api import ENGINE_KEY
from tests.api.conftest import TARIFF, A, B, assert_problem, make_app
from tests.api.pg import fresh_database, pg_available


@pytest.fixture(params=["sqlite", "postgresql"])
def client(request, tmp_path):
    """The app on SQLite and on a fresh PostgreSQL database (keyset comparisons of timestamps differ)."""
    if request.param == "sqlite":
        yield make_app(f"sqlite:///{tmp_path / 'api.db'}").test_client()
        return
    if not pg_available():
        pytest.skip("PostgreSQL not reachable (EVBILL_TEST_PG_URL); run scripts/setup_system.sh")
    with fresh_database() as url:
        app = make_app(url)
        yield app.test_client()
        app.extensions[ENGINE_KEY].dispose()  # let the database be dropped


def walk(client, url: str, headers: dict = A) -> tuple[list[dict[str, Any]], int]:
    """Every item of a list, following next links as a client must (as given); the number of pages."""
    items, pages = [], 0
    while url:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        items += body["items"]
        pages += 1
        url = body.get("next")
        if url:
            parts = urlsplit(url)
            assert parts.scheme == "http" and parts.path, url  # absolute, on this API
            url = f"{parts.path}?{parts.query}"
    return items, pages


def start(client, session_id: str, at: str, headers: dict = A) -> None:
    event = {"event_id": f"{session_id}:start", "type": "start", "session_id": session_id, "timestamp": at,
             "session": {"start": at, "station_id": "DE*EVB*E1", "tariff_id": TARIFF["id"], "time_zone": "UTC"}}
    response = client.post("/v1/sessions/events", json=event, headers=headers)
    assert response.status_code == 202, response.get_data(as_text=True)


def test_customers_page_in_id_order_and_a_new_item_is_neither_lost_nor_repeated(client):
    for n in (1, 3, 5, 7, 9):
        assert client.post("/v1/customers", json={"id": f"C-{n}"}, headers=A).status_code == 201
    first = client.get("/v1/customers?limit=2", headers=A).get_json()
    assert [c["id"] for c in first["items"]] == ["C-1", "C-3"]
    # a customer added between pages, before and after the cursor
    for new in ("C-0", "C-8"):
        assert client.post("/v1/customers", json={"id": new}, headers=A).status_code == 201
    rest, pages = walk(client, urlsplit(first["next"]).path + "?" + urlsplit(first["next"]).query)
    assert [c["id"] for c in rest] == ["C-5", "C-7", "C-8", "C-9"] and pages == 2
    everything, pages = walk(client, "/v1/customers?limit=3")
    assert [c["id"] for c in everything] == ["C-0", "C-1", "C-3", "C-5", "C-7", "C-8", "C-9"] and pages == 3
    assert walk(client, "/v1/customers", headers=B) == ([], 1)  # another tenant sees none of them


def test_tariffs_page_and_the_last_page_has_no_next(client):
    for n in range(3):
        assert client.post("/v1/tariffs", json={**TARIFF, "id": f"T-{n}"}, headers=A).status_code == 201
    exact = client.get("/v1/tariffs?limit=3", headers=A).get_json()
    assert [t["id"] for t in exact["items"]] == ["T-0", "T-1", "T-2"] and "next" not in exact
    items, pages = walk(client, "/v1/tariffs?limit=1")
    assert [t["id"] for t in items] == ["T-0", "T-1", "T-2"] and pages == 3


def test_sessions_filter_by_start_and_status_and_page_through_equal_starts(client):
    assert client.post("/v1/tariffs", json=TARIFF, headers=A).status_code == 201
    starts = {"S-a": "2026-01-12T23:30:00Z", "S-b": "2026-01-13T08:00:00Z", "S-c": "2026-01-13T08:00:00Z",
              "S-d": "2026-01-13T20:00:00Z", "S-e": "2026-01-14T00:00:00Z"}
    for session_id, at in starts.items():
        start(client, session_id, at)
    items, pages = walk(client, "/v1/sessions?limit=2")
    # newest first; the two sessions that started at the same instant come in id order
    assert [s["id"] for s in items] == ["S-e", "S-d", "S-b", "S-c", "S-a"] and pages == 3
    day, _ = walk(client, "/v1/sessions?start_from=2026-01-13&start_to=2026-01-13&limit=1")
    assert [s["id"] for s in day] == ["S-d", "S-b", "S-c"]
    window, _ = walk(client, "/v1/sessions?start_from=2026-01-13T08:00:00Z&start_to=2026-01-13T20:00:00%2B00:00")
    assert [s["id"] for s in window] == ["S-b", "S-c"]
    active, _ = walk(client, "/v1/sessions?status=active&customer_id=nobody")
    assert active == []


def test_invoices_filter_by_status_and_creation_date_and_page(client):
    assert client.post("/v1/tariffs", json=TARIFF, headers=A).status_code == 201
    customer = {"id": "C-42", "invoice_per_session": True}
    assert client.post("/v1/customers", json=customer, headers=A).status_code == 201
    for n in range(3):
        event = {"event_id": f"S-{n}:end", "type": "end", "session_id": f"S-{n}", "timestamp": "2026-01-13T15:00:00Z",
                 "session": {"start": "2026-01-13T14:00:00Z", "end": "2026-01-13T15:00:00Z", "energy_kwh": "10",
                             "tariff_id": TARIFF["id"], "customer_id": "C-42", "time_zone": "UTC"}}
        response = client.post("/v1/sessions/events", json=event, headers=A)
        assert response.status_code in (200, 202), response.get_data(as_text=True)
    items, pages = walk(client, "/v1/invoices?limit=2")
    assert len(items) == 3 and len({i["id"] for i in items}) == 3 and pages == 2
    assert {i["gross_total"] for i in items} == {"3.57"}
    assert client.post(f"/v1/invoices/{items[0]['id']}/finalize", headers=A).status_code == 200
    drafts, _ = walk(client, "/v1/invoices?status=draft&limit=1")
    assert [i["id"] for i in drafts] == [i["id"] for i in items[1:]]
    assert walk(client, "/v1/invoices?created_from=2000-01-01&created_to=2000-01-31")[0] == []
    assert len(walk(client, "/v1/invoices?created_from=2000-01-01")[0]) == 3
    assert_problem(client.get("/v1/invoices?status=lost", headers=A), 422, "status")


def test_invoices_filter_by_kind_separates_credit_notes(client):
    assert client.post("/v1/tariffs", json=TARIFF, headers=A).status_code == 201
    assert client.post("/v1/customers", json={"id": "C-42", "invoice_per_session": True}, headers=A).status_code == 201
    for n in range(2):
        event = {"event_id": f"S-{n}:end", "type": "end", "session_id": f"S-{n}", "timestamp": "2026-01-13T15:00:00Z",
                 "session": {"start": "2026-01-13T14:00:00Z", "end": "2026-01-13T15:00:00Z", "energy_kwh": "10",
                             "tariff_id": TARIFF["id"], "customer_id": "C-42", "time_zone": "UTC"}}
        assert client.post("/v1/sessions/events", json=event, headers=A).status_code in (200, 202)
    invoices, _ = walk(client, "/v1/invoices")
    first = invoices[0]["id"]
    assert client.post(f"/v1/invoices/{first}/finalize", headers=A).status_code == 200
    response = client.post(f"/v1/invoices/{first}/credit-notes", json={"amount": "1.19"}, headers=A)
    assert response.status_code == 201, response.get_data(as_text=True)
    note = response.get_json()
    notes, _ = walk(client, "/v1/invoices?kind=credit_note&limit=1")
    assert [(n["id"], n["kind"], n["credit_note_of"], n["gross_total"]) for n in notes] == [
        (note["id"], "credit_note", first, "1.19")]
    only_invoices, _ = walk(client, "/v1/invoices?kind=invoice&limit=1")
    assert sorted(i["id"] for i in only_invoices) == sorted(i["id"] for i in invoices)
    assert {i["kind"] for i in only_invoices} == {"invoice"}
    assert walk(client, "/v1/invoices?kind=credit_note&status=draft")[0] == []
    assert_problem(client.get("/v1/invoices?kind=refund", headers=A), 422, "kind")


def test_reconciliations_list_filters_and_pages(client):
    for kind, period in (("daily", "2026-01-12"), ("daily", "2026-01-13"), ("monthly", "2026-01")):
        response = client.post("/v1/reconciliations", json={"kind": kind, "period": period}, headers=A)
        assert response.status_code == 201, response.get_data(as_text=True)
    items, pages = walk(client, "/v1/reconciliations?limit=2")
    assert [r["period"] for r in items] == ["2026-01", "2026-01-13", "2026-01-12"] and pages == 2
    assert items[0]["summary"]["sessions"] == 0 and "rows" not in items[0]
    daily, _ = walk(client, "/v1/reconciliations?kind=daily&period_from=2026-01-13")
    assert [r["period"] for r in daily] == ["2026-01-13"]
    january, _ = walk(client, "/v1/reconciliations?period_from=2026-01-20&period_to=2026-01-31")
    assert [r["period"] for r in january] == ["2026-01"]


@pytest.mark.parametrize("query, field", [("limit=0", "limit"), ("limit=x", "limit"), ("cursor=%25%25", "cursor"),
                                          ("cursor=Qy1ub25l", "cursor"), ("start_from=yesterday", "start_from"),
                                          ("start_to=2026-01-13T00:00:00", "start_to")])
def test_bad_paging_arguments_are_a_400_naming_the_field(app, query, field):
    client = app.test_client()
    assert client.post("/v1/customers", json={"id": "C-1"}, headers=A).status_code == 201
    path = "/v1/sessions" if field.startswith("start") else "/v1/customers"
    assert_problem(client.get(f"{path}?{query}", headers=A), 400, field)

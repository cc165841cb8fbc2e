"""``GET /v1/events`` through the real app, on SQLite and PostgreSQL: the tenant's stored events after real
billing activity, exactly as a webhook receives them; type and date filters, paging, tenant isolation,
refusals naming the field, and retention (the list holds what it keeps)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from connector.events import retention, worker
from connector.events.outbox import emit
from connector.events.subscriptions import EVENT_TYPES
from connector.storage.tables.outbox import EventRow
from tests.api.conftest import assert_problem
from tests.events.receiver import Receiver, running
from tests.events.test_api import A, B, client
from tests.paths import REPO

# energy only, 19 % VAT: 10 kWh at 0.30 -> 3.00 net, 3.57 gross; at 0.50 -> 5.00 net, 5.95 gross
V1 = {"id": "T-EV", "currency": "EUR", "elements": [{"price_components": [
    {"type": "ENERGY", "price": "0.30", "vat": "19", "step_size": 1}]}]}
V2 = {"currency": "EUR", "elements": [{"price_components": [
    {"type": "ENERGY", "price": "0.50", "vat": "19", "step_size": 1}]}]}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def send(c: Any, session_id: str, kind: str, at: str, headers: dict = A, samples: list | None = None,
         **session: Any) -> None:
    body: dict[str, Any] = {"event_id": f"{session_id}:{kind}:{at}", "type": kind, "session_id": session_id,
                            "timestamp": at, "session": session}
    if samples:
        body["meter_samples"] = samples
    ok(c.post("/v1/sessions/events", json=body, headers=headers), 202)


def walk(c: Any, url: str, headers: dict = A) -> tuple[list[dict[str, Any]], int]:
    """Every item, following the next links as given; the number of pages."""
    items, pages = [], 0
    while url:
        body = ok(c.get(url, headers=headers))
        items += body["items"]
        pages += 1
        url = body.get("next")
        if url:
            url = f"{urlsplit(url).path}?{urlsplit(url).query}"
    return items, pages


def billing_activity(c: Any) -> dict[str, Any]:
    """A billed session corrected after a price change (session.rerated), then a session still charging
    priced on the way (session.interim)."""
    ok(c.post("/v1/tariffs", json=V1, headers=A), 201)
    send(c, "S-B", "start", "2026-01-13T14:00:00Z", start="2026-01-13T14:00:00Z", tariff_id="T-EV")
    send(c, "S-B", "end", "2026-01-13T15:00:00Z", end="2026-01-13T15:00:00Z", energy_kwh="10")
    version = {"effective_at": "2026-01-13T00:00:00Z", "policy": "apply_from_effective_time", "tariff": V2}
    ok(c.post("/v1/tariffs/T-EV/versions", json=version, headers=A), 201)
    corrected = ok(c.post("/v1/billing/corrections", json={"session_ids": ["S-B"], "reason": "energy price was wrong"},
                          headers=A))
    send(c, "S-I", "start", "2026-01-13T16:00:00Z", start="2026-01-13T16:00:00Z", tariff_id="T-EV")
    send(c, "S-I", "update", "2026-01-13T16:30:00Z", samples=[["2026-01-13T16:30:00Z", "5"]])
    interim = ok(c.post("/v1/billing/interim", json={"as_of": "2026-01-13T16:30:00Z"}, headers=A))
    return {"corrected": corrected, "interim": interim}


def test_events_of_real_activity_are_listed_as_webhooks_receive_them(engine: Engine, db: Session) -> None:
    c = client(engine)
    with running(Receiver()) as rec:
        ok(c.post("/v1/subscriptions", headers=A, json={"callback_url": rec.url + "/in",
                                                       "event_types": ["session.interim", "session.rerated"]}), 201)
        done = billing_activity(c)
        worker.run_once(engine, datetime.now(UTC) + timedelta(seconds=1))
    assert done["corrected"]["sessions"][0]["difference"] == {"net": "2.00", "gross": "2.38"}
    assert [r["session_id"] for r in done["interim"]["results"]] == ["S-I"]

    interim = ok(c.get("/v1/events?type=session.interim", headers=A))
    assert "next" not in interim and len(interim["items"]) == 1
    event = interim["items"][0]
    assert sorted(event) == ["created_at", "data", "id", "tenant_id", "type"]
    assert (event["id"], event["type"], event["tenant_id"]) == (done["interim"]["results"][0]["event_id"],
                                                               "session.interim", "A")
    data = event["data"]
    assert data["session"]["id"] == "S-I" and data["as_of"] == "2026-01-13T16:30:00+00:00"
    # 5 kWh at 0.50 (the version in force): 2.50 net, 0.475 VAT -> 2.98 due
    assert data["rating"]["final"] is False
    assert data["rating"]["total_cost"] == {"excl_vat": "2.5000", "incl_vat": "2.9750"}
    assert data["rating"]["invoice"]["amount_due"] == "2.98"

    rerated = ok(c.get("/v1/events?type=session.rerated", headers=A))["items"]
    assert len(rerated) == 1
    data = rerated[0]["data"]
    assert (data["session"]["id"], data["policy"]) == ("S-B", "correction")
    assert data["before"]["invoice"]["amount_due"] == "3.57" and data["after"]["invoice"]["amount_due"] == "5.95"
    assert data["before"]["total_cost"] == {"excl_vat": "3.0000", "incl_vat": "3.5700"}
    assert data["after"]["total_cost"] == {"excl_vat": "5.0000", "incl_vat": "5.9500"}
    assert data["difference"] == {"net": "2.00", "gross": "2.38"}

    # the webhook got the same two events, byte for byte the same JSON as the list answers
    received = {json.loads(r["body"])["id"]: json.loads(r["body"]) for r in rec.requests}
    assert received == {e["id"]: e for e in [event, *rerated]}

    # unfiltered: every event of the tenant, newest first, the two above among them
    everything, _ = walk(c, "/v1/events")
    stamps = [e["created_at"] for e in everything]
    assert stamps == sorted(stamps, reverse=True)
    assert {"session.billed", "session.rerated", "session.interim"} <= {e["type"] for e in everything}
    assert everything[0] == event  # the interim run was the last thing that happened
    stored = set(db.scalars(select(EventRow.id).where(EventRow.tenant_id == "A")))
    assert len(everything) == len(stored) and {e["id"] for e in everything} == stored


def test_another_tenant_sees_none_of_them(engine: Engine) -> None:
    c = client(engine)
    billing_activity(c)
    assert ok(c.get("/v1/events", headers=B)) == {"items": []}
    assert ok(c.get("/v1/events?type=session.interim", headers=B)) == {"items": []}
    first = ok(c.get("/v1/events?limit=1", headers=A))
    # A's cursor means nothing to B: the item it points at is not in B's list
    cursor = dict(p.split("=", 1) for p in urlsplit(first["next"]).query.split("&"))["cursor"]
    assert_problem(c.get(f"/v1/events?cursor={cursor}", headers=B), 400, "cursor")


def _emit_at(db: Session, tenant: str, type_: str, at: datetime, n: int) -> dict[str, Any]:
    return emit(db, tenant, type_, {"anomaly": {"id": f"an_{n}"}} if type_ == "billing.anomaly"
                else {"invoice": {"id": f"inv_{n}"}}, created_at=at)


def test_pages_hold_every_event_once_in_order_with_filters(engine: Engine, db: Session) -> None:
    c = client(engine)
    t0 = datetime(2026, 1, 13, 12, 0, tzinfo=UTC)
    made = []
    for n in range(7):  # two events share each instant: ties come in id order
        at = t0 + timedelta(hours=n // 2)
        made.append(_emit_at(db, "A", "billing.anomaly" if n % 3 == 0 else "invoice.paid", at, n))
    _emit_at(db, "B", "invoice.paid", t0, 99)
    db.commit()
    newest_first = sorted(made, key=lambda e: (-datetime.fromisoformat(e["created_at"]).timestamp(), e["id"]))
    expected = [e["id"] for e in newest_first]
    items, pages = walk(c, "/v1/events?limit=2")
    assert [e["id"] for e in items] == expected and pages == 4
    paid, pages = walk(c, "/v1/events?type=invoice.paid&limit=1")
    assert [e["id"] for e in paid] == [e["id"] for e in newest_first if e["type"] == "invoice.paid"]
    assert pages == len(paid) == 4
    # a page's next link keeps the filter; an event added meanwhile is neither lost nor repeated
    first = ok(c.get("/v1/events?type=billing.anomaly&limit=1", headers=A))
    assert "type=billing.anomaly" in first["next"]
    older = _emit_at(db, "A", "billing.anomaly", t0 - timedelta(hours=1), 100)  # older than all: on the last page
    db.commit()
    rest, _ = walk(c, f"{urlsplit(first['next']).path}?{urlsplit(first['next']).query}")
    anomalies = [first["items"][0]["id"], *[e["id"] for e in rest]]
    assert anomalies == [made[6]["id"], made[3]["id"], made[0]["id"], older["id"]]
    # created_from includes, created_to excludes a date-time and includes a whole date
    window, _ = walk(c, "/v1/events?created_from=2026-01-13T13:00:00Z&created_to=2026-01-13T14:00:00Z")
    assert sorted(e["id"] for e in window) == sorted(e["id"] for e in made[2:4])
    assert len(walk(c, "/v1/events?created_from=2026-01-13&created_to=2026-01-13")[0]) == 8
    assert walk(c, "/v1/events?created_to=2026-01-12")[0] == []


@pytest.mark.parametrize(("query", "status", "field"), [
    ("type=session.bill", 422, "type"), ("type=*", 422, "type"), ("limit=0", 400, "limit"),
    ("limit=1001", 400, "limit"), ("limit=ten", 400, "limit"), ("cursor=%%%", 400, "cursor"),
    ("cursor=ZXZ0X25vcGU", 400, "cursor"), ("created_from=yesterday", 400, "created_from"),
    ("created_to=2026-01-13T00:00:00", 400, "created_to"),
])
def test_bad_queries_are_refused_naming_the_field(engine: Engine, query: str, status: int, field: str) -> None:
    body = assert_problem(client(engine).get(f"/v1/events?{query}", headers=A), status, field)
    if field == "type":
        assert "session.interim" in body["errors"][0]["reason"]


def test_limits_at_the_edges_are_accepted(engine: Engine) -> None:
    c = client(engine)
    assert ok(c.get("/v1/events?limit=1", headers=A)) == {"items": []}
    assert ok(c.get("/v1/events?limit=1000", headers=A)) == {"items": []}


def test_the_list_holds_what_retention_keeps(engine: Engine, db: Session) -> None:
    c = client(engine)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    old = _emit_at(db, "A", "invoice.paid", now - timedelta(days=100), 1)
    new = _emit_at(db, "A", "invoice.paid", now - timedelta(days=1), 2)
    db.execute(update(EventRow).values(fanned_out=True))  # no subscriber: nothing to deliver
    db.commit()
    assert [e["id"] for e in ok(c.get("/v1/events", headers=A))["items"]] == [new["id"], old["id"]]
    retention.prune(engine, now, events_older_than=timedelta(days=90), idempotency_older_than=timedelta(hours=24))
    assert [e["id"] for e in ok(c.get("/v1/events", headers=A))["items"]] == [new["id"]]


def test_the_spec_lists_the_public_event_types() -> None:
    spec = yaml.safe_load((REPO / "openapi" / "openapi.yaml").read_text())
    parameter = next(p for p in spec["paths"]["/v1/events"]["get"]["parameters"] if p.get("name") == "type")
    assert parameter["schema"]["enum"] == list(EVENT_TYPES)
    assert spec["components"]["schemas"]["Event"]["properties"]["type"]["enum"] == list(EVENT_TYPES)

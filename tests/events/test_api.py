"""The events API through the real app: subscriptions, deliveries (dead letters, redelivery)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from connector.api import create_app
from connector.events import worker
from connector.events.deliveries import Policy
from connector.events.outbox import emit
from tests.events.receiver import Receiver, running

A, B = {"X-API-Key": "key-a"}, {"X-API-Key": "key-b"}


def client(engine: Engine) -> Any:
    app = create_app({"ENGINE": engine, "DATABASE_URL": str(engine.url), "API_KEYS": {"key-a": "A", "key-b": "B"},
                      "TESTING": True})
    return app.test_client()


def test_subscription_lifecycle(engine: Engine) -> None:
    c = client(engine)
    created = c.post("/v1/subscriptions", headers=A, json={"callback_url": "https://example.com/hook",
                                                          "event_types": ["session.billed", "invoice.paid"]})
    assert created.status_code == 201, created.text
    sub = created.get_json()
    assert sub["secret"].startswith("whsec_") and len(sub["secret"]) == 54
    assert sub["event_types"] == ["session.billed", "invoice.paid"]
    assert created.headers["Location"].endswith(f"/v1/subscriptions/{sub['id']}")
    listed = c.get("/v1/subscriptions", headers=A).get_json()["items"]
    assert [s["id"] for s in listed] == [sub["id"]] and "secret" not in listed[0]
    assert c.get("/v1/subscriptions", headers=B).get_json()["items"] == []
    assert c.delete(f"/v1/subscriptions/{sub['id']}", headers=B).status_code == 404
    assert c.delete(f"/v1/subscriptions/{sub['id']}", headers=A).status_code == 204
    assert c.delete(f"/v1/subscriptions/{sub['id']}", headers=A).status_code == 404
    bad = c.post("/v1/subscriptions", headers=A, json={"callback_url": "https://example.com/hook",
                                                      "event_types": ["session.bill"]})
    assert bad.status_code == 422 and "event_types" in bad.text


def test_dead_letters_listed_and_redelivered(engine: Engine, db: Session) -> None:
    c = client(engine)
    t0 = datetime(2026, 1, 13, 15, 30, tzinfo=UTC)
    policy = Policy(max_attempts=2, base_delay=1, lease_seconds=30)
    with running(Receiver([(500, {}), (502, {})])) as rec:
        sub = c.post("/v1/subscriptions", headers=A,
                     json={"callback_url": rec.url + "/in", "event_types": ["invoice.paid"]}).get_json()
        event = emit(db, "A", "invoice.paid", {"invoice": {"id": "inv_9", "amount_due": "0"}})
        db.commit()
        worker.run_once(engine, t0, policy=policy)
        worker.run_once(engine, t0 + timedelta(minutes=5), policy=policy)
        dead = c.get("/v1/deliveries?status=dead", headers=A).get_json()["items"]
        assert len(dead) == 1
        d = dead[0]
        assert (d["event_id"], d["target"], d["status"], d["attempts"]) == (event["id"], f"webhook:{sub['id']}",
                                                                            "dead", 2)
        assert d["last_error"].startswith("HTTP 502 from http://127.0.0.1:")
        assert c.get("/v1/deliveries?status=dead", headers=B).get_json()["items"] == []
        assert c.get(f"/v1/deliveries/{d['id']}", headers=B).status_code == 404
        assert c.get("/v1/deliveries?status=lost", headers=A).status_code == 422
        assert c.post("/v1/deliveries/dlv_nope/redeliver", headers=A).status_code == 404
        again = c.post(f"/v1/deliveries/{d['id']}/redeliver", headers=A)
        assert again.status_code == 200 and again.get_json()["status"] == "pending"
        assert again.get_json()["attempts"] == 0
        assert c.post(f"/v1/deliveries/{d['id']}/redeliver", headers=A).status_code == 409  # already queued
        counts = worker.run_once(engine, datetime.now(UTC) + timedelta(seconds=1), policy=policy)
        assert counts["sent"] == 1
    got = c.get(f"/v1/deliveries/{d['id']}", headers=A).get_json()
    assert got["status"] == "sent" and got["result"] == {"status": "sent", "http_status": 200}
    assert len(rec.requests) == 3 and len({r["headers"]["Idempotency-Key"] for r in rec.requests}) == 1

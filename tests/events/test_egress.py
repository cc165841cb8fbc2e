"""Webhook targets: public addresses only unless EVBILL_WEBHOOK_ALLOW_PRIVATE_NETWORKS; link-local never.
Checked at subscription time (422 naming callback_url) and again by the worker before each delivery."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from connector.api import create_app
from connector.events import worker
from connector.events.deliveries import Policy, redeliver
from connector.events.envelope import EventError
from connector.events.outbox import emit
from connector.events.subscriptions import create_subscription
from connector.security import egress
from tests.events.receiver import Receiver, running
from tests.events.test_webhook_delivery import only_row

T0 = datetime(2026, 1, 13, 15, 30, tzinfo=UTC)
POLICY = Policy(max_attempts=3, base_delay=10, max_delay=600, lease_seconds=60)


def resolver_to(*addresses: str):
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(("url", "addresses", "allow", "refused"), [
    ("https://flow.example/cb", ["20.50.2.1"], False, None),
    ("https://flow.example/cb", ["2a01:111:f100::1"], False, None),
    ("https://flow.example/cb", ["20.50.2.1", "10.0.0.7"], False, "10.0.0.7) is a loopback or private"),
    ("https://flow.example/cb", ["10.0.0.7"], True, None),
    ("http://127.0.0.1:8080/cb", [], False, "127.0.0.1 is a loopback or private"),
    ("http://127.0.0.1:8080/cb", [], True, None),
    ("http://[::1]/cb", [], False, "::1 is a loopback or private"),
    ("http://[::ffff:127.0.0.1]/cb", [], False, "is a loopback or private"),
    ("http://192.168.1.20/cb", [], True, None),
    ("http://169.254.169.254/latest/meta-data/", [], True, "169.254.169.254 is a link-local address"),
    ("http://metadata.google.internal/", ["169.254.169.254"], True, "(169.254.169.254) is a link-local"),
    ("http://[fe80::1%25eth0]/cb", [], True, "link-local"),
    ("http://0.0.0.0:5000/cb", [], True, "multicast or unspecified"),
    ("http://224.0.0.1/cb", [], True, "multicast or unspecified"),
    ("http://240.0.0.1/cb", [], True, "a reserved address"),
    ("http://100.64.0.1/cb", [], True, "a reserved address"),  # carrier-grade NAT, not ours to reach
    ("ftp://flow.example/cb", [], True, "not an absolute http(s) URL"),
])
def test_check_url(url: str, addresses: list[str], allow: bool, refused: str | None) -> None:
    if refused is None:
        egress.check_url(url, allow_private=allow, resolver=resolver_to(*addresses))
    else:
        with pytest.raises(egress.EgressRefused, match=refused.replace("(", r"\(").replace(")", r"\)")):
            egress.check_url(url, allow_private=allow, resolver=resolver_to(*addresses))


def test_unresolvable_host_passes_the_check() -> None:
    def down(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    egress.check_url("https://flow.example/cb", allow_private=False, resolver=down)


def test_the_switch_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(egress.ALLOW_PRIVATE_ENV, "false")
    assert not egress.allow_private_networks()
    with pytest.raises(egress.EgressRefused):
        egress.check_url("http://localhost:9/cb")  # /etc/hosts: the system resolver gives loopback
    monkeypatch.setenv(egress.ALLOW_PRIVATE_ENV, "true")
    egress.check_url("http://localhost:9/cb")


def test_api_refuses_private_and_metadata_targets(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(egress.ALLOW_PRIVATE_ENV, "false")
    app = create_app({"ENGINE": engine, "DATABASE_URL": str(engine.url), "API_KEYS": {"key-a": "A"},
                      "TESTING": True})
    c = app.test_client()
    for url in ("http://127.0.0.1:5000/hook", "http://localhost:5000/hook", "http://169.254.169.254/latest"):
        r = c.post("/v1/subscriptions", headers={"X-API-Key": "key-a"},
                   json={"callback_url": url, "event_types": ["session.billed"]})
        assert r.status_code == 422 and r.mimetype == "application/problem+json", r.text
        problem = r.get_json()
        assert problem["errors"][0]["field"] == "callback_url", problem
        assert "not a permitted webhook target" in problem["errors"][0]["reason"], problem
    assert c.get("/v1/subscriptions", headers={"X-API-Key": "key-a"}).get_json()["items"] == []


def test_worker_dead_letters_a_target_that_became_private(engine: Engine, db: Session,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    with running(Receiver()) as rec:
        create_subscription(db, "t1", rec.url + "/hook", ["session.billed"])  # allowed when created
        emit(db, "t1", "session.billed", {"invoice": {"id": "inv_1"}}, created_at=T0)
        db.commit()
        monkeypatch.setenv(egress.ALLOW_PRIVATE_ENV, "false")  # the operator closes the private network
        assert worker.run_once(engine, T0, policy=POLICY)["failed"] == 1
        row = only_row(db)
        assert row.status == "failed" and row.attempts == 1  # permanent: not retried
        assert "callback URL refused: 127.0.0.1 is a loopback or private address" in (row.last_error or "")
        assert rec.requests == []
        monkeypatch.setenv(egress.ALLOW_PRIVATE_ENV, "true")
        redeliver(db, "t1", row.id, now=T0)
        db.commit()
        assert worker.run_once(engine, T0, policy=POLICY)["sent"] == 1
    assert len(rec.requests) == 1


def test_create_subscription_raises_a_field_error(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(egress.ALLOW_PRIVATE_ENV, "false")
    with pytest.raises(EventError) as caught:
        create_subscription(db, "t1", "http://10.1.2.3/hook", ["session.billed"])
    assert caught.value.field == "callback_url"
    assert "10.1.2.3 is a loopback or private address" in caught.value.reason

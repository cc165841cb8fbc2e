"""Idempotency-Key: same key + same body replays; same key + other body is a 409 problem."""

from __future__ import annotations

from tests.api.conftest import TARIFF, A, B, assert_problem


def test_same_key_same_body_replays(client):
    headers = {**A, "Idempotency-Key": "k-1"}
    first = client.post("/v1/tariffs", json=TARIFF, headers=headers)
    second = client.post("/v1/tariffs", json=TARIFF, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.get_json() == first.get_json() and second.headers["Location"] == first.headers["Location"]
    # without the key the second create is a real conflict
    assert_problem(client.post("/v1/tariffs", json=TARIFF, headers=A), 409, "id")


def test_same_key_other_body_conflicts(client):
    headers = {**A, "Idempotency-Key": "k-2"}
    assert client.post("/v1/customers", json={"id": "C-1"}, headers=headers).status_code == 201
    assert_problem(client.post("/v1/customers", json={"id": "C-2"}, headers=headers), 409, "Idempotency-Key")
    assert client.get("/v1/customers/C-2", headers=A).status_code == 404


def test_keys_are_per_tenant(client):
    assert client.post("/v1/customers", json={"id": "C-1"}, headers={**A, "Idempotency-Key": "k"}).status_code == 201
    r = client.post("/v1/customers", json={"id": "C-1"}, headers={**B, "Idempotency-Key": "k"})
    assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers


def test_errors_are_replayed_but_5xx_release_the_key(client, app):
    headers = {**A, "Idempotency-Key": "k-3"}
    bad = client.post("/v1/customers", json={"id": ""}, headers=headers)
    again = client.post("/v1/customers", json={"id": ""}, headers=headers)
    assert bad.status_code == again.status_code == 422 and again.headers["Idempotent-Replayed"] == "true"


def test_5xx_releases_the_key(app):
    from connector.api.idempotency import idempotent

    calls = []

    @app.post("/v1/flaky")
    @idempotent
    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("transient")
        return {"ok": True}, 201

    client = app.test_client()
    headers = {**A, "Idempotency-Key": "k-4"}
    assert_problem(client.post("/v1/flaky", json={}, headers=headers), 500)
    retry = client.post("/v1/flaky", json={}, headers=headers)
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers
    replay = client.post("/v1/flaky", json={}, headers=headers)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true" and len(calls) == 2

"""OCPI 2.2.1 routes on their own: the request/response headers, pagination of the tariffs list, and
refusals that leave nothing half-done (no partner involved)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.fernet import Fernet

from connector.api import create_app

KEY = "test-key-a"
STATIC = "static-token-1"


def tariff(tariff_id: str) -> dict[str, Any]:
    return {"country_code": "NL", "party_id": "EVB", "id": tariff_id, "currency": "EUR",
            "elements": [{"price_components": [{"type": "ENERGY", "price": 0.30, "step_size": 1}]}],
            "last_updated": "2026-11-01T00:00:00Z"}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


@pytest.fixture
def client(tmp_path: Any, request: pytest.FixtureRequest) -> Any:
    key = getattr(request, "param", Fernet.generate_key().decode())
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}", "API_KEYS": {KEY: "A"},
                      "CREATE_TABLES": True, "OCPI_TOKENS": {STATIC: "A"}, "OCPI_TOKEN_KEY": key,
                      "OCPI_COUNTRY_CODE": "NL", "OCPI_PARTY_ID": "EVB"})
    return app.test_client()


def test_answers_echo_the_request_ids_and_swap_the_parties(client: Any) -> None:
    r = client.get("/ocpi/versions", headers={**auth(STATIC), "X-Request-ID": "req-1", "X-Correlation-ID": "cor-1",
                                              "OCPI-from-country-code": "DE", "OCPI-from-party-id": "ABC"})
    assert r.status_code == 200 and r.json["status_code"] == 1000
    assert (r.headers["X-Request-ID"], r.headers["X-Correlation-ID"]) == ("req-1", "cor-1")
    assert (r.headers["OCPI-from-country-code"], r.headers["OCPI-from-party-id"]) == ("NL", "EVB")
    assert (r.headers["OCPI-to-country-code"], r.headers["OCPI-to-party-id"]) == ("DE", "ABC")
    fresh = client.get("/ocpi/2.2.1", headers=auth(STATIC))
    assert fresh.headers["X-Request-ID"] and fresh.headers["X-Correlation-ID"]
    identifiers = {(e["identifier"], e["role"]) for e in fresh.json["data"]["endpoints"]}
    assert {("credentials", "RECEIVER"), ("cdrs", "RECEIVER"), ("tariffs", "RECEIVER"), ("tariffs", "SENDER"),
            ("sessions", "RECEIVER")} <= identifiers
    refused = client.get("/ocpi/versions", headers=auth("nobody"))
    assert refused.status_code == 401 and refused.json["status_code"] == 2000
    assert refused.headers["X-Request-ID"]


def test_tariffs_list_is_paginated_with_link_and_counts(client: Any) -> None:
    for tariff_id in ("T-A", "T-B", "T-C"):
        assert client.post("/v1/tariffs", json=tariff(tariff_id), headers={"X-API-Key": KEY}).status_code == 201
    first = client.get("/ocpi/2.2.1/tariffs?limit=2", headers=auth(STATIC))
    assert [t["id"] for t in first.json["data"]] == ["T-A", "T-B"]
    assert (first.headers["X-Total-Count"], first.headers["X-Limit"]) == ("3", "2")
    link = first.headers["Link"]
    assert link.endswith('; rel="next"') and "offset=2" in link and "limit=2" in link
    nxt = link[link.index("<") + 1:link.index(">")].replace("http://localhost", "")
    second = client.get(nxt, headers=auth(STATIC))
    assert [t["id"] for t in second.json["data"]] == ["T-C"] and "Link" not in second.headers
    assert client.get("/ocpi/2.2.1/tariffs?limit=x", headers=auth(STATIC)).json["status_code"] == 2001


def test_bad_credentials_leave_the_invitation_usable(client: Any) -> None:
    invite = client.post("/v1/ocpi/partners", headers={"X-API-Key": KEY}).json
    r = client.post("/ocpi/2.2.1/credentials", json={"token": "abc", "roles": [{"role": "CPO"}]},
                    headers=auth(invite["token"]))
    assert r.status_code == 400 and r.json["status_code"] == 2001 and r.json["status_message"] == "url: required"
    assert client.get("/ocpi/versions", headers=auth(invite["token"])).status_code == 200  # token A still valid
    assert client.get("/ocpi/2.2.1/credentials", headers=auth(invite["token"])).status_code == 401  # not registered
    listed = client.get("/v1/ocpi/partners", headers={"X-API-Key": KEY}).json["items"]
    assert [p["status"] for p in listed] == ["invited"] and "token" not in listed[0]


def test_a_tariff_whose_ids_do_not_match_the_url_is_refused(client: Any) -> None:
    r = client.put("/ocpi/2.2.1/tariffs/NL/PTN/OTHER", json={**tariff("T1"), "party_id": "PTN"}, headers=auth(STATIC))
    assert r.status_code == 400 and r.json["status_code"] == 2001
    assert client.get("/v1/tariffs", headers={"X-API-Key": KEY}).json["items"] == []


@pytest.mark.parametrize("client", [None], indirect=True)
def test_registering_without_a_token_key_is_refused_before_any_call(client: Any) -> None:
    r = client.post("/v1/ocpi/partners", json={"versions_url": "http://127.0.0.1:9/ocpi/versions", "token": "a"},
                    headers={"X-API-Key": KEY})
    assert r.status_code == 422 and "EVBILL_TOKEN_KEY" in r.get_data(as_text=True)
    assert client.get("/v1/ocpi/partners", headers={"X-API-Key": KEY}).json["items"] == []

"""CORS for the Office.js custom-functions runtime: only configured origins, preflight without a key."""

from __future__ import annotations

from tests.api.conftest import SESSION, TARIFF, A, make_app

ORIGIN = "https://addin.example.com"


def test_cors_allows_configured_origin_only(sqlite_url):
    client = make_app(sqlite_url, CORS_ORIGINS=[ORIGIN]).test_client()
    preflight = client.options("/v1/rate", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-api-key"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "x-api-key" in preflight.headers["Access-Control-Allow-Headers"].lower()
    r = client.post("/v1/rate", json={"session": SESSION, "tariff": TARIFF}, headers={**A, "Origin": ORIGIN})
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == ORIGIN
    other = client.post("/v1/rate", json={"session": SESSION, "tariff": TARIFF},
                        headers={**A, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_cors_off_by_default(client):
    r = client.post("/v1/rate", json={"session": SESSION, "tariff": TARIFF}, headers={**A, "Origin": ORIGIN})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers

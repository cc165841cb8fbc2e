"""The contract at its edges: limit and status refused (never clamped or ignored), ISO currencies only, fixed
point numbers, 413 for a chunked body past the limit, settings of the inbound integrations from the
environment, Location behind a trusted proxy."""

from __future__ import annotations

import re

import pytest
import requests

from connector.api import create_app
from tests.api.conftest import KEY_A, TARIFF, A, assert_problem, make_app
from tests.api.test_idempotency_faults import serve


@pytest.mark.parametrize("path", ["/v1/sessions", "/v1/ledger/entries", "/v1/audit-log", "/v1/anomalies",
                                  "/v1/deliveries"])
@pytest.mark.parametrize("limit", ["0", "1001", "-5", "ten"])
def test_limit_outside_1_to_1000_is_refused_everywhere(client, path, limit):
    assert_problem(client.get(path, query_string={"limit": limit}, headers=A), 400, "limit")


@pytest.mark.parametrize("path", ["/v1/sessions", "/v1/invoices", "/v1/deliveries"])
def test_unknown_status_is_refused(client, path):
    assert_problem(client.get(path, query_string={"status": "bogus"}, headers=A), 422, "status")
    assert client.get(path, headers=A).status_code == 200


def test_currency_is_ascii_letters(client):
    tariff = {**TARIFF, "id": "T-UML", "currency": "ÄÖÜ"}
    assert_problem(client.post("/v1/tariffs", json=tariff, headers=A), 422, "tariff.currency")


def test_numbers_are_answered_in_fixed_point(client):
    assert client.post("/v1/tariffs", json=TARIFF, headers=A).status_code == 201
    event = {"event_id": "X:end", "type": "end", "session_id": "X", "timestamp": "2026-01-13T15:00:00Z",
             "session": {"start": "2026-01-13T14:00:00Z", "end": "2026-01-13T15:00:00Z", "energy_kwh": "1E+1",
                         "tariff_id": "T-EUR"}}
    assert client.post("/v1/sessions/events", json=event, headers=A).status_code == 202
    body = client.get("/v1/sessions/X", headers=A).get_data(as_text=True)
    assert re.findall(r"\d[eE][+-]?\d", body) == [] and '"energy_kwh":"10"' in body.replace(" ", "")


def test_a_chunked_body_past_the_limit_is_413(sqlite_url):
    app = make_app(sqlite_url, MAX_BODY_BYTES=64 * 1024)

    def body(megabytes: int):
        yield b'{"id": "C-BIG", "name": "'
        for _ in range(megabytes * 16):
            yield b"a" * 65536
        yield b'"}'

    with serve(app) as base:
        big = requests.post(base + "/v1/customers", data=body(1), headers={**A, "Content-Type": "application/json"},
                            timeout=30)
        small = requests.post(base + "/v1/customers", data=(b for b in [b'{"id": "C-S"}']),
                              headers={**A, "Content-Type": "application/json"}, timeout=30)
    assert big.status_code == 413 and big.headers["Content-Type"] == "application/problem+json"
    assert small.status_code == 201


def test_inbound_integration_secrets_come_from_the_environment(monkeypatch, sqlite_url):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("EVBILL_API_KEYS", f"{KEY_A}=A")
    monkeypatch.setenv("EVBILL_CHARGEPOINT_WEBHOOK_SECRET", "cp-secret")
    monkeypatch.setenv("CHARGEPOINT_TENANT_ID", "A")
    monkeypatch.setenv("EVBILL_OCPI_TOKENS", "tok-1=A")
    app = create_app()  # what `evbill serve` builds
    assert app.config["CHARGEPOINT_WEBHOOK_SECRET"] == "cp-secret" and app.config["CHARGEPOINT_TENANT_ID"] == "A"
    assert app.config["OCPI_TOKENS"] == {"tok-1": "A"}
    client = app.test_client()
    unsigned = client.post("/v1/ingest/chargepoint/sessions", json={}, headers={"Content-Type": "application/json"})
    assert unsigned.status_code in (400, 401), unsigned.get_data(as_text=True)  # configured: checks the signature
    ocpi = [r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/ocpi/") and "GET" in (r.methods or ())]
    assert ocpi, "an OCPI GET route"


def test_location_follows_x_forwarded_behind_a_trusted_proxy(sqlite_url):
    proxied = {**A, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "billing.example.org",
               "X-Forwarded-Prefix": "/evbill"}
    trusting = make_app(sqlite_url, TRUSTED_PROXIES=1).test_client()
    r = trusting.post("/v1/customers", json={"id": "C-PX"}, headers=proxied)
    assert r.status_code == 201 and r.headers["Location"] in (
        "https://billing.example.org/evbill/v1/customers/C-PX", "/evbill/v1/customers/C-PX")
    untrusting = make_app(sqlite_url).test_client()  # default: the headers are ignored (anyone can send them)
    r = untrusting.post("/v1/customers", json={"id": "C-PY"}, headers=proxied)
    assert "example.org" not in r.headers["Location"] and "/evbill" not in r.headers["Location"]

"""Tenants are isolated; API keys (hashed) and Entra ID JWTs authenticate; HMAC signatures verify."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.cli import main
from connector.security import hmac_sign
from connector.storage.db import make_engine
from connector.storage.tables.core import ApiKeyRow
from tests.api.conftest import SESSION, TARIFF, A, B, assert_problem, make_app
from tests.platforms.fakes.server import LocalServer, reply

ISSUER = "https://login.microsoftonline.com/tid-a/v2.0"
AUDIENCE = "api://evbill"


def test_tenant_a_cannot_touch_tenant_b(client):
    assert client.post("/v1/tariffs", json=TARIFF, headers=B).status_code == 201
    assert client.post("/v1/customers", json={"id": "C-B"}, headers=B).status_code == 201
    event = {"event_id": "e1", "type": "start", "session_id": "S-B", "timestamp": "2026-01-13T14:00:00Z",
             "session": {"start": "2026-01-13T14:00:00Z", "tariff_id": "T-EUR"}}
    assert client.post("/v1/sessions/events", json=event, headers=B).status_code == 202
    # read
    assert_problem(client.get("/v1/tariffs/T-EUR", headers=A), 404)
    assert_problem(client.get("/v1/customers/C-B", headers=A), 404)
    assert_problem(client.get("/v1/sessions/S-B", headers=A), 404)
    # list
    for path in ("/v1/tariffs", "/v1/customers", "/v1/sessions"):
        assert client.get(path, headers=A).get_json()["items"] == [], path
        assert len(client.get(path, headers=B).get_json()["items"]) == 1, path
    # rate against
    assert_problem(client.post("/v1/rate", json={"session": SESSION, "tariff_id": "T-EUR"}, headers=A), 404)
    assert_problem(client.post("/v1/rate", json={"session": SESSION, "tariff": TARIFF, "customer_id": "C-B"},
                               headers=A), 404)
    # modify
    assert_problem(client.patch("/v1/customers/C-B", json={"name": "x"}, headers=A), 404)
    v2 = {"effective_at": "2026-02-01T00:00:00Z", "tariff": TARIFF}
    assert_problem(client.post("/v1/tariffs/T-EUR/versions", json=v2, headers=A), 404)
    # the same ids are free for A: its own tariff does not see B's versions
    assert client.post("/v1/tariffs", json={**TARIFF, "currency": "USD"}, headers=A).status_code == 201
    assert client.get("/v1/tariffs/T-EUR", headers=B).get_json()["currency"] == "EUR"
    same_event = client.post("/v1/sessions/events", json={**event, "session_id": "S-A"}, headers=A)
    assert same_event.status_code == 202 and same_event.get_json()["status"] == "accepted"  # event ids per tenant
    assert client.get("/v1/customers/C-B", headers=B).get_json()["name"] is None


def test_missing_and_wrong_credentials(client):
    body = assert_problem(client.get("/v1/tariffs"), 401)
    assert "X-API-Key" in body["detail"]
    assert_problem(client.get("/v1/tariffs", headers={"X-API-Key": "wrong"}), 401)
    assert client.get("/v1/health").status_code == 200 and client.get("/v1/ready").status_code == 200


def test_apikey_command_stores_only_a_hash(sqlite_url, capsys):
    assert main(["apikey", "create", "--tenant", "T7", "--url", sqlite_url]) == 0
    key = capsys.readouterr().out.strip()
    with Session(make_engine(sqlite_url)) as db:
        rows = db.scalars(select(ApiKeyRow)).all()
    assert len(rows) == 1 and rows[0].tenant_id == "T7" and key not in (rows[0].key_hash, rows[0].prefix)
    client = make_app(sqlite_url).test_client()
    assert client.post("/v1/customers", json={"id": "C7"}, headers={"X-API-Key": key}).status_code == 201
    assert client.get("/v1/customers", headers=A).get_json()["items"] == []


# ------------------------------------------------------------------------------------------ JWT


@pytest.fixture(scope="module")
def rsa_keys():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": "k1", "use": "sig", "alg": "RS256"})
    return private, other, {"keys": [jwk]}


def token(key, **claims) -> str:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": AUDIENCE, "exp": now + 600, "iat": now, "tid": "tid-a", "roles": ["Billing.ReadWrite"]}
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, key, algorithm="RS256", headers={"kid": "k1"})


class JwksEndpoint(LocalServer):
    """Entra ID's signing keys at the v2.0 discovery path."""

    def __init__(self, jwks: dict) -> None:
        self.jwks = jwks
        super().__init__()

    def routes(self, app: Flask) -> None:
        @app.get("/discovery/v2.0/keys")
        def keys() -> Response:
            return reply(self.jwks)


@pytest.fixture(scope="module")
def jwks_server(rsa_keys):
    with JwksEndpoint(rsa_keys[2]) as endpoint:
        yield f"{endpoint.url}/discovery/v2.0/keys"


@pytest.mark.parametrize("source", ["served", "injected"])
def test_entra_id_bearer_tokens(sqlite_url, rsa_keys, jwks_server, source):
    private, other, jwks = rsa_keys
    config = {"JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE, "JWT_TENANT_MAP": {"tid-a": "A", "tid-b": "B"},
              "JWT_REQUIRED_ROLES": ["Billing.ReadWrite"]}
    config.update({"JWKS_URL": jwks_server} if source == "served" else {"JWKS": jwks})
    client = make_app(sqlite_url, **config).test_client()
    assert client.post("/v1/customers", json={"id": "C-B"}, headers=B).status_code == 201

    def call(tok: str):
        return client.get("/v1/customers", headers={"Authorization": f"Bearer {tok}"})

    ok = call(token(private))
    assert ok.status_code == 200 and ok.get_json()["items"] == []  # tenant A: does not see B's customer
    assert [c["id"] for c in call(token(private, tid="tid-b")).get_json()["items"]] == ["C-B"]
    scope_only = token(private, roles=None, scp="Billing.ReadWrite other")
    assert call(scope_only).status_code == 200
    assert "expired" in assert_problem(call(token(private, exp=int(time.time()) - 10)), 401)["detail"]
    assert "audience" in assert_problem(call(token(private, aud="api://other")), 401)["detail"]
    assert "issuer" in assert_problem(call(token(private, iss="https://evil.example/")), 401)["detail"]
    assert_problem(call(token(other)), 401)  # signed by a key not in the JWKS
    assert_problem(call(token(private, roles=["Reader"])), 403)
    assert_problem(call(token(private, tid="tid-unknown")), 403)
    assert_problem(call("not.a.jwt"), 401)
    unsigned = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60, "tid": "tid-a"}, None,
                          algorithm="none")
    assert_problem(call(unsigned), 401)


# ------------------------------------------------------------------------------------------ HMAC


def test_hmac_sign_and_verify():
    body = b'{"type":"session.billed","amount":"3.57"}'
    headers = hmac_sign.sign("s3cret", 1_700_000_000, body)
    ts, sig = headers[hmac_sign.TIMESTAMP_HEADER], headers[hmac_sign.SIGNATURE_HEADER]
    assert ts == "1700000000" and sig == "v1=" + hmac_sign.signature("s3cret", ts, body)
    import hashlib
    import hmac as std

    assert sig == "v1=" + std.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    hmac_sign.verify("s3cret", ts, body, sig, now=1_700_000_100)
    hmac_sign.verify(["old", "s3cret"], ts, body, "v1=deadbeef, " + sig, now=1_700_000_000)  # rotation
    with pytest.raises(hmac_sign.SignatureError, match="does not match"):
        hmac_sign.verify("s3cret", ts, body.replace(b"3.57", b"3.58"), sig, now=1_700_000_000)
    with pytest.raises(hmac_sign.SignatureError, match="tolerance"):
        hmac_sign.verify("s3cret", ts, body, sig, now=1_700_000_301)
    with pytest.raises(hmac_sign.SignatureError) as err:
        hmac_sign.verify("s3cret", None, body, sig)
    assert err.value.field == hmac_sign.TIMESTAMP_HEADER
    assert not hmac_sign.is_valid("s3cret", "abc", body, sig)
    assert not hmac_sign.is_valid("wrong", ts, body, sig, now=1_700_000_000)


# ------------------------------------------------------------------------- bearer config defaults


@pytest.mark.parametrize("missing", ["JWT_AUDIENCE", "JWT_ISSUER"])
def test_bearer_tokens_refuse_to_start_without_audience_and_issuer(sqlite_url, rsa_keys, missing):
    """Entra ID signs every tenant's tokens with the same keys: a JWKS without both an audience and an issuer
    would take a token minted for another application, and its ``tid`` as the tenant."""
    from connector.config import ConfigError

    config = {"JWKS": rsa_keys[2], "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE, missing: None}
    with pytest.raises(ConfigError, match=f"EVBILL_{missing}"):
        make_app(sqlite_url, **config)


def test_serve_refuses_a_jwks_url_without_audience(monkeypatch, capsys, sqlite_url):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("EVBILL_JWKS_URL", "https://login.microsoftonline.com/common/discovery/v2.0/keys")
    monkeypatch.delenv("EVBILL_JWT_AUDIENCE", raising=False)
    monkeypatch.setenv("EVBILL_JWT_ISSUER", ISSUER)
    assert main(["serve", "--bind", "127.0.0.1:1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "EVBILL_JWT_AUDIENCE" in err[0]


def test_bearer_tenant_longer_than_its_column_is_refused(sqlite_url, rsa_keys):
    private, _other, jwks = rsa_keys
    client = make_app(sqlite_url, JWKS=jwks, JWT_ISSUER=ISSUER, JWT_AUDIENCE=AUDIENCE).test_client()
    long_tid = client.get("/v1/customers", headers={"Authorization": f"Bearer {token(private, tid='t' * 65)}"})
    assert "tenant" in assert_problem(long_tid, 403)["detail"]
    ok = client.get("/v1/customers", headers={"Authorization": f"Bearer {token(private, tid='t' * 64)}"})
    assert ok.status_code == 200

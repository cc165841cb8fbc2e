"""The API's Flask config: the environment as ``create_app`` starts, under Flask keys; the caller's dict wins."""

from __future__ import annotations

import os

import pytest

from connector.api import config as api_config
from connector.api import create_app

KEYS = {"DATABASE_URL", "MAX_CONTENT_LENGTH", "JWT_ISSUER", "JWT_AUDIENCE", "JWKS_URL", "JWKS", "JWT_TENANT_CLAIM",
        "JWT_TENANT_MAP", "JWT_REQUIRED_ROLES", "CORS_ORIGINS", "API_KEYS", "CREATE_TABLES", "BATCH_MAX_SESSIONS",
        "IDEMPOTENCY_WAIT_SECONDS", "IDEMPOTENCY_LEASE_SECONDS", "DB_BUSY_TIMEOUT_SECONDS", "SHEET_TIME_BUDGET_SECONDS", "DEFAULT_TIME_ZONE",
        "MAX_DOCUMENT_BYTES", "MAX_SESSION_DAYS", "MAX_RATING_PERIODS", "RATING_PROCESSES",
        "RATING_POOL_MIN_SESSIONS", "INVOICE_VAT", "OCPI_COUNTRY_CODE", "OCPI_PARTY_ID",
        "OCPI_BUSINESS_NAME", "OCPI_TOKEN_KEY",
        "CHARGEPOINT_WEBHOOK_SECRET", "CHARGEPOINT_TENANT_ID", "OCPI_TOKENS", "TRUSTED_PROXIES"}


def test_defaults_under_flask_keys() -> None:
    flask = api_config.from_env({})
    assert set(flask) == KEYS
    assert flask["DATABASE_URL"] == "sqlite:///evbill.db" and flask["CREATE_TABLES"] is True
    assert (flask["MAX_CONTENT_LENGTH"], flask["BATCH_MAX_SESSIONS"]) == (16 * 1024 * 1024, 10000)
    assert flask["MAX_DOCUMENT_BYTES"] == 4 * 1024 * 1024
    assert (flask["SHEET_TIME_BUDGET_SECONDS"], flask["DEFAULT_TIME_ZONE"]) == (20.0, "UTC")
    assert (flask["MAX_SESSION_DAYS"], flask["MAX_RATING_PERIODS"]) == (62, 50_000)
    assert (flask["RATING_PROCESSES"], flask["RATING_POOL_MIN_SESSIONS"]) == (os.cpu_count() or 1, 200)
    assert flask["API_KEYS"] == {} and flask["CORS_ORIGINS"] == [] and flask["JWT_REQUIRED_ROLES"] == []
    assert (flask["OCPI_COUNTRY_CODE"], flask["OCPI_PARTY_ID"], flask["OCPI_TOKEN_KEY"]) == ("NL", "EVB", None)


def test_create_app_reads_the_environment_when_it_starts(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVBILL_BATCH_MAX_SESSIONS", "3")
    monkeypatch.setenv("EVBILL_DEFAULT_TIME_ZONE", "Europe/Berlin")
    monkeypatch.setenv("EVBILL_SHEET_TIME_BUDGET_SECONDS", "5")
    monkeypatch.setenv("EVBILL_API_KEYS", "k1=A")
    monkeypatch.setenv("EVBILL_MAX_BODY_BYTES", "2048")
    app = create_app({"DATABASE_URL": sqlite_url, "BATCH_MAX_SESSIONS": 7})
    assert app.config["BATCH_MAX_SESSIONS"] == 7  # the caller's dict wins
    assert (app.config["DEFAULT_TIME_ZONE"], app.config["SHEET_TIME_BUDGET_SECONDS"]) == ("Europe/Berlin", 5.0)
    assert app.config["API_KEYS"] == {"k1": "A"} and app.config["MAX_CONTENT_LENGTH"] == 2048
    monkeypatch.setenv("EVBILL_BATCH_MAX_SESSIONS", "ten")
    with pytest.raises(ValueError, match="EVBILL_BATCH_MAX_SESSIONS: 'ten' is not a whole number"):
        create_app({"DATABASE_URL": sqlite_url})

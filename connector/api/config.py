"""The API's Flask config: the settings of ``connector.config`` under Flask keys, then ``create_app``'s overrides.

See docs/api.md for the variables. Keys are Flask config keys (upper case).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.config import (
    ApiSettings,
    BillingSettings,
    ChargePointApiSettings,
    DatabaseSettings,
    OcpiSettings,
    PlatformsSettings,
    RatingSettings,
    SpreadsheetSettings,
)


def from_settings(database: DatabaseSettings, api: ApiSettings, spreadsheets: SpreadsheetSettings) -> dict[str, Any]:
    """The Flask config keys of the API's settings."""
    return {
        "DATABASE_URL": database.url,
        "MAX_CONTENT_LENGTH": api.max_body_bytes,
        "JWT_ISSUER": api.jwt_issuer,
        "JWT_AUDIENCE": api.jwt_audience,
        "JWKS_URL": api.jwks_url,
        "JWKS": None,  # an injected JWKS dict (tests, air-gapped installs) instead of JWKS_URL
        "JWT_TENANT_CLAIM": api.jwt_tenant_claim,
        "JWT_TENANT_MAP": dict(api.jwt_tenant_map),
        "JWT_REQUIRED_ROLES": list(api.jwt_roles),
        "CORS_ORIGINS": list(api.cors_origins),
        # plaintext keys from the environment: development only; production keys live hashed in api_keys
        "API_KEYS": dict(api.api_keys),
        "CREATE_TABLES": database.create_tables,
        "BATCH_MAX_SESSIONS": api.batch_max_sessions,
        "MAX_DOCUMENT_BYTES": api.max_document_bytes,
        "IDEMPOTENCY_WAIT_SECONDS": api.idempotency_wait_seconds,
        "IDEMPOTENCY_LEASE_SECONDS": api.idempotency_lease_seconds,
        "CHARGEPOINT_WEBHOOK_SECRET": api.chargepoint_webhook_secret,
        "OCPI_TOKENS": dict(api.ocpi_tokens),
        "TRUSTED_PROXIES": api.trusted_proxies,
        "SHEET_TIME_BUDGET_SECONDS": api.sheet_time_budget_seconds,
        "DB_BUSY_TIMEOUT_SECONDS": database.busy_timeout_seconds,
        "DEFAULT_TIME_ZONE": spreadsheets.default_time_zone,
    }


def from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The Flask config of the environment (default: the process environment, read now)."""
    flask = from_settings(DatabaseSettings.from_environ(environ), ApiSettings.from_environ(environ),
                          SpreadsheetSettings.from_environ(environ))
    rating = RatingSettings.from_environ(environ)
    flask.update({"MAX_SESSION_DAYS": rating.max_session_days, "MAX_RATING_PERIODS": rating.max_periods,
                  "RATING_PROCESSES": rating.processes, "RATING_POOL_MIN_SESSIONS": rating.pool_min_sessions})
    # how a finalized invoice states its VAT (docs/rating.md, "The invoice's VAT")
    flask["INVOICE_VAT"] = BillingSettings.from_environ(environ).invoice_vat
    # the ChargePoint webhook's sessions belong to the importer's tenant (one ChargePoint account, one tenant)
    flask["CHARGEPOINT_TENANT_ID"] = ChargePointApiSettings.from_environ(environ).tenant_id
    ocpi = OcpiSettings.from_environ(environ)
    flask.update({"OCPI_COUNTRY_CODE": ocpi.country_code, "OCPI_PARTY_ID": ocpi.party_id,
                  "OCPI_BUSINESS_NAME": ocpi.business_name,
                  # encrypts the tokens we call OCPI partners with (the same key as OAuth refresh tokens)
                  "OCPI_TOKEN_KEY": PlatformsSettings.from_environ(environ).token_key})
    return flask


def load(config: Any = None) -> dict[str, Any]:
    settings = from_env()
    if config is None:
        return settings
    if isinstance(config, dict):
        settings.update(config)
    else:
        settings.update({k: getattr(config, k) for k in dir(config) if k.isupper()})
    if "MAX_BODY_BYTES" in settings:
        settings["MAX_CONTENT_LENGTH"] = int(settings["MAX_BODY_BYTES"])
    return settings

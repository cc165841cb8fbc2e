"""API configuration: defaults from environment variables, overridden by the ``config`` given to ``create_app``.

See docs/api.md for the variables. Keys are Flask config keys (upper case).
"""

from __future__ import annotations

import json
import os
from typing import Any

from connector.storage.db import DEFAULT_DATABASE_URL


def _pairs(text: str) -> dict[str, str]:
    """``"a=b,c=d"`` (or a JSON object) → dict."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        return {str(k): str(v) for k, v in json.loads(text).items()}
    out: dict[str, str] = {}
    for part in text.split(","):
        if "=" in part:
            key, value = part.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def _list(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def from_env(env: dict[str, str] | None = None) -> dict[str, Any]:
    e = os.environ if env is None else env
    return {
        "DATABASE_URL": e.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        "MAX_CONTENT_LENGTH": int(e.get("EVBILL_MAX_BODY_BYTES", str(16 * 1024 * 1024))),
        "JWT_ISSUER": e.get("EVBILL_JWT_ISSUER") or None,
        "JWT_AUDIENCE": e.get("EVBILL_JWT_AUDIENCE") or None,
        "JWKS_URL": e.get("EVBILL_JWKS_URL") or None,
        "JWKS": None,  # an injected JWKS dict (tests, air-gapped installs) instead of JWKS_URL
        "JWT_TENANT_CLAIM": e.get("EVBILL_JWT_TENANT_CLAIM", "tid"),
        "JWT_TENANT_MAP": _pairs(e.get("EVBILL_JWT_TENANT_MAP", "")),
        "JWT_REQUIRED_ROLES": _list(e.get("EVBILL_JWT_ROLES", "")),
        "CORS_ORIGINS": _list(e.get("EVBILL_CORS_ORIGINS", "")),
        # plaintext keys from the environment: development only; production keys live hashed in api_keys
        "API_KEYS": _pairs(e.get("EVBILL_API_KEYS", "")),
        "CREATE_TABLES": e.get("EVBILL_CREATE_TABLES", "1") not in ("0", "false", "no"),
        "BATCH_MAX_SESSIONS": int(e.get("EVBILL_BATCH_MAX_SESSIONS", "10000")),
        "IDEMPOTENCY_WAIT_SECONDS": float(e.get("EVBILL_IDEMPOTENCY_WAIT_SECONDS", "10")),
    }


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

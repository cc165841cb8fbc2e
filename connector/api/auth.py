"""Authentication for every route except the public ones (health, readiness, the spec and docs page)."""

from __future__ import annotations

from flask import Flask, current_app, g, request
from flask.typing import ResponseReturnValue

from connector.api.context import read_only
from connector.api.errors import problem
from connector.security.auth import (
    AuthError,
    JwksCache,
    configured_key_tenant,
    tenant_from_api_key,
    tenant_from_bearer,
)

PUBLIC_ENDPOINTS = {"health.get_health", "health.get_ready", "docs.openapi_json", "docs.docs_page", "static"}
# Blueprints that authenticate their callers themselves (signed webhooks, OCPI tokens) add their prefix here.
PUBLIC_PREFIXES: list[str] = ["/ocpi/", "/v1/ingest/chargepoint/", "/v1/payments/webhooks/"]
JWKS_KEY = "evbill.jwks"


def register(app: Flask) -> None:
    app.extensions[JWKS_KEY] = JwksCache(app.config.get("JWKS"), app.config.get("JWKS_URL"))

    @app.before_request
    def _authenticate() -> ResponseReturnValue | None:
        if request.method == "OPTIONS" or request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if any(request.path.startswith(p) for p in PUBLIC_PREFIXES) or request.endpoint is None:
            return None
        try:
            key = request.headers.get("X-API-Key")
            auth = request.headers.get("Authorization", "")
            if key:
                tenant_id = configured_key_tenant(current_app.config, key)
                if tenant_id is None:  # a stored key: looked up on every request, so a revoked key stops at once
                    with read_only() as reader:
                        tenant_id = tenant_from_api_key(reader, current_app.config, key)
                g.tenant_id = tenant_id
                g.auth = "api_key"
            elif auth.lower().startswith("bearer "):
                g.tenant_id = tenant_from_bearer(current_app.config, current_app.extensions[JWKS_KEY],
                                                 auth[7:].strip())
                g.auth = "bearer"
            else:
                raise AuthError(401, "send an X-API-Key header or an Authorization: Bearer token")
        except AuthError as exc:
            response = problem(exc.status, "Unauthorized" if exc.status == 401 else "Forbidden", exc.detail)
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = 'Bearer, ApiKey header="X-API-Key"'
            return response
        return None

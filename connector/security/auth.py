"""Who is calling: a tenant API key (``X-API-Key``) or an Entra ID / Azure AD bearer JWT.

API keys: the SHA-256 of the key is looked up in ``api_keys`` (``evbill apikey create --tenant T``);
``API_KEYS`` in the config maps plaintext keys to tenants for development and tests.
Bearer tokens: RS256 signature against the JWKS (``JWKS_URL`` or an injected ``JWKS``), issuer, audience (both
required: ``check_bearer_config`` refuses a JWKS without them),
expiry, and — when ``JWT_REQUIRED_ROLES`` is set — one of those values in ``roles`` or ``scp``. The tenant
is the ``tid`` claim (``JWT_TENANT_CLAIM``), mapped through ``JWT_TENANT_MAP`` when given.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any

import jwt

from connector.config import ConfigError
from connector.models.limits import TENANT_ID_MAX
from connector.storage import repo


class AuthError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def configured_key_tenant(config: Mapping[str, Any], key: str) -> str | None:
    """The tenant of a development key from ``API_KEYS`` (compared in constant time), or None."""
    for known, tenant_id in (config.get("API_KEYS") or {}).items():
        if hmac.compare_digest(known.encode(), key.encode()):
            return str(tenant_id)
    return None


def tenant_from_api_key(db: repo.Reader, config: Mapping[str, Any], key: str) -> str:
    tenant_id = configured_key_tenant(config, key)
    if tenant_id is not None:
        return tenant_id
    tenant_id = repo.tenant_for_key(db, key)
    if tenant_id is None:
        raise AuthError(401, "the API key is not valid")
    return tenant_id


class JwksCache:
    """Signing keys by ``kid``: from the injected JWKS, else fetched from ``JWKS_URL`` (PyJWKClient caches)."""

    def __init__(self, jwks: dict[str, Any] | str | None, url: str | None) -> None:
        self.static = jwt.PyJWKSet.from_dict(json.loads(jwks) if isinstance(jwks, str) else jwks) if jwks else None
        self.client = jwt.PyJWKClient(url, cache_keys=True, lifespan=3600) if url and not jwks else None

    def key_for(self, token: str) -> Any:
        if self.static is not None:
            kid = jwt.get_unverified_header(token).get("kid")
            for key in self.static.keys:
                if kid is None or key.key_id == kid:
                    return key.key
            raise AuthError(401, "the token's signing key (kid) is not in the JWKS")
        if self.client is not None:
            try:
                return self.client.get_signing_key_from_jwt(token).key
            except jwt.PyJWKClientError as exc:
                raise AuthError(401, f"the token's signing key could not be found: {exc}") from exc
        raise AuthError(401, "bearer tokens are not configured on this server (EVBILL_JWKS_URL)")


def check_bearer_config(config: Mapping[str, Any]) -> None:
    """Bearer tokens need both an audience and an issuer: Entra ID signs every tenant's tokens with the same
    keys, so a JWKS alone would accept a token minted for another application by another issuer."""
    if not (config.get("JWKS") or config.get("JWKS_URL")):
        return
    missing = [name for key, name in (("JWT_AUDIENCE", "EVBILL_JWT_AUDIENCE"), ("JWT_ISSUER", "EVBILL_JWT_ISSUER"))
               if not config.get(key)]
    if missing:
        raise ConfigError(f"{' and '.join(missing)}: required when bearer tokens are configured (EVBILL_JWKS_URL); "
                          "without them a token of any application and issuer signed by the same keys is accepted")


def tenant_from_bearer(config: Mapping[str, Any], jwks: JwksCache, token: str) -> str:
    if not (config.get("JWT_AUDIENCE") and config.get("JWT_ISSUER")):
        raise AuthError(401, "bearer tokens need EVBILL_JWT_AUDIENCE and EVBILL_JWT_ISSUER on this server")
    try:
        key = jwks.key_for(token)
        claims = jwt.decode(
            token, key, algorithms=["RS256"], audience=config.get("JWT_AUDIENCE"), issuer=config.get("JWT_ISSUER"),
            options={"require": ["exp", "iss", "aud"], "verify_aud": True, "verify_iss": True},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError(401, "the bearer token has expired") from exc
    except jwt.InvalidAudienceError as exc:
        raise AuthError(401, "the bearer token's audience is not this API") from exc
    except jwt.InvalidIssuerError as exc:
        raise AuthError(401, "the bearer token's issuer is not trusted") from exc
    except jwt.PyJWTError as exc:
        raise AuthError(401, f"the bearer token is not valid: {exc}") from exc
    required = set(config.get("JWT_REQUIRED_ROLES") or [])
    if required:
        granted = set(claims.get("roles") or []) | set(str(claims.get("scp") or "").split())
        if not granted & required:
            raise AuthError(403, f"the token grants none of the required roles/scopes: {sorted(required)}")
    raw = claims.get(config.get("JWT_TENANT_CLAIM") or "tid")
    if not raw:
        raise AuthError(403, "the token carries no tenant claim")
    if not isinstance(raw, str) or len(raw) > TENANT_ID_MAX or not raw.isprintable():
        raise AuthError(403, f"the token's tenant claim is not a tenant id (text of at most {TENANT_ID_MAX} characters)")
    mapping = config.get("JWT_TENANT_MAP") or {}
    if mapping:
        if str(raw) not in mapping:
            raise AuthError(403, "the token's tenant is not registered with this API")
        return str(mapping[str(raw)])
    return str(raw)

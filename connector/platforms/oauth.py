"""OAuth 2.0 access tokens for platform adapters (client credentials or refresh token).

Why one helper: PayPal, Xero, QuickBooks (and F2's Zoho Books, FreshBooks, NetSuite, Concur) all need a
bearer token that is fetched once, reused until shortly before it expires, and fetched anew after a 401.
Xero and QuickBooks *rotate* refresh tokens: every refresh answers with a new one and the old one stops
working soon after, so the new one must be persisted at once (``on_refresh``) or the tenant is locked out.

The token request goes through the adapter's sender (``http.send``), so timeouts, logging and error
classification are the shared ones: a 4xx from the token endpoint (``invalid_grant``, bad client) is a
``PermanentError``, 429/5xx a ``RetryableError``. Secrets never appear in ``repr`` or in error messages.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from connector.platforms.errors import PermanentError

Grant = Literal["client_credentials", "refresh_token"]
AuthStyle = Literal["basic", "body"]

# Refetch this long before the announced expiry (clock skew, request latency); capped at half the lifetime.
EXPIRY_MARGIN_S = 60.0
DEFAULT_EXPIRES_IN_S = 3600.0


class TokenProvider:
    """Fetches and caches one access token. Thread-safe: concurrent callers share one token request."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, grant: Grant = "client_credentials",
                 refresh_token: str | None = None, scope: str | None = None, auth_style: AuthStyle = "basic",
                 on_refresh: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if grant not in ("client_credentials", "refresh_token"):
            raise ValueError(f"grant: {grant!r} is not supported (client_credentials or refresh_token)")
        if auth_style not in ("basic", "body"):
            raise ValueError(f"auth_style: {auth_style!r} is not supported (basic or body)")
        if grant == "refresh_token" and not refresh_token:
            raise ValueError("refresh_token: required for the refresh_token grant")
        if not client_id or not client_secret:
            raise ValueError("client_id/client_secret: required")
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.grant = grant
        self._refresh_token = refresh_token
        self.scope = scope
        self.auth_style = auth_style
        self.on_refresh = on_refresh
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.fetches = 0  # how many token requests succeeded (observability, tests)

    def __repr__(self) -> str:
        return (f"TokenProvider(token_url={self.token_url!r}, client_id={self.client_id!r}, grant={self.grant!r}, "
                f"auth_style={self.auth_style!r}, client_secret=***, refresh_token=***)")

    @property
    def refresh_token(self) -> str | None:
        """The current (possibly rotated) refresh token, for callers that persist it themselves."""
        return self._refresh_token

    def authorization(self, http: Any) -> dict[str, str]:
        """``{"Authorization": "Bearer …"}``, from the cache while the token is fresh."""
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at:
                self._fetch(http)
            return {"Authorization": f"Bearer {self._token}"}

    def invalidate(self) -> None:
        """Forget the cached token (the vendor answered 401): the next call fetches a new one."""
        with self._lock:
            self._token = None
            self._expires_at = 0.0

    def _request(self) -> tuple[dict[str, str], dict[str, Any]]:
        data: dict[str, str] = {"grant_type": self.grant}
        if self.grant == "refresh_token":
            data["refresh_token"] = str(self._refresh_token)
        if self.scope:
            data["scope"] = self.scope
        kwargs: dict[str, Any] = {"headers": {"Accept": "application/json"}}
        if self.auth_style == "basic":
            kwargs["auth"] = (self.client_id, self._client_secret)
        else:
            data["client_id"] = self.client_id
            data["client_secret"] = self._client_secret
        return data, kwargs

    def _fetch(self, http: Any) -> None:
        data, kwargs = self._request()
        resp = http.send("POST", self.token_url, data=data, **kwargs)
        try:
            payload = resp.json()
        except ValueError as exc:
            raise PermanentError(f"token endpoint {self.token_url}: answer is not JSON") from exc
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise PermanentError(f"token endpoint {self.token_url}: no access_token in the answer")
        try:
            lifetime = float(payload.get("expires_in") or DEFAULT_EXPIRES_IN_S)
        except (TypeError, ValueError):
            lifetime = DEFAULT_EXPIRES_IN_S
        margin = min(EXPIRY_MARGIN_S, lifetime / 2)
        self._token = token
        self._expires_at = self._clock() + lifetime - margin
        self.fetches += 1
        rotated = payload.get("refresh_token")
        if self.grant == "refresh_token" and isinstance(rotated, str) and rotated and rotated != self._refresh_token:
            self._refresh_token = rotated
            if self.on_refresh is not None:
                self.on_refresh(rotated)


_STATUS_IN_MESSAGE = re.compile(r"\b(?:HTTP\s*)?401\b")


def is_unauthorized(exc: BaseException) -> bool:
    """True when a sender error is a 401 (status attribute if the sender sets one, else its message)."""
    for attr in ("status_code", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            return value == 401
    return bool(_STATUS_IN_MESSAGE.search(str(exc)))


def send_authorized(provider: TokenProvider, http: Any, method: str, url: str, **kwargs: Any) -> Any:
    """Send with the bearer token; on 401 drop the token and try once more with a fresh one.

    A second 401 is permanent (wrong credentials or a revoked grant: retrying cannot help).
    """
    headers = dict(kwargs.pop("headers", None) or {})
    try:
        return http.send(method, url, headers={**headers, **provider.authorization(http)}, **kwargs)
    except PermanentError as exc:
        if not is_unauthorized(exc):
            raise
    provider.invalidate()
    return http.send(method, url, headers={**headers, **provider.authorization(http)}, **kwargs)


_PROVIDERS: dict[tuple[str, ...], TokenProvider] = {}
_PROVIDERS_LOCK = threading.Lock()


def shared_provider(token_url: str, client_id: str, client_secret: str, grant: Grant = "client_credentials",
                    refresh_token: str | None = None, scope: str | None = None, auth_style: AuthStyle = "basic",
                    on_refresh: Callable[[str], None] | None = None) -> TokenProvider:
    """One provider per (token endpoint, client, grant, scope) in this process, so every delivery for a tenant
    reuses the cached token instead of fetching one per event. A rotated refresh token stays with the cached
    provider; a changed client secret makes a new one."""
    secret_id = hashlib.sha256(client_secret.encode()).hexdigest()[:16]
    key = (token_url, client_id, grant, scope or "", auth_style, secret_id)
    with _PROVIDERS_LOCK:
        provider = _PROVIDERS.get(key)
        if provider is None:
            provider = TokenProvider(token_url, client_id, client_secret, grant, refresh_token, scope, auth_style,
                                     on_refresh)
            _PROVIDERS[key] = provider
        elif on_refresh is not None:
            provider.on_refresh = on_refresh
        return provider

"""OAuth 2.0 access tokens for platform adapters (client credentials or refresh token).

Why one helper: PayPal, Xero, QuickBooks (and Zoho Books, FreshBooks, NetSuite, Concur) all need a
bearer token that is fetched once, reused until shortly before it expires, and fetched anew after a 401.
Xero and QuickBooks *rotate* refresh tokens: every refresh answers with a new one and the old one stops
working soon after, so the new one must be persisted at once (``on_refresh``) or the tenant is locked out.

The token request goes through the adapter's sender (``http.send``), so timeouts, logging and error
classification are the shared ones: a 4xx from the token endpoint (``invalid_grant``, bad client) is a
``PermanentError``, 429/5xx a ``RetryableError``. Secrets never appear in ``repr`` or in error messages.
Under the ``DryRunSender`` (its synthetic ``{"dry_run": true}`` answer) the token is a placeholder, so the
adapter's requests still get written for review.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from connector.config import TOKEN_KEY, PlatformsSettings
from connector.platforms.errors import PermanentError
from connector.storage.db import Base
from connector.storage.tables.platforms import oauth_refresh_tokens as _refresh_tokens

LOG = logging.getLogger("connector.platforms.oauth")

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
                 clock: Callable[[], float] = time.monotonic,
                 latest_refresh_token: Callable[[], str | None] | None = None) -> None:
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
        # where another worker process may have stored a newer rotated refresh token (asked before each refresh)
        self.latest_refresh_token = latest_refresh_token
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
            newer = self.latest_refresh_token() if self.latest_refresh_token is not None else None
            if newer:
                self._refresh_token = newer
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
        if isinstance(payload, dict) and payload.get("dry_run") is True:  # DryRunSender: nothing was sent
            token = "dry-run-token"
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


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def shared_provider(token_url: str, client_id: str, client_secret: str, grant: Grant = "client_credentials",
                    refresh_token: str | None = None, scope: str | None = None, auth_style: AuthStyle = "basic",
                    on_refresh: Callable[[str], None] | None = None, identity: str | None = None) -> TokenProvider:
    """One provider per client *and grant* in this process, so every delivery reuses the cached token.

    ``identity`` names the consent (default: ``refresh_token``). Pass the configured (first) refresh token
    when ``refresh_token`` is a newer rotated one, so the same tenant keeps its provider; two tenants on one
    app (same client id, different consents) never share one. A changed client secret makes a new provider.
    """
    key = (token_url, client_id, grant, scope or "", auth_style,
           _digest(client_secret, identity or refresh_token or ""))
    with _PROVIDERS_LOCK:
        provider = _PROVIDERS.get(key)
        if provider is None:
            provider = TokenProvider(token_url, client_id, client_secret, grant, refresh_token, scope, auth_style,
                                     on_refresh)
            _PROVIDERS[key] = provider
        elif on_refresh is not None:
            provider.on_refresh = on_refresh
        return provider



def refresh_token_provider(tokens: TokenProvider | None, token_url: str, client_id: str, client_secret: str,
                           refresh_token: str) -> TokenProvider:
    """The provider a test or the worker handed in, else the shared refresh-token provider of this consent
    (client credentials in the body, as Zoho and SAP Concur expect)."""
    if tokens is not None:
        return tokens
    return shared_provider(token_url, client_id, client_secret, grant="refresh_token",
                           refresh_token=refresh_token, auth_style="body")


# ---------------------------------------------------------------- rotated refresh tokens, persisted

# a Fernet key (base64, 32 bytes): `python -c "from cryptography.fernet import Fernet;
# print(Fernet.generate_key().decode())"`
TOKEN_KEY_ENV = TOKEN_KEY


class RefreshTokenStore:
    """The newest refresh token of each consent, encrypted at rest (Fernet, key in ``$EVBILL_TOKEN_KEY``).

    Why: Xero, Intuit and FreshBooks rotate refresh tokens; the configured one dies soon after its first
    use, so a restarted worker must continue from the newest one. The database never holds it in clear.
    Without a key, rotated tokens stay in memory only and an error is logged (re-consent after a restart).
    The worker's delivery context carries one on its engine (``ctx.stores.refresh_tokens``).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        Base.metadata.create_all(engine, tables=[_refresh_tokens], checkfirst=True)
        key = PlatformsSettings.from_environ().token_key
        self._fernet = Fernet(key.encode()) if key else None

    @staticmethod
    def consent(token_url: str, client_id: str, configured_refresh_token: str) -> str:
        return _digest(token_url, client_id, configured_refresh_token)

    def load(self, consent: str) -> str | None:
        if self._fernet is None:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(_refresh_tokens.c.ciphertext).where(_refresh_tokens.c.consent == consent)).first()
        if row is None:
            return None
        try:
            return self._fernet.decrypt(row[0].encode()).decode()
        except InvalidToken:
            LOG.error("stored refresh token cannot be decrypted with $%s (key changed?)", TOKEN_KEY_ENV)
            return None

    def save(self, consent: str, refresh_token: str) -> None:
        if self._fernet is None:
            LOG.error("$%s is not set: a rotated refresh token is kept in memory only; the tenant must consent "
                      "again after a restart", TOKEN_KEY_ENV)
            return
        values = {"ciphertext": self._fernet.encrypt(refresh_token.encode()).decode(), "updated_at": datetime.now(UTC)}
        try:
            with self.engine.begin() as conn:
                done = conn.execute(update(_refresh_tokens).where(_refresh_tokens.c.consent == consent)
                                    .values(**values))
                if done.rowcount == 0:
                    conn.execute(insert(_refresh_tokens).values(consent=consent, **values))
        except IntegrityError:  # another process inserted the first row meanwhile: ours is newer, update it
            with self.engine.begin() as conn:
                conn.execute(update(_refresh_tokens).where(_refresh_tokens.c.consent == consent).values(**values))


def rotating_provider(token_url: str, client_id: str, client_secret: str, configured_refresh_token: str,
                      store: RefreshTokenStore | None = None, on_refresh: Callable[[str], None] | None = None,
                      scope: str | None = None, auth_style: AuthStyle = "basic") -> TokenProvider:
    """A refresh-token provider that starts from the newest stored token and persists every rotation."""
    consent = RefreshTokenStore.consent(token_url, client_id, configured_refresh_token)
    current = (store.load(consent) if store is not None else None) or configured_refresh_token

    def persist(new: str) -> None:
        if store is not None:
            store.save(consent, new)
        if on_refresh is not None:
            on_refresh(new)

    provider = shared_provider(token_url, client_id, client_secret, grant="refresh_token", refresh_token=current,
                               scope=scope, auth_style=auth_style, on_refresh=persist,
                               identity=configured_refresh_token)
    if store is not None:  # several worker processes: each refresh starts from the newest stored token
        provider.latest_refresh_token = lambda: store.load(consent)
    return provider

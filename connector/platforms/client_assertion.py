"""OAuth 2.0 client credentials with a certificate-signed JWT assertion (RFC 7523 client authentication).

A ``oauth.TokenProvider`` (its token cache, expiry margin and answer checks) whose request differs: NetSuite's
machine-to-machine flow has no client secret. The client proves itself with a short-lived JWT signed by the
private key whose certificate was uploaded to the vendor (``kid`` = the certificate id the vendor assigned),
sent as ``client_assertion``. There is no refresh token: a new assertion buys a new access token, before expiry or after a 401.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from connector.platforms.errors import PermanentError
from connector.platforms.oauth import TokenProvider

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_S = 300  # the vendor caps it (NetSuite: one hour); short keeps a leaked one useless soon


class AssertionTokens(TokenProvider):
    """One access token from signed assertions, cached until shortly before it expires. Thread-safe."""

    def __init__(self, token_url: str, client_id: str, key_id: str, private_key: str, algorithm: str = "PS256",
                 scope: str | None = None, clock: Callable[[], float] = time.time) -> None:
        if not (token_url and client_id and key_id and private_key):
            raise ValueError("token_url/client_id/certificate_id/private_key: required")
        self.token_url, self.client_id, self.key_id = token_url, client_id, key_id
        self._private_key = private_key
        self.algorithm, self.scope = algorithm, scope
        # what TokenProvider's cache and answer checks read: a client-credentials grant that never rotates
        self.grant, self._refresh_token, self.on_refresh, self.latest_refresh_token = (
            "client_credentials", None, None, None)
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.fetches = 0

    def __repr__(self) -> str:
        return (f"AssertionTokens(token_url={self.token_url!r}, client_id={self.client_id!r}, "
                f"key_id={self.key_id!r}, algorithm={self.algorithm!r}, private_key=***)")

    def assertion(self) -> str:
        """The signed JWT: issuer = the client, audience = the token endpoint, a fresh ``jti``, short lifetime."""
        import jwt

        now = int(self._clock())
        claims: dict[str, Any] = {"iss": self.client_id, "aud": self.token_url, "iat": now,
                                  "exp": now + ASSERTION_LIFETIME_S, "jti": str(uuid.uuid4())}
        if self.scope:
            claims["scope"] = self.scope.split()
        try:
            return jwt.encode(claims, self._private_key, algorithm=self.algorithm,
                              headers={"kid": self.key_id, "typ": "JWT"})
        except (ValueError, TypeError, jwt.PyJWTError) as exc:  # not a PEM key, or not one for this algorithm
            raise PermanentError(f"private_key: cannot sign a {self.algorithm} assertion ({type(exc).__name__})") \
                from None

    def _request(self) -> tuple[dict[str, str], dict[str, Any]]:
        data = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": self.assertion()}
        return data, {"headers": {"Accept": "application/json"}}


_SHARED: dict[tuple[str, ...], AssertionTokens] = {}
_SHARED_LOCK = threading.Lock()


def shared(token_url: str, client_id: str, key_id: str, private_key: str, algorithm: str = "PS256",
           scope: str | None = None) -> AssertionTokens:
    """One cache per client, certificate and key in this process: every delivery reuses the token."""
    digest = hashlib.sha256(private_key.encode()).hexdigest()
    key = (token_url, client_id, key_id, algorithm, scope or "", digest)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = AssertionTokens(token_url, client_id, key_id, private_key, algorithm, scope)
        return _SHARED[key]

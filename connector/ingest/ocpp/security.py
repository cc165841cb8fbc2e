"""OCPP security profiles at the websocket handshake: who may open a connection as which station.

From the OCPP security specification (1.6 security whitepaper, 2.0.1 part 2 A00): profile 1 is HTTP Basic
authentication (user = station identity, password per station) on a trusted network; profile 2 is the same
inside TLS; profile 3 is TLS with a client certificate whose subject CN is the station identity, signed by
the CA the CSMS trusts. Each registered station has exactly one profile; an unknown station, a missing or
wrong password, plain TCP for a TLS profile or a certificate for another identity is refused with HTTP 401
before the upgrade, so no OCPP frame is ever read from it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session as DbSession

from connector.security.passwords import hash_password, verify_password
from connector.storage import stations as store


@dataclass(frozen=True, slots=True)
class StationRecord:
    station_id: str
    profile: int
    password_hash: str | None
    session_fields: dict[str, Any] = field(default_factory=dict)


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """``Authorization: Basic base64(user:password)`` → (user, password); None when absent or malformed."""
    if not header or not header[:6].lower() == "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def certificate_cn(peer_cert: dict[str, Any] | None) -> str | None:
    """The subject common name of a verified client certificate (``SSLObject.getpeercert()``)."""
    for rdn in (peer_cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


def refusal(record: StationRecord | None, station_id: str, authorization: str | None, tls: bool,
            peer_cert: dict[str, Any] | None,
            verify: Callable[[str, str | None], bool] = verify_password) -> str | None:
    """Why this handshake must be refused, or None to let it through."""
    if record is None:
        return "unknown station"
    if record.profile in (2, 3) and not tls:
        return f"security profile {record.profile} requires TLS"
    if record.profile == 3:
        if certificate_cn(peer_cert) != station_id:
            return "security profile 3 requires a client certificate issued to this station"
        return None
    credentials = basic_credentials(authorization)
    if credentials is None:
        return "HTTP Basic authentication required"
    user, password = credentials
    if user != station_id or not verify(password, record.password_hash):
        return "wrong station id or password"
    return None


class StationRegistry:
    """The registered stations of one tenant, read from the database at each handshake (so ``evbill stations``
    changes apply to the next connection without a restart)."""

    def __init__(self, engine: Engine, tenant_id: str) -> None:
        self.engine, self.tenant_id = engine, tenant_id
        # Reconnects skip the slow KDF: a password that verified against a stored hash is remembered as a
        # keyed HMAC (random key per process, never the password) for as long as that hash is stored.
        self._key = secrets.token_bytes(32)
        self._verified: dict[str, str] = {}  # stored hash → HMAC of the password that matched it

    def _verify(self, password: str, stored: str | None) -> bool:
        if not stored:
            return False
        tag = hmac.new(self._key, password.encode("utf-8"), hashlib.sha256).hexdigest()
        known = self._verified.get(stored)
        if known is not None and hmac.compare_digest(known, tag):
            return True
        if not verify_password(password, stored):
            return False
        if len(self._verified) > 100_000:
            self._verified.clear()
        self._verified[stored] = tag
        return True

    def lookup(self, station_id: str) -> StationRecord | None:
        with DbSession(self.engine) as db:
            row = store.get_station(db, self.tenant_id, station_id)
            if row is None:
                return None
            return StationRecord(row.station_id, row.security_profile, row.password_hash, dict(row.session_fields))

    def check(self, station_id: str, authorization: str | None, tls: bool,
              peer_cert: dict[str, Any] | None) -> tuple[StationRecord | None, str | None]:
        record = self.lookup(station_id)
        return record, refusal(record, station_id, authorization, tls, peer_cert, self._verify)

    def store_password(self, station_id: str, password: str) -> None:
        """Called only after the station accepted the new password (SetVariables / ChangeConfiguration)."""
        hashed = hash_password(password)
        with DbSession(self.engine) as db:
            store.set_password_hash(db, self.tenant_id, station_id, hashed)
            db.commit()

    def rotations_requested(self) -> list[str]:
        with DbSession(self.engine) as db:
            return store.rotations_requested(db, self.tenant_id)


def server_tls_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """TLS 1.2+ server context (profiles 2 and 3). With ``client_ca``, client certificates are verified when
    presented (profile 3); profile 2 stations present none, which ``CERT_OPTIONAL`` allows."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if client_ca is not None:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context

"""OCPI partners of a tenant: issue token A, find a partner by the token it calls us with, keep the token we
call it with encrypted, record what was pushed to it.

Why here: the API (credentials module), the registration use case and the CDR push adapter all read the same
rows; tokens never leave this module in clear except the one the caller needs at that moment.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from connector.storage.tables.ocpi import OcpiPartnerRow, OcpiPushRow
from connector.validation import FieldError


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A token for a partner (OCPI: string(64), printable): 43 url-safe characters."""
    return secrets.token_urlsafe(32)


class TokenCipher:
    """Encrypts the tokens we call partners with (Fernet; the key is ``EVBILL_TOKEN_KEY``)."""

    def __init__(self, key: str | None) -> None:
        self._fernet = Fernet(key.encode()) if key else None

    def _need(self) -> Fernet:
        if self._fernet is None:
            raise FieldError("EVBILL_TOKEN_KEY", "required to store a partner's OCPI token (a Fernet key)")
        return self._fernet

    def encrypt(self, token: str) -> str:
        return self._need().encrypt(token.encode()).decode()

    def decrypt(self, stored: str) -> str:
        try:
            return self._need().decrypt(stored.encode()).decode()
        except InvalidToken:
            raise FieldError("EVBILL_TOKEN_KEY", "cannot decrypt a stored OCPI token (key changed?)") from None


def invite(db: DbSession, tenant_id: str) -> tuple[OcpiPartnerRow, str]:
    """A new partner row with a fresh token A (returned once, stored hashed)."""
    token = new_token()
    row = OcpiPartnerRow(id=f"ocpi_{uuid.uuid4().hex[:20]}", tenant_id=tenant_id, status="invited",
                         roles=[], endpoints=[], inbound_token_hash=token_hash(token))
    db.add(row)
    db.flush()
    return row, token


def by_inbound_token(db: DbSession, token: str) -> OcpiPartnerRow | None:
    """The invited or registered partner that calls us with ``token`` (A or C)."""
    return db.scalars(select(OcpiPartnerRow).where(
        OcpiPartnerRow.inbound_token_hash == token_hash(token),
        OcpiPartnerRow.status.in_(("invited", "pending", "registered")))).first()


def get(db: DbSession, tenant_id: str, partner_id: str) -> OcpiPartnerRow | None:
    row = db.get(OcpiPartnerRow, partner_id)
    return row if row is not None and row.tenant_id == tenant_id else None


def listed(db: DbSession, tenant_id: str) -> list[OcpiPartnerRow]:
    return list(db.scalars(select(OcpiPartnerRow).where(OcpiPartnerRow.tenant_id == tenant_id)
                           .order_by(OcpiPartnerRow.created_at, OcpiPartnerRow.id)))


def public(row: OcpiPartnerRow) -> dict[str, Any]:
    """What the admin API shows of a partner: never a token."""
    return {"id": row.id, "status": row.status, "country_code": row.country_code, "party_id": row.party_id,
            "roles": row.roles, "versions_url": row.versions_url,
            "endpoints": [{"identifier": e.get("identifier"), "role": e.get("role"), "url": e.get("url")}
                          for e in row.endpoints or []]}


def endpoint(row: OcpiPartnerRow, identifier: str, role: str = "RECEIVER") -> str | None:
    """The partner's URL of module ``identifier`` in ``role`` (2.2.1 endpoints carry a role)."""
    for item in row.endpoints or []:
        if item.get("identifier") == identifier and item.get("role", role) == role:
            return str(item["url"])
    return None


def partner_tariff_id(country_code: str, party_id: str, tariff_id: str) -> str:
    """Our id of a tariff a partner sent: ``<country><party>-<id>`` (its ids cannot clash with ours)."""
    return f"{country_code}{party_id}-{tariff_id}".upper()


def registered(db: DbSession, tenant_id: str) -> list[OcpiPartnerRow]:
    return [r for r in listed(db, tenant_id) if r.status == "registered"]


class PushLog:
    """What was pushed to which partner (``ocpi_pushes``), on an engine: the CDR adapter's store."""

    def __init__(self, engine: Engine, key: str | None = None) -> None:
        self.engine = engine
        self.cipher = TokenCipher(key)

    def partners(self, tenant_id: str) -> list[tuple[OcpiPartnerRow, str]]:
        """Registered partners with the token to call each with (decrypted)."""
        with DbSession(self.engine, expire_on_commit=False) as db:
            rows = registered(db, tenant_id)
        return [(row, self.cipher.decrypt(row.outbound_token)) for row in rows if row.outbound_token]

    def pushed(self, tenant_id: str, partner_id: str, object_key: str) -> bool:
        with DbSession(self.engine) as db:
            return db.get(OcpiPushRow, (tenant_id, partner_id, object_key)) is not None

    def record(self, tenant_id: str, partner_id: str, object_key: str) -> None:
        with DbSession(self.engine) as db:
            db.add(OcpiPushRow(tenant_id=tenant_id, partner_id=partner_id, object_key=object_key))
            try:
                db.commit()
            except IntegrityError:  # recorded by a concurrent delivery of the same object
                db.rollback()

"""OCPI 2.2.1 roaming registration, both directions, and publishing our tariffs to a partner.

Why in billing: each is one use case over the partner rows (``connector.storage.ocpi_partners``) and the
partner's HTTP API (``connector.platforms.ocpi_client``). The token handshake is 2.2.1 §7.1: the party that
registers calls with token A and sends its token B; the other side answers with token C. The token a partner
calls us with is stored hashed; the one we call it with, encrypted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from connector.platforms import ocpi_client
from connector.platforms.errors import PermanentError, RetryableError
from connector.platforms.ocpi_client import Party
from connector.platforms.sender import Sender
from connector.storage import ocpi_partners, repo
from connector.storage.ocpi_partners import TokenCipher
from connector.storage.tables.core import TariffRow
from connector.storage.tables.ocpi import OcpiPartnerRow
from connector.validation import Conflict, FieldError


@dataclass(frozen=True)
class Us:
    """Who we are to partners: our party, business name and the URL of our ``/ocpi/versions``."""

    party: Party
    name: str
    versions_url: str

    def credentials(self, token: str) -> dict[str, Any]:
        """Our Credentials object (2.2.1 §7.2.1): both roles, billing side (eMSP) and sender of CDRs (CPO)."""
        return {"token": token, "url": self.versions_url, "roles": [
            {"role": role, "party_id": self.party.party_id, "country_code": self.party.country_code,
             "business_details": {"name": self.name}} for role in ("CPO", "EMSP")]}


def _their_party(credentials: dict[str, Any]) -> tuple[str | None, str | None, list[dict[str, Any]]]:
    roles = [r for r in credentials.get("roles") or [] if isinstance(r, dict)]
    first = roles[0] if roles else {}
    # CiString: compared case-insensitively; kept upper-case (some implementations answer lower-case)
    country, party = first.get("country_code"), first.get("party_id")
    return (str(country).upper() if country else None), (str(party).upper() if party else None), roles


def _check_credentials(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise FieldError("body", "expected an OCPI Credentials object")
    for name in ("token", "url"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            raise FieldError(name, "required")
    if len(body["token"]) > 64:
        raise FieldError("token", "at most 64 characters (OCPI string(64))")
    if not isinstance(body.get("roles"), list) or not body["roles"]:
        raise FieldError("roles", "required: at least one CredentialsRole")
    return body


def register_with(db: DbSession, tenant_id: str, versions_url: str, token_a: str, http: Sender,
                  cipher: TokenCipher, us: Us) -> OcpiPartnerRow:
    """We register with a partner that gave us ``versions_url`` and token A. Commits twice: the token B
    the partner will call back with must be visible before we POST it (the partner reads our versions
    with it while our POST is open)."""
    if not versions_url.startswith(("http://", "https://")):
        raise FieldError("versions_url", "required: the partner's absolute OCPI versions URL")
    if not token_a:
        raise FieldError("token", "required: the token A the partner gave you")
    cipher.encrypt("")  # refuse before any call when no key is configured
    _, endpoints = ocpi_client.discover(http, versions_url, token_a)
    credentials_url = ocpi_client.endpoint_url(endpoints, "credentials")
    if credentials_url is None:
        raise FieldError("versions_url", "the partner lists no credentials endpoint")
    repo.ensure_tenant(db, tenant_id)
    row, token_b = ocpi_partners.invite(db, tenant_id)
    row.status, row.versions_url, row.endpoints = "pending", versions_url, endpoints
    db.commit()
    try:
        answer = ocpi_client.data_of(http.send("POST", credentials_url, json=us.credentials(token_b),
                                               headers=ocpi_client.headers(token_a)), "POST credentials")
        theirs = _check_credentials(answer)
    except (PermanentError, RetryableError, FieldError):
        db.delete(row)
        db.commit()
        raise
    row.country_code, row.party_id, row.roles = _their_party(theirs)
    row.outbound_token = cipher.encrypt(theirs["token"])
    row.versions_url = theirs["url"]
    row.status = "registered"
    db.commit()
    return row


def accept_registration(db: DbSession, partner: OcpiPartnerRow, body: Any, http: Sender, cipher: TokenCipher,
                        us: Us, update: bool = False) -> dict[str, Any]:
    """A partner POSTs (token A) or PUTs (token C) its credentials: read its endpoints with its token,
    keep them, answer ours with a new token C. Returns our Credentials object."""
    if update and partner.status != "registered":
        raise Conflict("credentials: not registered; POST credentials with token A first")
    if not update and partner.status != "invited":
        raise Conflict("credentials: already registered; use PUT to update or DELETE to unregister")
    theirs = _check_credentials(body)
    cipher.encrypt("")
    _, endpoints = ocpi_client.discover(http, theirs["url"], theirs["token"])
    token_c = ocpi_partners.new_token()
    partner.country_code, partner.party_id, partner.roles = _their_party(theirs)
    partner.versions_url, partner.endpoints = theirs["url"], endpoints
    partner.outbound_token = cipher.encrypt(theirs["token"])
    partner.inbound_token_hash = ocpi_partners.token_hash(token_c)
    partner.status = "registered"
    db.flush()
    return us.credentials(token_c)


def unregister(db: DbSession, partner: OcpiPartnerRow, http: Sender | None, cipher: TokenCipher) -> None:
    """Forget the partner's tokens; when ``http`` is given we also DELETE our credentials at the partner."""
    if http is not None and partner.status == "registered" and partner.outbound_token:
        url = ocpi_partners.endpoint(partner, "credentials")
        if url:
            ocpi_client.data_of(http.send("DELETE", url, headers=ocpi_client.headers(
                cipher.decrypt(partner.outbound_token))), "DELETE credentials")
    partner.status = "unregistered"
    partner.inbound_token_hash = None
    partner.outbound_token = None
    db.flush()


def publish_tariffs(db: DbSession, partner: OcpiPartnerRow, http: Sender, cipher: TokenCipher, us: Us) -> int:
    """PUT every tariff of ours (its current version, with our party ids) to the partner's tariffs receiver.
    Returns how many were sent; a partner without a tariffs receiver gets none."""
    base = ocpi_partners.endpoint(partner, "tariffs")
    if base is None or not partner.outbound_token:
        return 0
    token = cipher.decrypt(partner.outbound_token)
    them = Party(partner.country_code or "", partner.party_id or "")
    sent = 0
    rows = db.scalars(select(TariffRow).where(TariffRow.tenant_id == partner.tenant_id)
                      .order_by(TariffRow.tariff_id)).all()
    theirs = tuple(f"{p.country_code}{p.party_id}-" for p in ocpi_partners.listed(db, partner.tenant_id)
                   if p.country_code and p.party_id)
    for row in rows:
        if row.tariff_id.startswith(theirs):  # a partner's own tariff, received from it: not ours to publish
            continue
        versions = repo.load_tariffs(db, partner.tenant_id, row.tariff_id) or []
        if not versions:
            continue
        document = versions[0].model_dump(mode="json", exclude_none=True)
        document.update(country_code=us.party.country_code, party_id=us.party.party_id)
        document.setdefault("last_updated", row.updated_at.isoformat().replace("+00:00", "Z"))
        url = ocpi_client.object_url(base, us.party.country_code, us.party.party_id, row.tariff_id)
        ocpi_client.data_of(http.send("PUT", url, json=document,
                                      headers=ocpi_client.headers(token, us.party, them)), "PUT tariff")
        sent += 1
    return sent

"""What every OCPI 2.2.1 route shares: the response envelope, the ``Authorization: Token`` check (a
registered partner's token, or the operator's static ``OCPI_TOKENS``), and the request/response headers of
2.2.1 §4.1.4 (``X-Request-ID``, ``X-Correlation-ID`` echoed; ``OCPI-from-*``/``OCPI-to-*`` swapped).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Response, current_app, jsonify, request

from connector.api.context import SESSIONMAKER_KEY, db
from connector.platforms.errors import PermanentError, RetryableError
from connector.platforms.ocpi_client import Party
from connector.platforms.sender import HttpSender, Sender
from connector.storage import ocpi_partners
from connector.storage.ocpi_partners import TokenCipher
from connector.storage.tables.ocpi import OcpiPartnerRow
from connector.validation import Conflict, FieldError


def envelope(data: Any, status_code: int = 1000, message: str = "Success", http: int = 200) -> Response:
    response = jsonify({"data": data, "status_code": status_code, "status_message": message,
                        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z")})
    response.status_code = http
    return response


def unauthorized() -> Response:
    return envelope(None, 2000, "Authorization: missing or unknown OCPI token", 401)


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    token: str
    partner: OcpiPartnerRow | None  # None: a static token of OCPI_TOKENS


def _token() -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Token "):
        return None
    return header[len("Token "):].strip() or None


def _decoded(token: str) -> str | None:
    try:
        return base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def caller() -> Caller | None:
    """Who calls: the token raw or base64-decoded (2.2.1 sends base64; older clients the raw token)."""
    token = _token()
    if token is None:
        return None
    static: dict[str, str] = current_app.config.get("OCPI_TOKENS") or {}
    candidates = [c for c in (token, _decoded(token)) if c]
    for candidate in candidates:
        if candidate in static:
            return Caller(static[candidate], candidate, None)
    if SESSIONMAKER_KEY not in current_app.extensions:  # an app wired to a sink only (no database)
        return None
    for candidate in candidates:
        row = ocpi_partners.by_inbound_token(db(), candidate)
        if row is not None:
            return Caller(row.tenant_id, candidate, row)
    return None


def us() -> Party:
    return Party(str(current_app.config.get("OCPI_COUNTRY_CODE") or "NL"),
                 str(current_app.config.get("OCPI_PARTY_ID") or "EVB"))


def cipher() -> TokenCipher:
    return TokenCipher(current_app.config.get("OCPI_TOKEN_KEY"))


def partner_http() -> Sender:
    """How we call partners: the app's ``OCPI_HTTP`` (tests, a dry run) or one attempt over HTTP."""
    injected: Sender | None = current_app.config.get("OCPI_HTTP")
    return injected if injected is not None else HttpSender(target="ocpi")


def add_headers(response: Response) -> Response:
    """Every OCPI answer echoes the request's ids and names the parties, sender and receiver swapped."""
    if not request.path.startswith("/ocpi/"):
        return response
    response.headers["X-Request-ID"] = request.headers.get("X-Request-ID") or str(uuid.uuid4())
    response.headers["X-Correlation-ID"] = request.headers.get("X-Correlation-ID") or str(uuid.uuid4())
    party = us()
    response.headers["OCPI-from-country-code"] = party.country_code
    response.headers["OCPI-from-party-id"] = party.party_id
    for side in ("country-code", "party-id"):
        value = request.headers.get(f"OCPI-from-{side}")
        if value:
            response.headers[f"OCPI-to-{side}"] = value
    return response


FAILURES = (FieldError, Conflict, PermanentError, RetryableError)


def failure(exc: Exception) -> Response:
    """A refused OCPI request: 2001 for bad input (400), 2000-class 405 for a wrong registration state,
    3001 when the partner's own API could not be used (502)."""
    if isinstance(exc, FieldError):
        return envelope(None, 2001, f"{exc.field}: {exc.reason}", 400)
    if isinstance(exc, Conflict):
        return envelope(None, 2000, str(exc), 405)
    return envelope(None, 3001, f"Unable to use the client's API: {exc}", 502)


def tariff_id_of(who: Caller | None) -> Callable[[str], str] | None:
    """A registered partner names its own tariffs: ours are stored under ``<country><party>-<id>``."""
    partner = None if who is None else who.partner
    if partner is None or not partner.country_code or not partner.party_id:
        return None
    cc, pid = partner.country_code, partner.party_id
    return lambda tariff_id: ocpi_partners.partner_tariff_id(cc, pid, tariff_id)

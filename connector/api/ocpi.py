"""OCPI 2.2.1 CDR push (receiver interface, eMSP/billing side): ``POST /ocpi/2.2.1/cdrs`` and
``PUT /ocpi/2.2.1/cdrs/{country_code}/{party_id}/{cdr_id}``, ``GET`` of a received CDR.

Every response is the OCPI envelope ``{data, status_code, status_message, timestamp}`` (1000 = OK,
2001 = invalid or missing parameters). A CDR goes through the one intake path (``connector.ingest.ocpi``
maps it). Auth: ``Authorization: Token <token>`` (raw or base64 as 2.2.1 requires) mapped to a tenant by
a registered partner's token (``connector.api.ocpi_common``) or the app config
``OCPI_TOKENS = {token: tenant_id}``.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request, url_for
from pydantic import ValidationError

from connector.api.context import app_sink, document_size_limit
from connector.api.errors import ApiError
from connector.api.ocpi_common import caller, envelope, tariff_id_of
from connector.ingest.ocpi import cdr_to_event, ocpi_session_id
from connector.models import Cdr
from connector.models.session_event import IngestError
from connector.validation import field_errors

LOG = logging.getLogger("connector.api.ocpi")
bp = Blueprint("ocpi_cdrs", __name__, url_prefix="/ocpi/2.2.1/cdrs")


def _tenant() -> str | None:
    who = caller()
    return None if who is None else who.tenant_id


def _open_session(tenant: str, cdr: Cdr) -> str | None:
    """The session a partner opened through the sessions module that this CDR ends, when there is one."""
    who = caller()
    if who is None or who.partner is None or not cdr.session_id:
        return None
    sid = ocpi_session_id(cdr.country_code or "", cdr.party_id or "", cdr.session_id)
    return sid if app_sink().load_session(tenant, sid) is not None else None


def _receive(expected: tuple[str, str, str] | None = None) -> Response:
    tenant = _tenant()
    if tenant is None:
        return envelope(None, 2000, "Authorization: missing or unknown OCPI token", 401)
    try:
        document_size_limit()
    except ApiError as exc:
        return envelope(None, 2001, str(exc.detail), 413)
    raw = request.get_json(silent=True)
    if not isinstance(raw, dict):
        return envelope(None, 2001, "body: expected a CDR JSON object", 400)
    try:
        cdr = Cdr.model_validate(raw)
        if not cdr.id:
            raise IngestError("id", "required")
        if expected and (cdr.country_code, cdr.party_id, cdr.id) != expected:
            raise IngestError("id", "country_code/party_id/id of the body must match the URL")
        outcome = app_sink().ingest(tenant, cdr_to_event(cdr, raw, current_app.config.get("OCPI_SESSION_DEFAULTS"),
                                                                 tariff_id_of(caller()), _open_session(tenant, cdr)))
    except ValidationError as exc:
        first = field_errors(exc)[0]
        LOG.warning("rejected OCPI CDR: %s: %s", first["field"], first["reason"])
        return envelope(None, 2001, f"{first['field']}: {first['reason']}", 400)
    except IngestError as exc:
        LOG.warning("rejected OCPI CDR: %s: %s", exc.field, exc.reason)
        return envelope(None, 2001, str(exc), 400)
    response = envelope(outcome.to_dict(), 1000, "Success" if outcome.status == "accepted" else "Duplicate CDR",
                        201 if outcome.status == "accepted" else 200)
    response.headers["Location"] = url_for("ocpi_cdrs.get_cdr", session_id=outcome.session_id, _external=True)
    return response


@bp.post("")
def post_cdr() -> Response:
    return _receive()


@bp.put("/<country_code>/<party_id>/<cdr_id>")
def put_cdr(country_code: str, party_id: str, cdr_id: str) -> Response:
    return _receive((country_code, party_id, cdr_id))


@bp.get("/<session_id>")
def get_cdr(session_id: str) -> Response:
    tenant = _tenant()
    if tenant is None:
        return envelope(None, 2000, "Authorization: missing or unknown OCPI token", 401)
    stored = app_sink().load_session(tenant, session_id)
    if stored is None:
        return envelope(None, 2001, f"cdr: '{session_id}' not found", 404)
    return envelope(stored)

"""``POST /v1/ingest/chargepoint/sessions``: a signed ChargePoint session-end relay onto the one intake path.

The payload mapping is ``connector.ingest.chargepoint``; the signature scheme ``connector.security.hmac_sign``.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify, request

from connector.api.context import app_sink
from connector.api.errors import field_problem as problem
from connector.ingest.chargepoint import payload_to_event
from connector.models.session_event import IngestError, SessionClosed
from connector.security import hmac_sign

LOG = logging.getLogger("connector.api.chargepoint")
bp = Blueprint("chargepoint_webhook", __name__, url_prefix="/v1/ingest/chargepoint")


@bp.post("/sessions")
def session_end() -> Response:
    secret = current_app.config.get("CHARGEPOINT_WEBHOOK_SECRET")
    if not secret:
        return problem(503, "ChargePoint webhook not configured", "CHARGEPOINT_WEBHOOK_SECRET", "not set")
    body = request.get_data(cache=True)
    try:
        hmac_sign.verify(secret, request.headers.get(hmac_sign.TIMESTAMP_HEADER), body,
                         request.headers.get(hmac_sign.SIGNATURE_HEADER))
    except hmac_sign.SignatureError as exc:
        LOG.warning("rejected ChargePoint webhook: %s: %s", exc.field, exc.reason)
        return problem(401, "Invalid signature", exc.field, exc.reason)
    try:
        config = current_app.config
        event = payload_to_event(request.get_json(silent=True), config.get("CHARGEPOINT_FIELD_MAPPING"),
                                 config.get("CHARGEPOINT_SESSION_DEFAULTS"))
        outcome = app_sink().ingest(str(current_app.config.get("CHARGEPOINT_TENANT_ID") or "default"), event)
    except SessionClosed as exc:  # a corrected notification of a billed session: credit notes, not a re-bill
        LOG.warning("refused ChargePoint session: %s: %s", exc.field, exc.reason)
        return problem(409, "Session already billed", exc.field, exc.reason)
    except IngestError as exc:
        LOG.warning("rejected ChargePoint session: %s: %s", exc.field, exc.reason)
        return problem(422, "Invalid session data", exc.field, exc.reason)
    response = jsonify(outcome.to_dict())
    response.status_code = 202 if outcome.status == "accepted" else 200
    return response

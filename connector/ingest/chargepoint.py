"""ChargePoint session-end notifications → Session (the route ``POST /v1/ingest/chargepoint/sessions`` is
``connector.api.chargepoint``).

ChargePoint publishes no webhook contract (its Web Services API is SOAP, WSDL for account holders
only; see docs/ingest.md), so the payload is read through a configurable field mapping:
``CHARGEPOINT_FIELD_MAPPING = {session field: dotted path in the payload}``. The default follows the
field names of ChargePoint's session data (``sessionID``, ``startTime``, ``endTime``, ``Energy``,
``stationID``, ``portNumber``, ``userID``) and is an assumption to check against your account's data.

The body must be signed by the relay that forwards ChargePoint's data, with the project's webhook scheme
(``connector.security.hmac_sign``): ``X-Evbill-Timestamp: <unix s>`` and ``X-Evbill-Signature: v1=<hex
HMAC-SHA256 of "<timestamp>.<raw body>">`` with ``CHARGEPOINT_WEBHOOK_SECRET`` (a list rotates secrets;
timestamps older than 5 minutes are replays). The sessions belong to ``CHARGEPOINT_TENANT_ID``;
``CHARGEPOINT_SESSION_DEFAULTS`` adds fields the payload lacks (``tariff_id``, ``currency``, ``time_zone``).
Idempotent by ChargePoint session id and content (``chargepoint:<sessionID>:<digest of the mapped data>``):
the same notification re-sent is a duplicate, answered with the session's bill; a corrected one (same
``sessionID``, other data) is a new event for a billed session, refused with 409 (corrections of a billed
session go through credit notes), never answered as a duplicate carrying the old bill.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from connector.models.session_event import IngestError, SessionEvent, parse_event

DEFAULT_MAPPING: dict[str, str] = {
    "session_id": "sessionID",
    "start": "startTime",
    "end": "endTime",
    "energy_kwh": "Energy",
    "station_id": "stationID",
    "evse_id": "portNumber",
    "customer_id": "userID",
    "location_id": "siteID",
    "time_zone": "timeZone",
    "charging_ended_at": "chargingEndTime",
}


def _dig(payload: Mapping[str, Any], dotted: str) -> Any:
    value: Any = payload
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def payload_to_event(payload: Any, mapping: Mapping[str, str] | None = None,
                     defaults: Mapping[str, Any] | None = None) -> SessionEvent:
    """``defaults``: Session fields the payload does not carry (``tariff_id``, ``currency``, ``time_zone``)."""
    if not isinstance(payload, dict):
        raise IngestError("body", "expected a JSON object")
    mapping = {**DEFAULT_MAPPING, **(mapping or {})}
    session: dict[str, Any] = dict(defaults or {})
    for target, path in mapping.items():
        value = _dig(payload, path)
        if value is not None and value != "":
            session[target] = str(value) if target in ("evse_id", "energy_kwh") else value
    session_id = session.pop("session_id", None)
    if not session_id:
        raise IngestError(mapping["session_id"], "required")
    for needed in ("start", "end"):
        if needed not in session:
            raise IngestError(mapping[needed], "required")
    event = parse_event({
        "event_id": f"chargepoint:{session_id}"[:160], "type": "end", "session_id": f"CP-{session_id}"[:64],
        "timestamp": session["end"], "source": "chargepoint", "session": session,
    })
    # the digest of the parsed data, so the webhook and the SOAP importer give one id to one notification
    data = json.dumps(event.model_dump(mode="json")["session"], sort_keys=True)
    return event.model_copy(update={"event_id": f"{event.event_id}:{hashlib.sha256(data.encode()).hexdigest()[:16]}"})

"""OCPI 2.2.1 CDR push (receiver interface, eMSP/billing side): ``POST /ocpi/2.2.1/cdrs`` and
``PUT /ocpi/2.2.1/cdrs/{country_code}/{party_id}/{cdr_id}``, ``GET`` of a received CDR.

Every response is the OCPI envelope ``{data, status_code, status_message, timestamp}`` (1000 = OK,
2001 = invalid or missing parameters). The CDR is normalised into the one Session model (periods →
cumulative meter samples, parking periods → ``charging_ended_at``) and priced by *our* tariffs through
the same pipeline as every other source; the CPO's own totals are kept for reconciliation. The
event id is ``ocpi:<country>:<party>:<cdr id>``: a CDR pushed twice is billed once.
Auth: ``Authorization: Token <token>`` (raw or base64 as 2.2.1 requires) mapped to a tenant by the app
config ``OCPI_TOKENS = {token: tenant_id}``.
"""

from __future__ import annotations

import base64
import binascii
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from pydantic import ValidationError

from connector.ingest.events import IngestError, SessionEvent, parse_event
from connector.ingest.web import app_sink
from connector.models import Cdr
from connector.validation import field_errors

LOG = logging.getLogger("connector.ingest.ocpi")
bp = Blueprint("ocpi_cdrs", __name__, url_prefix="/ocpi/2.2.1/cdrs")

POWER_DIMENSIONS = ("MAX_POWER", "POWER")
CURRENT_DIMENSIONS = ("MAX_CURRENT", "CURRENT")


def envelope(data: Any, status_code: int = 1000, message: str = "Success", http: int = 200) -> Response:
    response = jsonify({"data": data, "status_code": status_code, "status_message": message,
                        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z")})
    response.status_code = http
    return response


def cdr_session_id(cdr: Cdr) -> str:
    return f"{cdr.country_code}-{cdr.party_id}-{cdr.id}".strip("-")[:64]


def cdr_to_event(cdr: Cdr, raw: dict[str, Any], defaults: dict[str, Any] | None = None) -> SessionEvent:
    """CDR → ``end`` event of a Session: the energy profile comes from the charging periods.

    ``defaults`` (app config ``OCPI_SESSION_DEFAULTS``): fields a CDR may lack, e.g. the ``tariff_id`` of
    our contract with the CPO when the CDR embeds no tariff."""
    samples: list[dict[str, Any]] = []
    cumulative = Decimal(0)
    charging_ended_at: str | None = None
    for period in cdr.charging_periods:
        dims = {d.type.value: d.volume for d in period.dimensions}
        sample: dict[str, Any] = {"timestamp": period.start_date_time.isoformat(), "energy_kwh": str(cumulative)}
        power = next((dims[k] for k in POWER_DIMENSIONS if k in dims), None)
        current = next((dims[k] for k in CURRENT_DIMENSIONS if k in dims), None)
        if power is not None:
            sample["power_kw"] = str(power)
        if current is not None:
            sample["current_a"] = str(current)
        samples.append(sample)
        cumulative += dims.get("ENERGY", Decimal(0))
        is_parking = "PARKING_TIME" in dims and not dims.get("ENERGY")
        if is_parking and charging_ended_at is None:
            charging_ended_at = period.start_date_time.isoformat()
        elif not is_parking:
            charging_ended_at = None
    total = cdr.total_energy if cdr.total_energy is not None else cumulative
    samples.append({"timestamp": cdr.end_date_time.isoformat(), "energy_kwh": str(total)})
    session: dict[str, Any] = {
        **(defaults or {}),
        "start": cdr.start_date_time.isoformat(), "end": cdr.end_date_time.isoformat(), "energy_kwh": str(total),
        "currency": cdr.currency, "ocpi_cdr_id": cdr.id, "ocpi_session_id": cdr.session_id,
    }
    if charging_ended_at:
        session["charging_ended_at"] = charging_ended_at
    location = raw.get("cdr_location") or {}
    if location.get("id"):
        session["location_id"] = location["id"]
    if location.get("evse_uid"):
        session["evse_id"] = location["evse_uid"]
    if location.get("time_zone"):
        session["time_zone"] = location["time_zone"]
    token = raw.get("cdr_token") or {}
    if token.get("uid"):
        session["id_tag"] = token["uid"]
    if cdr.tariffs:
        session["tariff_id"] = cdr.tariffs[0].id
    if cdr.x_customer_class:
        session["customer_class"] = cdr.x_customer_class
    if cdr.total_cost is not None:
        session["reported_total_cost"] = cdr.total_cost.model_dump(mode="json")
    return parse_event({
        "event_id": f"ocpi:{cdr.country_code}:{cdr.party_id}:{cdr.id}", "type": "end",
        "session_id": cdr_session_id(cdr), "timestamp": cdr.end_date_time.isoformat(), "source": "ocpi",
        "session": session, "meter_samples": samples,
    })


def _tenant() -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Token "):
        return None
    token = header[len("Token "):].strip()
    tokens: dict[str, str] = current_app.config.get("OCPI_TOKENS") or {}
    if token in tokens:
        return tokens[token]
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return tokens.get(decoded)


def _receive(expected: tuple[str, str, str] | None = None) -> Response:
    tenant = _tenant()
    if tenant is None:
        return envelope(None, 2000, "Authorization: missing or unknown OCPI token", 401)
    raw = request.get_json(silent=True)
    if not isinstance(raw, dict):
        return envelope(None, 2001, "body: expected a CDR JSON object", 400)
    try:
        cdr = Cdr.model_validate(raw)
        if not cdr.id:
            raise IngestError("id", "required")
        if expected and (cdr.country_code, cdr.party_id, cdr.id) != expected:
            raise IngestError("id", "country_code/party_id/id of the body must match the URL")
        outcome = app_sink().ingest(tenant, cdr_to_event(cdr, raw, current_app.config.get("OCPI_SESSION_DEFAULTS")))
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

"""Session events in (idempotent per tenant + ``event_id``), sessions out with their current price.

An event takes the one intake path every source takes (``connector.billing.intake.ingest_session_event``: store,
merge, and bill an ``end``); an open session's running cost comes from ``connector.billing.pricing.inputs`` —
the inputs the final bill uses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from connector.api import paging
from connector.api.context import db, json_body, query_choice, tenant
from connector.api.errors import ApiError
from connector.api.fixed_point import NUMERIC_KEYS, fixed_point
from connector.api.idempotency import idempotent
from connector.billing import intake
from connector.billing.pricing.inputs import rate_row
from connector.models.documents import RatedSessionJson
from connector.models.session_event import parse_event
from connector.models.sink import IngestOutcome
from connector.storage import repo
from connector.storage.paging import UnknownCursor, after_row
from connector.storage.tables.core import SessionRow
from connector.validation import ProblemError

bp = Blueprint("sessions", __name__, url_prefix="/v1/sessions")
SESSION_STATUSES = ("active", "ended", "rated", "billed")


def _billing(outcome: IngestOutcome) -> dict[str, Any]:
    """What billing did with an ``end`` event. The event is stored either way: a session billing cannot price
    (no tariff, bad data) is reported in ``billing_error`` with the field and stays billable later."""
    error = outcome.details.get("billing_error")
    if error is not None:
        field = error["field"] if error["field"].startswith("session") else f"session.{error['field']}"
        return {"billing_error": {"field": field, "reason": error["reason"]}}
    billed = outcome.billed or {}
    return {"billing": billed, "rating": billed.get("rating")}


@bp.post("/events")
@idempotent
def ingest_session_event() -> ResponseReturnValue:
    event = parse_event(json_body())
    outcome = intake.ingest_session_event(db(), tenant(), event)
    out: dict[str, Any] = {"status": outcome.status, "event_id": event.event_id, "session_id": event.session_id}
    if event.type == "end":
        out.update(_billing(outcome))
    return jsonify(out), 202 if outcome.status == "accepted" else 200


def _interim(row: SessionRow, now: datetime) -> RatedSessionJson:
    """The running cost with billing's inputs (adjustments, tariff switch policy): the figure ``run_interim``
    emits and the final bill continues."""
    return rate_row(db(), tenant(), row, now).to_dict()


def _fixed(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: fixed_point(v) if k in NUMERIC_KEYS else v for k, v in doc.items()}
    if isinstance(out.get("meter_samples"), list):
        out["meter_samples"] = [_fixed(s) if isinstance(s, dict) else s for s in out["meter_samples"]]
    return out


def _session_json(row: SessionRow, interim: bool) -> dict[str, Any]:
    doc = _fixed({k: v for k, v in row.document.items() if k not in ("status", "tenant_id")})
    out: dict[str, Any] = {"id": row.session_id, "status": row.status, "session": doc, "rating": row.rating,
                           "interim": None}
    if interim and row.rating is None and not doc.get("end"):
        now = datetime.now(UTC)  # the API may read the clock; the rating core may not
        try:
            out["interim"] = {"as_of": now.isoformat(), "rating": _interim(row, now)}
        except (ProblemError, ValueError) as exc:  # IngestError, RatingError, billing's refusals
            out["interim"] = {"as_of": now.isoformat(), "rating": None,
                              "error": {"field": str(getattr(exc, "field", "") or "session"),
                                        "reason": str(getattr(exc, "reason", "") or exc)}}
    return out


@bp.get("/<session_id>")
def get_session(session_id: str) -> ResponseReturnValue:
    row = repo.get_session_row(db(), tenant(), session_id)
    if row is None:
        raise ApiError.not_found("session", session_id)
    return jsonify(_session_json(row, interim=True))


@bp.get("")
def list_sessions() -> ResponseReturnValue:
    query = select(SessionRow).where(SessionRow.tenant_id == tenant())
    query_choice("status", SESSION_STATUSES)
    for arg, column in (("status", SessionRow.status), ("station_id", SessionRow.station_id),
                        ("customer_id", SessionRow.customer_id)):
        if request.args.get(arg):
            query = query.where(column == request.args[arg])
    start_from, start_to = paging.date_arg("start_from"), paging.date_arg("start_to", end=True)
    if start_from is not None:
        query = query.where(SessionRow.start_at >= start_from)
    if start_to is not None:
        query = query.where(SessionRow.start_at < start_to)
    page = paging.page_args()
    try:
        query = after_row(db(), query, [(SessionRow.start_at, True)], SessionRow.session_id, SessionRow.tenant_id,
                          tenant(), page.after)
    except UnknownCursor as exc:
        raise paging.unknown_cursor() from exc
    rows = db().scalars(query.limit(page.limit + 1))
    return jsonify(paging.paged([_session_json(r, interim=False) for r in rows], page))

"""Session events in (idempotent per tenant + ``event_id``), sessions out with their current price.

An ``end`` event hands the session to billing (``connector.billing.invoicing.sessions.complete_session``); an open
session's running cost comes from ``connector.billing.pricing.inputs`` — the inputs the final bill uses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from connector.api import billing_link
from connector.api.context import db, json_body, tenant
from connector.api.errors import ApiError
from connector.api.idempotency import idempotent
from connector.billing.invoicing.sessions import complete_session
from connector.billing.pricing.inputs import rate_row
from connector.models.session_event import IngestError, parse_event
from connector.models.session_merge import apply_event, to_session
from connector.storage import repo
from connector.storage.tables.core import SessionRow

bp = Blueprint("sessions", __name__, url_prefix="/v1/sessions")


def _bill(session_id: str) -> dict[str, Any]:
    """Final pricing of an ended session by billing.

    The event is already stored: a session billing cannot price (no tariff, bad data) is reported in
    ``billing_error`` with the field and stays billable later, instead of failing the event."""
    session = db()
    try:
        billed = billing_link.as_json(complete_session(session, tenant(), session_id))
        session.commit()
    except (LookupError, ValueError) as exc:
        session.rollback()
        field = str(getattr(exc, "field", "") or "session")
        field = field if field.startswith("session") else f"session.{field}"
        return {"billing_error": {"field": field, "reason": str(getattr(exc, "reason", "") or exc)}}
    return {"billing": billed, "rating": billed.get("rating") if isinstance(billed, dict) else None}


@bp.post("/events")
@idempotent
def ingest_session_event() -> ResponseReturnValue:
    body = json_body()
    try:
        event = parse_event(body)
    except IngestError as exc:
        raise ApiError.field(exc.field, exc.reason) from exc
    session = db()
    repo.ensure_tenant(session, tenant())
    session.commit()
    status = "accepted"
    try:
        if repo.add_event(session, tenant(), event):
            doc = apply_event(repo.get_session(session, tenant(), event.session_id), event, tenant())
            to_session(doc)
            repo.put_session(session, tenant(), doc)
            session.commit()
        else:
            status = "duplicate"
    except IngestError as exc:
        session.rollback()
        raise ApiError.field(exc.field, exc.reason) from exc
    out: dict[str, Any] = {"status": status, "event_id": event.event_id, "session_id": event.session_id}
    if event.type == "end":
        out.update(_bill(event.session_id))
    return jsonify(out), 202 if status == "accepted" else 200


def _interim(row: SessionRow, now: datetime) -> dict[str, Any]:
    """The running cost with billing's inputs (adjustments, tariff switch policy): the figure ``run_interim``
    emits and the final bill continues."""
    return dict(rate_row(db(), tenant(), row, now).to_dict())


def _session_json(row: SessionRow, interim: bool) -> dict[str, Any]:
    doc = {k: v for k, v in row.document.items() if k not in ("status", "tenant_id")}
    out: dict[str, Any] = {"id": row.session_id, "status": row.status, "session": doc, "rating": row.rating,
                           "interim": None}
    if interim and row.rating is None and not doc.get("end"):
        now = datetime.now(UTC)  # the API may read the clock; the rating core may not
        try:
            out["interim"] = {"as_of": now.isoformat(), "rating": _interim(row, now)}
        except (ValueError, LookupError) as exc:  # IngestError, RatingError, billing's input errors
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
    for arg, column in (("status", SessionRow.status), ("station_id", SessionRow.station_id),
                        ("customer_id", SessionRow.customer_id)):
        if request.args.get(arg):
            query = query.where(column == request.args[arg])
    try:
        limit = min(max(int(request.args.get("limit", "100")), 1), 1000)
    except ValueError as exc:
        raise ApiError.field("limit", "expected an integer 1..1000", status=400, title="Bad Request") from exc
    rows = db().scalars(query.order_by(SessionRow.start_at.desc(), SessionRow.session_id).limit(limit))
    return jsonify({"items": [_session_json(r, interim=False) for r in rows]})

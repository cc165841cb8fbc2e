"""Session events in (idempotent per tenant + ``event_id``), sessions out with their current price.

An ``end`` event hands the session to billing (``connector.billing.service.complete_session``). Until
that service is installed the session is priced with the rating core against its stored ``tariff_id``
and the rating kept on the session (no invoice line).
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
from connector.ingest.events import IngestError, parse_event
from connector.ingest.merge import apply_event, to_session
from connector.rating import RatingError, RatingOptions, rate
from connector.storage import repo
from connector.storage.tables import SessionRow

bp = Blueprint("sessions", __name__, url_prefix="/v1/sessions")


def _price(doc: dict[str, Any], as_of: datetime | None = None) -> dict[str, Any]:
    session = to_session(doc)
    tariff_id = session.tariff_id
    if not tariff_id:
        raise IngestError("session.tariff_id", "required to price the session")
    tariffs = repo.load_tariffs(db(), tenant(), tariff_id)
    if tariffs is None:
        raise IngestError("session.tariff_id", f"tariff '{tariff_id}' does not exist")
    customer = None
    if session.customer_id:
        row = repo.get_customer(db(), tenant(), session.customer_id)
        customer = None if row is None else repo.customer_model(row)
    return rate(session, tariffs, customer, RatingOptions(as_of=as_of)).to_dict()


def _bill(session_id: str) -> dict[str, Any]:
    """Final pricing of an ended session: billing when installed, else the rating core (stored once).

    The event is already stored: a session billing cannot price (no tariff, bad data) is reported in
    ``billing_error`` with the field and stays billable later, instead of failing the event."""
    if billing_link.available(billing_link.SERVICE, "complete_session"):
        complete = billing_link.function(billing_link.SERVICE, "complete_session")
        session = db()
        try:
            billed = billing_link.as_json(complete(session, tenant(), session_id))
            session.commit()
        except (LookupError, ValueError) as exc:
            session.rollback()
            field = str(getattr(exc, "field", "") or "session")
            field = field if field.startswith("session") else f"session.{field}"
            return {"billing_error": {"field": field, "reason": str(getattr(exc, "reason", "") or exc)}}
        return {"billing": billed, "rating": billed.get("rating") if isinstance(billed, dict) else None}
    rating = repo.get_rating(db(), tenant(), session_id)
    if rating is None:
        doc = repo.get_session(db(), tenant(), session_id)  # row lock: one pricer at a time
        assert doc is not None
        rating = repo.get_rating(db(), tenant(), session_id) or _price(doc)
        repo.put_rating(db(), tenant(), session_id, rating)
        db().commit()
    return {"rating": rating}


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
        try:
            out.update(_bill(event.session_id))
        except (IngestError, RatingError) as exc:
            session.rollback()
            field = exc.field if exc.field.startswith("session") else f"session.{exc.field}"
            out["billing_error"] = {"field": field, "reason": exc.reason}
    return jsonify(out), 202 if status == "accepted" else 200


def _interim(row: SessionRow, now: datetime) -> dict[str, Any]:
    """The running cost with billing's inputs (adjustments, tariff switch policy) when billing is installed —
    the same figure ``run_interim`` emits — else the rating core on the stored tariff."""
    if billing_link.available("connector.billing.session_rating", "rate_row"):
        rate_row = billing_link.function("connector.billing.session_rating", "rate_row")
        return dict(rate_row(db(), tenant(), row, now).to_dict())
    return _price(row.document, as_of=now)


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

"""Billing triggers run on demand: interim billing now, correction of billed sessions, settings, reports.

Why routes only parse and delegate: the same functions run from the CLI (``evbill billing``) and the
scheduler (``evbill scheduler``); money comes from the rating core inside them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from connector.api.context import db, json_body, tenant
from connector.api.errors import ApiError
from connector.api.idempotency import idempotent
from connector.billing.pricing import adjustments, incentives, interim, rerating
from connector.storage import repo

bp = Blueprint("billing", __name__, url_prefix="/v1/billing")


def _optional_body() -> dict[str, Any]:
    if not request.get_data():
        return {}
    return json_body()


def _instant(value: Any, field: str) -> datetime:
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError.field(field, "an ISO 8601 date-time with offset") from exc
    if at.tzinfo is None or at.utcoffset() is None:
        raise ApiError.field(field, "must carry a time zone offset (e.g. 2026-01-13T15:00:00Z)")
    return at


@bp.post("/interim")
@idempotent
def run_interim() -> ResponseReturnValue:
    body = _optional_body()
    as_of = datetime.now(UTC) if body.get("as_of") is None else _instant(body["as_of"], "as_of")
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise ApiError.field("force", "expected true or false")
    results = interim.run_interim(db(), tenant(), as_of, force=force)
    db().commit()
    return jsonify({"as_of": as_of.isoformat(), "emitted": sum(1 for r in results if r["status"] == "emitted"),
                    "results": results})


@bp.post("/corrections")
@idempotent
def correct_billed_sessions() -> ResponseReturnValue:
    body = json_body()
    ids = body.get("session_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise ApiError.field("session_ids", "a non-empty list of session ids")
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ApiError.field("reason", "required: why the billed sessions are corrected")
    corrected = rerating.rerate_closed(db(), tenant(), ids, reason)
    db().commit()
    return jsonify(corrected)


@bp.get("/settings")
def get_settings() -> ResponseReturnValue:
    return jsonify(adjustments.get_settings(db(), tenant()).model_dump(mode="json", exclude_none=True))


@bp.put("/settings")
def put_settings() -> ResponseReturnValue:
    settings = adjustments.BillingSettings.model_validate(json_body())  # a ValidationError is a 422 (errors.py)
    saved = adjustments.put_settings(db(), tenant(), settings)
    db().commit()
    return jsonify(saved.model_dump(mode="json", exclude_none=True))


@bp.get("/incentives")
def incentive_report() -> ResponseReturnValue:
    month = request.args.get("month")
    if not month:
        raise ApiError.field("month", "required: YYYY-MM", status=400, title="Bad Request")
    report = incentives.incentive_report(db(), tenant(), month)
    db().commit()  # the report first brings the usage table up to date
    if request.args.get("format") == "csv":
        csv_text = incentives.report_csv(report)
        return Response(csv_text, mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="incentives-{month}.csv"'})
    return jsonify(report)


@bp.get("/sessions/<session_id>")
def session_billing(session_id: str) -> ResponseReturnValue:
    """Latest interim figure and every re-rating of one session."""
    latest = interim.latest_interim(db(), tenant(), session_id)
    history = rerating.history(db(), tenant(), session_id)
    if latest is None and not history and repo.get_session_row(db(), tenant(), session_id) is None:
        raise ApiError.not_found("session", session_id)
    figure = None if latest is None else {
        "as_of": latest.as_of.isoformat() if latest.as_of.tzinfo else latest.as_of.replace(tzinfo=UTC).isoformat(),
        "amount_due": latest.amount_due, "currency": latest.currency, "count": latest.count, "rating": latest.rating}
    return jsonify({"session_id": session_id, "interim": figure, "rerates": history})

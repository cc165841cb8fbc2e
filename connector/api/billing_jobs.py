"""Billing triggers run on demand: interim billing now, correction of billed sessions, settings, reports.

Why routes only parse and delegate: the same functions run from the CLI (``evbill billing``) and the
scheduler (``evbill scheduler``); money comes from the rating core inside them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import ValidationError

from connector.api import billing_link
from connector.api.context import db, json_body, tenant
from connector.api.errors import ApiError
from connector.api.idempotency import idempotent

bp = Blueprint("billing_jobs", __name__, url_prefix="/v1/billing")

INTERIM = "connector.billing.pricing.interim"
RERATE = "connector.billing.pricing.rerating"
ADJUSTMENTS = "connector.billing.pricing.adjustments"
INCENTIVES = "connector.billing.pricing.incentives"


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
    results = billing_link.call(INTERIM, "run_interim", as_of, force=force)
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
    return jsonify(billing_link.call(RERATE, "rerate_closed", ids, reason))


@bp.get("/settings")
def get_settings() -> ResponseReturnValue:
    fn = billing_link.function(ADJUSTMENTS, "get_settings")
    return jsonify(fn(db(), tenant()).model_dump(mode="json", exclude_none=True))


@bp.put("/settings")
def put_settings() -> ResponseReturnValue:
    model = billing_link.function(ADJUSTMENTS, "BillingSettings")
    try:
        settings = model.model_validate(json_body())
    except ValidationError as exc:
        raise ApiError.from_validation(exc) from exc
    saved = billing_link.call(ADJUSTMENTS, "put_settings", settings)
    return jsonify(saved.model_dump(mode="json", exclude_none=True))


@bp.get("/incentives")
def incentive_report() -> ResponseReturnValue:
    month = request.args.get("month")
    if not month:
        raise ApiError.field("month", "required: YYYY-MM", status=400, title="Bad Request")
    report = billing_link.call(INCENTIVES, "incentive_report", month)
    if request.args.get("format") == "csv":
        csv_text = billing_link.function(INCENTIVES, "report_csv")(report)
        return Response(csv_text, mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="incentives-{month}.csv"'})
    return jsonify(report)


@bp.get("/sessions/<session_id>")
def session_billing(session_id: str) -> ResponseReturnValue:
    """Latest interim figure and every re-rating of one session."""
    latest = billing_link.function(INTERIM, "latest_interim")(db(), tenant(), session_id)
    history = billing_link.function(RERATE, "history")(db(), tenant(), session_id)
    if latest is None and not history:
        from connector.storage import repo

        if repo.get_session_row(db(), tenant(), session_id) is None:
            raise ApiError.not_found("session", session_id)
    interim = None if latest is None else {
        "as_of": latest.as_of.isoformat() if latest.as_of.tzinfo else latest.as_of.replace(tzinfo=UTC).isoformat(),
        "amount_due": latest.amount_due, "currency": latest.currency, "count": latest.count, "rating": latest.rating}
    return jsonify({"session_id": session_id, "interim": interim, "rerates": history})

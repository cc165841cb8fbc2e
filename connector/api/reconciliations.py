"""Reconciliation runs (daily/monthly per station set) and their report as JSON, CSV or XLSX.

The route only validates the request shape; the run, its money and its exports live in
``connector.billing.reconciliation.run`` / ``export`` (routes never compute money).
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from connector.api import paging
from connector.api.context import db, json_body, tenant
from connector.api.errors import ApiError
from connector.api.idempotency import idempotent
from connector.billing.reconciliation import export as reconcile_export
from connector.billing.reconciliation import run
from connector.storage.paging import UnknownCursor

bp = Blueprint("reconciliations", __name__, url_prefix="/v1/reconciliations")


@bp.post("")
@idempotent
def start_reconciliation() -> ResponseReturnValue:
    body = json_body()
    kind = body.get("kind")
    if kind not in ("daily", "monthly"):
        raise ApiError.field("kind", "one of: daily, monthly")
    period = body.get("period")
    if not isinstance(period, str) or not period:
        raise ApiError.field("period", "required: YYYY-MM-DD (daily) or YYYY-MM (monthly)")
    stations = body.get("stations")
    if stations is not None and (not isinstance(stations, list) or not all(isinstance(s, str) for s in stations)):
        raise ApiError.field("stations", "expected an array of station ids")
    result = run.start_reconciliation(db(), tenant(), kind, period, stations)
    db().commit()
    response = jsonify(result)
    response.status_code = 201
    if result.get("id"):
        response.headers["Location"] = url_for("reconciliations.get_reconciliation", reconciliation_id=result["id"])
    return response


@bp.get("")
def list_reconciliations() -> ResponseReturnValue:
    kind = request.args.get("kind") or None
    if kind not in (None, "daily", "monthly"):
        raise ApiError.field("kind", "one of: daily, monthly", status=400, title="Bad Request")
    bounds = {}
    for name in ("period_from", "period_to"):
        value = request.args.get(name) or None
        if value is not None:
            try:
                value = date.fromisoformat(value).isoformat()
            except ValueError as exc:
                raise ApiError.field(name, "expected a date (2026-01-13)", status=400, title="Bad Request") from exc
        bounds[name] = value
    page = paging.page_args(default=50, maximum=500)
    try:
        items = run.list_reconciliations(db(), tenant(), limit=page.limit + 1, kind=kind, after=page.after, **bounds)
    except UnknownCursor as exc:
        raise paging.unknown_cursor() from exc
    return jsonify(paging.paged(items, page))


@bp.get("/<reconciliation_id>")
def get_reconciliation(reconciliation_id: str) -> ResponseReturnValue:
    fmt = (request.args.get("format") or "json").lower()
    if fmt not in ("json", "csv", "xlsx"):
        raise ApiError.field("format", "one of: json, csv, xlsx", status=400, title="Bad Request")
    report = run.get_reconciliation(db(), tenant(), reconciliation_id)
    if fmt == "json":
        return jsonify(report)
    name = f"reconciliation-{reconciliation_id}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        return Response(reconcile_export.to_csv(report), mimetype="text/csv", headers=headers)
    return Response(reconcile_export.to_xlsx(report), mimetype=reconcile_export.XLSX_MIMETYPE, headers=headers)

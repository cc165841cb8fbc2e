"""Reconciliation runs (daily/monthly per station set) and their report as JSON, CSV or XLSX."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from connector.api.billing_link import SERVICE, call
from connector.api.context import json_body
from connector.api.errors import ApiError
from connector.api.idempotency import idempotent

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
    result = call(SERVICE, "start_reconciliation", kind, period, stations)
    response = jsonify(result)
    response.status_code = 201
    if isinstance(result, dict) and result.get("id"):
        response.headers["Location"] = url_for("reconciliations.get_reconciliation", reconciliation_id=result["id"])
    return response


def _rows(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    rows = report.get("rows") or []
    header = sorted({k for r in rows for k in r}) if rows else ["station_id"]
    return header, [[r.get(k) for k in header] for r in rows]


@bp.get("/<reconciliation_id>")
def get_reconciliation(reconciliation_id: str) -> ResponseReturnValue:
    fmt = (request.args.get("format") or "json").lower()
    if fmt not in ("json", "csv", "xlsx"):
        raise ApiError.field("format", "one of: json, csv, xlsx", status=400, title="Bad Request")
    report = call(SERVICE, "get_reconciliation", reconciliation_id)
    if fmt == "json":
        return jsonify(report)
    header, rows = _rows(report)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
        return Response(out.getvalue(), mimetype="text/csv")
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "reconciliation"
    sheet.append(header)
    for row in rows:
        sheet.append([v if isinstance(v, str | int | float | None) else str(v) for v in row])
    data = io.BytesIO()
    book.save(data)
    return Response(data.getvalue(),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

"""``POST /v1/rate/sheet``: rate a spreadsheet range (rows of formula arguments) in one call.

Why a separate route from ``/v1/rate/batch``: spreadsheet add-ins send positional cells (serial dates,
blank rows, a tariff id per row) and need one result per row with an error text instead of a failed
request. The mapping lives in ``connector.spreadsheets.rating``; prices come from the rating core only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from connector.api.context import db, json_body, tenant
from connector.api.errors import ApiError
from connector.models import Tariff
from connector.spreadsheets.rating import RowError, check_zone, rate_rows
from connector.storage import repo

bp = Blueprint("sheet_rate", __name__, url_prefix="/v1/rate")

MAX_ROWS = 10000


@bp.post("/sheet")
def rate_sheet() -> ResponseReturnValue:
    body = json_body()
    unknown = set(body) - {"rows", "time_zone"}
    if unknown:
        raise ApiError.field(sorted(unknown)[0], "unknown field (expected rows, time_zone)")
    rows = body.get("rows")
    if not isinstance(rows, list):
        raise ApiError.field("rows", "expected an array of [kwh, minutes, start, tariff_id, customer_class?]")
    limit = int(current_app.config.get("SHEET_MAX_ROWS", MAX_ROWS))
    if len(rows) > limit:
        raise ApiError.field("rows", f"at most {limit} rows per call (got {len(rows)}); split the range",
                             status=413, title="Payload Too Large")
    try:
        zone = check_zone(body.get("time_zone") or current_app.config["DEFAULT_TIME_ZONE"])
    except RowError as exc:
        raise ApiError.field(exc.field, exc.reason) from exc

    def lookup(tariff_id: str) -> Sequence[Tariff] | None:
        return repo.load_tariffs(db(), tenant(), tariff_id)

    budget = float(current_app.config["SHEET_TIME_BUDGET_SECONDS"])
    results = rate_rows(rows, lookup, zone, deadline=time.monotonic() + budget)
    return jsonify({"count": len(rows), "time_zone": zone, "results": [r.to_dict() for r in results]})

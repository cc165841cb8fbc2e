"""Billing anomalies (read) and the tenant's anomaly thresholds (read/replace).

Detection lives in ``connector.billing.anomalies``; these routes only list what it stored and edit the
thresholds it reads.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from connector.api.billing_link import call
from connector.api.context import json_body
from connector.api.errors import ApiError

ANOMALIES = "connector.billing.anomalies"

bp = Blueprint("anomalies", __name__, url_prefix="/v1")


@bp.get("/anomalies")
def list_anomalies() -> ResponseReturnValue:
    filters = {k: request.args[k] for k in ("rule", "session_id", "station_id") if request.args.get(k)}
    try:
        limit = int(request.args.get("limit", "100"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 1000:
        raise ApiError.field("limit", "expected an integer 1..1000", status=400, title="Bad Request")
    return jsonify(call(ANOMALIES, "list_anomalies", limit=limit, **filters))


@bp.get("/anomaly-rules")
def get_anomaly_rules() -> ResponseReturnValue:
    return jsonify(call(ANOMALIES, "get_rules"))


@bp.put("/anomaly-rules")
def put_anomaly_rules() -> ResponseReturnValue:
    return jsonify(call(ANOMALIES, "put_rules", json_body()))

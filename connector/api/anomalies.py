"""Billing anomalies (read) and the tenant's anomaly thresholds (read/replace).

Detection lives in ``connector.billing.anomalies``; these routes only list what it stored and edit the
thresholds it reads.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from connector.api.context import db, json_body, query_limit, tenant
from connector.billing import anomalies

bp = Blueprint("anomalies", __name__, url_prefix="/v1")


@bp.get("/anomalies")
def list_anomalies() -> ResponseReturnValue:
    filters = {k: request.args[k] for k in ("rule", "session_id", "station_id") if request.args.get(k)}
    limit = query_limit()
    return jsonify(anomalies.list_anomalies(db(), tenant(), limit=limit, **filters))


@bp.get("/anomaly-rules")
def get_anomaly_rules() -> ResponseReturnValue:
    return jsonify(anomalies.get_rules(db(), tenant()))


@bp.put("/anomaly-rules")
def put_anomaly_rules() -> ResponseReturnValue:
    rules = anomalies.put_rules(db(), tenant(), json_body())
    db().commit()
    return jsonify(rules)

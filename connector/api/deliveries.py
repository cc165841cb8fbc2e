"""Outbox deliveries: list (e.g. the dead letters), show one, redeliver a dead/failed one by hand."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from connector.api.context import db, tenant
from connector.api.errors import ApiError
from connector.api.idempotency import idempotent
from connector.events import deliveries

bp = Blueprint("deliveries", __name__, url_prefix="/v1/deliveries")


@bp.get("")
def list_deliveries() -> ResponseReturnValue:
    limit = request.args.get("limit", "100")
    if not limit.isdigit() or not 1 <= int(limit) <= 1000:
        raise ApiError.field("limit", "an integer from 1 to 1000", status=400, title="Bad Request")
    filters = {k: request.args[k] for k in ("status", "event_id") if request.args.get(k)}
    return jsonify(deliveries.list_deliveries(db(), tenant(), limit=int(limit), **filters))


@bp.get("/<delivery_id>")
def get_delivery(delivery_id: str) -> ResponseReturnValue:
    return jsonify(deliveries.get_delivery(db(), tenant(), delivery_id))


@bp.post("/<delivery_id>/redeliver")
@idempotent
def redeliver(delivery_id: str) -> ResponseReturnValue:
    delivery = deliveries.redeliver(db(), tenant(), delivery_id)
    db().commit()
    return jsonify(delivery)

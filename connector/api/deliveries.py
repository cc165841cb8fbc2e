"""Outbox deliveries: list (e.g. the dead letters), show one, redeliver a dead/failed one by hand."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from connector.api.context import db, query_choice, query_limit, tenant
from connector.api.idempotency import idempotent
from connector.events import deliveries

bp = Blueprint("deliveries", __name__, url_prefix="/v1/deliveries")
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "dead")


@bp.get("")
def list_deliveries() -> ResponseReturnValue:
    limit = query_limit()
    filters = {k: request.args[k] for k in ("status", "event_id") if request.args.get(k)}
    query_choice("status", DELIVERY_STATUSES)
    return jsonify(deliveries.list_deliveries(db(), tenant(), limit=limit, **filters))


@bp.get("/<delivery_id>")
def get_delivery(delivery_id: str) -> ResponseReturnValue:
    return jsonify(deliveries.get_delivery(db(), tenant(), delivery_id))


@bp.post("/<delivery_id>/redeliver")
@idempotent
def redeliver(delivery_id: str) -> ResponseReturnValue:
    delivery = deliveries.redeliver(db(), tenant(), delivery_id)
    db().commit()
    return jsonify(delivery)

"""Webhook subscriptions (Power Automate / Logic Apps triggers): subscribe → 201 + Location; DELETE it."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, jsonify, url_for
from flask.typing import ResponseReturnValue

from connector.api.billing_link import SUBSCRIPTIONS, call
from connector.api.context import json_body
from connector.api.errors import ApiError
from connector.api.idempotency import idempotent

bp = Blueprint("subscriptions", __name__, url_prefix="/v1/subscriptions")


@bp.post("")
@idempotent
def create_subscription() -> ResponseReturnValue:
    body = json_body()
    url = body.get("callback_url")
    if not isinstance(url, str) or urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
        raise ApiError.field("callback_url", "required: an absolute http(s) URL")
    types = body.get("event_types")
    if not isinstance(types, list) or not types or not all(isinstance(t, str) and t for t in types):
        raise ApiError.field("event_types", "required: a non-empty array of event types")
    result = call(SUBSCRIPTIONS, "create_subscription", url, types)
    response = jsonify(result)
    response.status_code = 201
    response.headers["Location"] = url_for("subscriptions.delete_subscription", subscription_id=result["id"],
                                           _external=True)
    return response


@bp.get("")
def list_subscriptions() -> ResponseReturnValue:
    result = call(SUBSCRIPTIONS, "list_subscriptions")
    return jsonify(result if isinstance(result, dict) else {"items": result})


@bp.delete("/<subscription_id>")
def delete_subscription(subscription_id: str) -> ResponseReturnValue:
    deleted = call(SUBSCRIPTIONS, "delete_subscription", subscription_id)
    if deleted is False:
        raise ApiError.not_found("subscription", subscription_id)
    return "", 204

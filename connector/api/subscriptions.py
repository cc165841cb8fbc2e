"""Webhook subscriptions (Power Automate / Logic Apps triggers): subscribe → 201 + Location; DELETE it.

``POST /v1/subscriptions/triggers/<event>`` is the path each low-code trigger subscribes on: Power Platform
could route it with a policy, but Logic Apps' custom APIs have none, so the API serves it itself."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, jsonify, url_for
from flask.typing import ResponseReturnValue

from connector.api.context import db, json_body, tenant
from connector.api.errors import ApiError
from connector.api.idempotency import idempotent
from connector.events import subscriptions

bp = Blueprint("subscriptions", __name__, url_prefix="/v1/subscriptions")


def _callback_url(body: dict) -> str:
    url = body.get("callback_url")
    if not isinstance(url, str) or urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
        raise ApiError.field("callback_url", "required: an absolute http(s) URL")
    return url


@bp.post("")
@idempotent
def create_subscription() -> ResponseReturnValue:
    body = json_body()
    url = _callback_url(body)
    types = body.get("event_types")
    if not isinstance(types, list) or not types or not all(isinstance(t, str) and t for t in types):
        raise ApiError.field("event_types", "required: a non-empty array of event types")
    return _created(url, types)


@bp.post("/triggers/<event>")
@idempotent
def subscribe_to_event(event: str) -> ResponseReturnValue:
    """One event type, named by the path (``session-billed`` or ``session.billed``)."""
    # dashes stand for the dot in the connectors' paths; types themselves hold one dot and no dash
    event_type = event if "." in event else event.replace("-", ".", 1)
    if event_type not in subscriptions.EVENT_TYPES:
        raise ApiError.not_found("event type", event)
    body = json_body()
    url = _callback_url(body)
    if body.get("event_types") not in (None, [event_type]):
        raise ApiError.field("event_types", f"this path subscribes to [{event_type}] only; leave it out")
    return _created(url, [event_type])


def _created(url: str, types: list[str]) -> ResponseReturnValue:
    result = subscriptions.create_subscription(db(), tenant(), url, types)
    db().commit()
    response = jsonify(result)
    response.status_code = 201
    response.headers["Location"] = url_for("subscriptions.delete_subscription", subscription_id=result["id"],
                                           _external=True)
    return response


@bp.get("")
def list_subscriptions() -> ResponseReturnValue:
    return jsonify(subscriptions.list_subscriptions(db(), tenant()))


@bp.delete("/<subscription_id>")
def delete_subscription(subscription_id: str) -> ResponseReturnValue:
    subscriptions.delete_subscription(db(), tenant(), subscription_id)
    db().commit()
    return "", 204

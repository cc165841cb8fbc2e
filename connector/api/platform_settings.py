"""Per-tenant platform adapters: list, show, enable/disable, config and field mapping (secrets never echoed)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from connector.api.context import db, json_body, tenant
from connector.platforms import settings

bp = Blueprint("platform_settings", __name__, url_prefix="/v1/platforms")


@bp.get("")
def list_platforms() -> ResponseReturnValue:
    return jsonify(settings.list_platforms(db(), tenant()))


@bp.get("/<name>")
def get_platform(name: str) -> ResponseReturnValue:
    return jsonify(settings.get_platform(db(), tenant(), name))


@bp.put("/<name>")
def put_platform(name: str) -> ResponseReturnValue:
    platform = settings.put_platform(db(), tenant(), name, json_body())
    db().commit()
    return jsonify(platform)

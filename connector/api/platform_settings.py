"""Per-tenant platform adapters: list, show, enable/disable, config and field mapping (secrets never echoed)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from connector.api.billing_link import call
from connector.api.context import json_body

bp = Blueprint("platform_settings", __name__, url_prefix="/v1/platforms")
SETTINGS = "connector.platforms.settings"


@bp.get("")
def list_platforms() -> ResponseReturnValue:
    return jsonify(call(SETTINGS, "list_platforms"))


@bp.get("/<name>")
def get_platform(name: str) -> ResponseReturnValue:
    return jsonify(call(SETTINGS, "get_platform", name))


@bp.put("/<name>")
def put_platform(name: str) -> ResponseReturnValue:
    return jsonify(call(SETTINGS, "put_platform", name, json_body()))

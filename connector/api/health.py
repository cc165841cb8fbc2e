"""Liveness (the process answers) and readiness (the database answers)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from connector.api.context import db
from connector.api.errors import problem

bp = Blueprint("health", __name__, url_prefix="/v1")


@bp.get("/health")
def get_health() -> ResponseReturnValue:
    return jsonify({"status": "ok"})


@bp.get("/ready")
def get_ready() -> ResponseReturnValue:
    try:
        db().execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any database failure means not ready
        return problem(503, "Service Unavailable", "the database is not reachable")
    return jsonify({"status": "ready", "database": "ok"})

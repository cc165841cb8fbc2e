"""Shared bits of the ingest blueprints: the sink and tenant of a request, RFC 9457 problems."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, jsonify

from connector.ingest.sink import SessionSink

SINK_KEY = "evbill.ingest_sink"


def app_sink() -> SessionSink:
    """The app's ingestion sink: set by tests/embedders, else the database pipeline on the app's URL."""
    sink = current_app.extensions.get(SINK_KEY)
    if sink is None:
        from connector.ingest.pipeline import DatabaseSink

        sink = DatabaseSink.for_app(current_app)
        current_app.extensions[SINK_KEY] = sink
    return sink


def request_tenant() -> str:
    """The tenant the API's authentication put on ``g`` (or the app's default tenant)."""
    return str(g.get("tenant_id") or current_app.config.get("DEFAULT_TENANT_ID", "default"))


def problem(status: int, title: str, field: str | None = None, reason: str | None = None,
            **extra: Any) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if field is not None:
        body["detail"] = f"{field}: {reason}"
        body["errors"] = [{"field": field, "reason": reason}]
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response

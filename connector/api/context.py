"""Per-request state: the database session (``g.db``) and the caller's tenant (``g.tenant_id``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app, g, request
from sqlalchemy import Connection
from sqlalchemy.orm import Session as DbSession

from connector.api.errors import ApiError
from connector.billing.intake import DatabaseSink
from connector.models.sink import SessionSink

ENGINE_KEY = "evbill.engine"
SESSIONMAKER_KEY = "evbill.sessionmaker"


def db() -> DbSession:
    if "db" not in g:
        g.db = current_app.extensions[SESSIONMAKER_KEY]()
    return g.db


@contextmanager
def read_only() -> Iterator[DbSession | Connection]:
    """For a read-only lookup (the API key, a stored tariff): the request's ORM session when it has one (same
    transaction), else a pooled Core connection held only for the lookup. Why: on ``/v1/rate`` the ORM
    session's set-up and close cost as much as the query itself."""
    if "db" in g:
        yield g.db
        return
    with current_app.extensions[ENGINE_KEY].connect() as connection:
        yield connection


def rollback_db() -> None:
    """Drop the request's uncommitted work: a refused use case leaves nothing behind and holds no lock."""
    session = g.get("db")
    if session is not None:
        session.rollback()


def close_db(_exc: BaseException | None = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def tenant() -> str:
    return str(g.tenant_id)


def json_body() -> dict[str, Any]:
    """The JSON object body, or a 415/400 problem naming the reason."""
    if not request.is_json:
        raise ApiError(415, "Unsupported Media Type", "send a JSON body with Content-Type: application/json")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError.field("body", "expected a JSON object", status=400, title="Bad Request")
    return data


def document_size_limit(field: str = "body") -> None:
    """413 naming ``field`` when the body is larger than one CDR/session document may be
    (``EVBILL_MAX_DOCUMENT_BYTES``): rating time and memory grow with the document, checked before parsing."""
    limit = int(current_app.config.get("MAX_DOCUMENT_BYTES") or 0)
    size = request.content_length
    if size is None:
        size = len(request.get_data(cache=True))
    if limit and size > limit:
        raise ApiError.field(field, f"{size} bytes, larger than the limit of {limit} bytes for one document",
                             status=413, title="Payload Too Large")


def query_limit(default: int = 100) -> int:
    """``?limit=``: an integer 1..1000 (the spec's range); anything else is refused, never clamped."""
    raw = request.args.get("limit", str(default)).strip()
    if not raw.isdecimal() or not 1 <= int(raw) <= 1000:
        raise ApiError.field("limit", "expected an integer 1..1000", status=400, title="Bad Request")
    return int(raw)


def query_choice(name: str, choices: tuple[str, ...]) -> str | None:
    """An optional enumerated query value (``?status=``): one of ``choices`` or absent; else a 422 naming it
    (as the invoice and delivery lists answered already)."""
    value = request.args.get(name)
    if not value:
        return None
    if value not in choices:
        raise ApiError.field(name, f"one of: {', '.join(choices)}")
    return value


def want_csv() -> bool:
    fmt = request.args.get("format")
    if fmt:
        return fmt.lower() == "csv"
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
    return best == "text/csv" and request.accept_mimetypes["text/csv"] > request.accept_mimetypes["application/json"]


SINK_KEY = "evbill.ingest_sink"


def app_sink() -> SessionSink:
    """The app's ingestion sink: set by tests/embedders, else the one intake path on the app's database."""
    sink = current_app.extensions.get(SINK_KEY)
    if sink is None:
        sink = DatabaseSink.for_app(current_app)
        current_app.extensions[SINK_KEY] = sink
    return sink


def request_tenant() -> str:
    """The tenant the API's authentication put on ``g`` (or the app's default tenant)."""
    return str(g.get("tenant_id") or current_app.config.get("DEFAULT_TENANT_ID", "default"))

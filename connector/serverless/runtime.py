"""The sink a serverless function writes to: the database pipeline on ``$DATABASE_URL``.

Created once per container (warm invocations reuse the engine). Tests may install another sink.
"""

from __future__ import annotations

from connector.config import DatabaseSettings, ServerlessSettings
from connector.models.sink import SessionSink

_sink: SessionSink | None = None


def tenant_id() -> str:
    """The tenant of a message that names none (``$EVBILL_TENANT_ID``)."""
    return ServerlessSettings.from_environ().tenant_id


def get_sink() -> SessionSink:
    global _sink
    if _sink is None:
        from connector.billing.intake import DatabaseSink

        _sink = DatabaseSink.from_url(DatabaseSettings.from_environ().url)
    return _sink


def set_sink(sink: SessionSink | None) -> None:
    global _sink
    _sink = sink

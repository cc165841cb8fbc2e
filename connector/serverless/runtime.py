"""The sink a serverless function writes to: the database pipeline, and how its failures are sorted.

Created once per container (warm invocations reuse the engine). The database URL comes from the secret
``EVBILL_DATABASE_URL_SECRET`` names (``connector.serverless.secrets``), else ``DATABASE_URL``.
Tests may install another sink.
"""

from __future__ import annotations

from connector.config import DatabaseSettings, ServerlessSettings
from connector.models.sink import SessionSink
from connector.validation import ProblemError

_sink: SessionSink | None = None
# refusals about the message itself: retrying the same bytes cannot help (409 may be a race: retried)
PERMANENT_STATUSES = frozenset({400, 404, 413, 422})


def tenant_id() -> str:
    """The tenant of a message that names none (``$EVBILL_TENANT_ID``)."""
    return ServerlessSettings.from_environ().tenant_id


def database_url() -> str:
    reference = ServerlessSettings.from_environ().database_url_secret
    if reference:
        from connector.serverless import secrets

        return secrets.resolve(reference)
    return DatabaseSettings.from_environ().url


def get_sink() -> SessionSink:
    global _sink
    if _sink is None:
        from connector.billing.intake import DatabaseSink

        _sink = DatabaseSink.from_url(database_url())
    return _sink


def set_sink(sink: SessionSink | None) -> None:
    global _sink
    _sink = sink


def is_permanent(exc: BaseException) -> bool:
    """A refusal of the message (bad field, unknown session...); anything else (database down, lock
    timeout, a bug) may pass on a later try and must be retried, never acknowledged."""
    return isinstance(exc, ProblemError) and exc.status in PERMANENT_STATUSES

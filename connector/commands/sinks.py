"""What the ingest commands share: the sink they write to and how a tariff file becomes a dry-run sink."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from connector.commands import InputError, database_url
from connector.commands.inputs import load_json
from connector.models import Tariff
from connector.models.sink import SessionSink
from connector.validation import first_error_line


def load_tariffs(path: Path) -> list[Tariff]:
    data = load_json(path, "tariff")
    try:
        return [Tariff.model_validate(t) for t in (data if isinstance(data, list) else [data])]
    except ValidationError as exc:
        raise InputError(first_error_line(exc, "tariff")) from exc


def make_sink(url: str | None, dry_run_tariff: Path | None, tariff: Path | None = None) -> SessionSink:
    """The database ingestion path (an ``end`` is billed; ``--tariff T.json``: priced by the rating core with T
    and stored with the session, no invoice line). ``--dry-run-tariff T.json``: no database, in memory.
    ``url``: ``--database-url``, default ``$DATABASE_URL``."""
    if dry_run_tariff is not None:
        from connector.ingest.memory import MemorySink

        return MemorySink(load_tariffs(dry_run_tariff))
    from connector.billing.intake import DatabaseSink

    return DatabaseSink.from_url(database_url(url), load_tariffs(tariff) if tariff else None)

"""Session instants are stored in UTC whatever offset the source sent (SQLite drops offsets)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from connector.api import create_tables
from connector.storage import repo
from connector.storage.db import make_engine


def test_local_offsets_are_stored_as_utc(db_url: str) -> None:
    engine = make_engine(db_url)
    create_tables(engine)
    with Session(engine) as db:
        repo.ensure_tenant(db, "t1")
        repo.put_session(db, "t1", {"id": "s1", "start": "2026-01-13T22:40:00+01:00",
                                    "end": "2026-01-14T00:10:00+01:00"})
        db.commit()
    with Session(engine) as db:
        row = repo.get_session_row(db, "t1", "s1")
        assert row is not None
        assert repo.aware(row.start_at) == datetime(2026, 1, 13, 21, 40, tzinfo=UTC)
        assert repo.aware(row.end_at) == datetime(2026, 1, 13, 23, 10, tzinfo=UTC)
    engine.dispose()

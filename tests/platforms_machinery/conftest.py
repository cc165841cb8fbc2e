"""Shared-machinery tests reuse the events fixtures (fresh database on SQLite and PostgreSQL)."""

from tests.events.conftest import db, db_url, engine, pg_url  # noqa: F401 - pytest fixtures

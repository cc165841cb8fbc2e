"""Fault tests share the events fixtures: a fresh database per test on SQLite and PostgreSQL."""

from tests.events.conftest import db, db_url, engine, pg_url

__all__ = ["db", "db_url", "engine", "pg_url"]

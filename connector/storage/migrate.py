"""Alembic driven from code (no alembic.ini needed): upgrade, autogenerate a revision, compare."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from connector.storage.db import make_engine
from connector.storage.tables import all_metadata

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def revision(message: str, url: str) -> Any:
    """Autogenerate the next migration from the tables against a database at head."""
    return command.revision(alembic_config(url), message=message, autogenerate=True)


def diff(url: str) -> list[Any]:
    """Differences between the database and the table modules (empty = migrations are complete)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, all_metadata()))
    finally:
        engine.dispose()

"""Core ``INSERT``s shared by the write paths: plain inserts of rows nothing reads back in the same transaction,
and inserts that do nothing when the key is stored already.

Why: on the session-end path an ORM unit of work per row cost more than the statement, and building
``insert(...).values(...)`` per call made SQLAlchemy compile it every time; one statement per table, executed
with bound values, is compiled once. "Insert unless present" is ``ON CONFLICT DO NOTHING`` on both databases
the product supports (PostgreSQL, SQLite), so concurrent writers of one key never fail each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Insert, Table, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

_PLAIN: dict[Table, Insert] = {}


def table_of(model: Table | type[Any]) -> Table:
    return model if isinstance(model, Table) else cast(Table, model.__table__)


def values_of(row: Any, columns: Iterable[str]) -> dict[str, Any]:
    """The named attributes of an ORM object (columns left out take their defaults in the database)."""
    return {c: getattr(row, c) for c in columns}


def insert_rows(db: Session, model: Table | type[Any], rows: Sequence[Mapping[str, Any]]) -> None:
    """``rows`` in one ``INSERT`` (executemany for several). What the ORM session has pending is flushed first,
    so the rows land after the changes they follow, as with the unit of work."""
    db.flush()
    if not rows:
        return
    table = table_of(model)
    statement = _PLAIN.get(table)
    if statement is None:
        statement = _PLAIN[table] = insert(table)
    db.execute(statement, rows[0] if len(rows) == 1 else list(rows))


def insert_new(db: Session, model: Table | type[Any], values: Mapping[str, Any]) -> bool:
    """Insert one row unless its key is stored (a concurrent writer's row wins): True when this call inserted
    it. ``RETURNING`` tells the two apart (an INSERT's rowcount is -1 through psycopg here)."""
    table = table_of(model)
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        statement = sqlite.insert(table)
    else:  # pragma: no cover - the API runs on PostgreSQL and SQLite only
        raise NotImplementedError(f"insert_new on {dialect}")
    key = next(iter(table.primary_key.columns))
    inserted = db.execute(statement.values(**values).on_conflict_do_nothing().returning(key)).first()
    return inserted is not None

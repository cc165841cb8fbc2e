"""Persistence of the ingestion path: the event log (unique per tenant + event id) and the session document.

PROVISIONAL: the API contributor's ``connector/storage/tables.py`` (``sessions``, ``session_events``) had
not landed when ingest needed a store, so these tables (own MetaData, ``ingest_`` prefix, same engine /
``DATABASE_URL``) hold the data. Only this module knows the tables; switching the pipeline to the
shared tables is a change here alone.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from connector.ingest.events import SessionEvent

metadata = MetaData()

session_events = Table(
    "ingest_session_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("session_id", String(64), nullable=False),
    Column("type", String(8), nullable=False),
    Column("source", String(40), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSON, nullable=False),
    UniqueConstraint("tenant_id", "event_id", name="uq_ingest_session_events_tenant_event"),
)

sessions = Table(
    "ingest_sessions", metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("session_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("document", JSON, nullable=False),
    Column("rating", JSON, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant_id", "session_id", name="pk_ingest_sessions"),
)

_ready: set[str] = set()
_lock = threading.Lock()


def ensure_schema(engine: Engine) -> None:
    key = str(engine.url)
    with _lock:
        if key not in _ready:
            metadata.create_all(engine, checkfirst=True)
            _ready.add(key)


def add_event(db: DbSession, tenant_id: str, event: SessionEvent) -> bool:
    """Record the event in the open transaction; False if (tenant_id, event_id) exists already.

    Must be the transaction's first write: a concurrent duplicate rolls the whole transaction back (no
    SAVEPOINT — pysqlite commits on releasing an outermost savepoint).
    """
    try:
        db.execute(insert(session_events).values(
            tenant_id=tenant_id, event_id=event.event_id, session_id=event.session_id, type=event.type,
            source=event.source[:40], occurred_at=event.timestamp, received_at=datetime.now(UTC),
            payload=json.loads(event.model_dump_json())))
    except IntegrityError:  # seen before (or a concurrent worker stored it first)
        db.rollback()
        return False
    return True


def get_session(db: DbSession, tenant_id: str, session_id: str) -> dict[str, Any] | None:
    row = db.execute(select(sessions.c.document).where(
        sessions.c.tenant_id == tenant_id, sessions.c.session_id == session_id).with_for_update()).first()
    return None if row is None else dict(row[0])


def put_session(db: DbSession, tenant_id: str, doc: dict[str, Any]) -> None:
    values = {"status": doc.get("status", "active"), "document": doc, "updated_at": datetime.now(UTC)}
    done = db.execute(update(sessions).where(
        sessions.c.tenant_id == tenant_id, sessions.c.session_id == doc["id"]).values(**values))
    if done.rowcount == 0:
        db.execute(insert(sessions).values(tenant_id=tenant_id, session_id=doc["id"], **values))


def get_rating(db: DbSession, tenant_id: str, session_id: str) -> dict[str, Any] | None:
    row = db.execute(select(sessions.c.rating).where(
        sessions.c.tenant_id == tenant_id, sessions.c.session_id == session_id)).first()
    return None if row is None or row[0] is None else dict(row[0])


def put_rating(db: DbSession, tenant_id: str, session_id: str, rating: dict[str, Any]) -> None:
    db.execute(update(sessions).where(
        sessions.c.tenant_id == tenant_id, sessions.c.session_id == session_id).values(
        rating=rating, status="rated", updated_at=datetime.now(UTC)))

"""Transactional outbox: ``emit`` writes the event in the caller's transaction (never commits).

Why: the change (an invoice, a journal entry) and the news of it must land together or not at all; the
worker (``connector.events.worker``) delivers committed events later, so a crash between the commit and
the webhook cannot lose or invent an event.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from connector.events import envelope
from connector.models.documents import EventDataJson, EventJson
from connector.storage import inserts
from connector.storage.tables.outbox import EventRow


def emit(db: Session, tenant_id: str, type: str, data: EventDataJson, *,
         created_at: datetime | None = None) -> EventJson:
    """Insert the envelope into ``events`` (with the caller's pending changes flushed, not committed) and
    return it as a dict."""
    env = envelope.build(tenant_id, type, data, created_at)
    insert_rows(db, [env])
    return env.to_dict()


def insert_rows(db: Session, envelopes: list[envelope.Envelope]) -> None:
    """The envelopes as rows of ``events``, in one Core ``INSERT`` (an ORM unit of work per event cost more
    than the statement); pending ORM changes are flushed first, so an event never lands before the change it
    reports within the transaction."""
    inserts.insert_rows(db, EventRow, [{"id": env.id, "tenant_id": env.tenant_id, "type": env.type,
                                        "created_at": env.created_at, "data": env.data, "fanned_out": False}
                                       for env in envelopes])


def row_to_envelope(row: EventRow) -> EventJson:
    """The wire envelope of a stored event (what webhooks and adapters receive)."""
    return {"id": row.id, "type": row.type, "tenant_id": row.tenant_id,
            "created_at": envelope.iso(row.created_at), "data": row.data}

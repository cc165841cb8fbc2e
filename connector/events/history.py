"""The tenant's stored events, newest first (the API's ``GET /v1/events``), as webhooks receive them.

Why: a low-code trigger shows real events while a user maps fields (Zapier's sample list); only the outbox
holds events whose shape no other list answers (interim costs, re-ratings). The list reads the outbox table,
so it holds what retention (``connector.events.retention``) keeps: fully sent events older than the outbox
retention are gone from it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.events.envelope import EventError
from connector.events.outbox import row_to_envelope
from connector.events.subscriptions import EVENT_TYPES
from connector.models.documents import EventJson
from connector.storage.paging import after_row
from connector.storage.tables.outbox import EventRow


def list_events(db: Session, tenant_id: str, *, type: str | None = None, limit: int = 100,
                after: str | None = None, created_from: datetime | None = None,
                created_to: datetime | None = None) -> list[EventJson]:
    """At most ``limit`` envelopes of the tenant's public event types, newest first (equal instants in id
    order); ``after`` (an event id) pages on (``UnknownCursor`` when it is not in the list); ``created_to``
    excludes. An unknown ``type`` is an ``EventError`` naming ``type``."""
    if type is not None and type not in EVENT_TYPES:
        raise EventError("type", f"one of: {', '.join(EVENT_TYPES)}")
    query = select(EventRow).where(EventRow.tenant_id == tenant_id,
                                   EventRow.type == type if type else EventRow.type.in_(EVENT_TYPES))
    if created_from is not None:
        query = query.where(EventRow.created_at >= created_from)
    if created_to is not None:
        query = query.where(EventRow.created_at < created_to)
    query = after_row(db, query, [(EventRow.created_at, True)], EventRow.id, EventRow.tenant_id, tenant_id, after)
    return [row_to_envelope(row) for row in db.scalars(query.limit(limit))]

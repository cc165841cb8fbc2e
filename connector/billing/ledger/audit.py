"""The audit log: who changed tariffs, invoices and account mappings, with before/after snapshots.

The actor comes from ``ACTOR`` (a context variable the API sets per request from the API key / token
subject; CLI and workers leave the default ``system``), so billing functions keep the pinned signatures.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from connector.storage.repo import aware
from connector.storage.tables.billing import AuditLogRow

ACTOR: ContextVar[str] = ContextVar("evbill_actor", default="system")


def record(db: DbSession, tenant_id: str, entity: str, entity_id: str, action: str,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
           actor: str | None = None) -> None:
    """Append one row in the caller's transaction (the change and its audit row commit together)."""
    db.add(AuditLogRow(tenant_id=tenant_id, actor=(actor or ACTOR.get())[:120], entity=entity,
                       entity_id=entity_id[:100], action=action, before=before, after=after))
    db.flush()


def row_json(row: AuditLogRow) -> dict[str, Any]:
    return {"id": row.id, "actor": row.actor, "entity": row.entity, "entity_id": row.entity_id,
            "action": row.action, "before": row.before, "after": row.after, "at": aware(row.at).isoformat()}


def list_audit(db: DbSession, tenant_id: str, *, entity: str | None = None, entity_id: str | None = None,
               action: str | None = None, since: datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Newest first."""
    query = select(AuditLogRow).where(AuditLogRow.tenant_id == tenant_id)
    if entity:
        query = query.where(AuditLogRow.entity == entity)
    if entity_id:
        query = query.where(AuditLogRow.entity_id == entity_id)
    if action:
        query = query.where(AuditLogRow.action == action)
    if since:
        query = query.where(AuditLogRow.at >= since)
    return [row_json(r) for r in db.scalars(query.order_by(AuditLogRow.id.desc()).limit(limit))]

"""Jira's local dedupe table: the ticket already opened for an anomaly fingerprint.

Checked before Jira's label search and written right after a create, so a redelivered event or a
restarted worker never opens a second ticket (see ``connector.platforms.adapters.jira``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from connector.storage.db import Base
from connector.storage.tables.platforms import jira_anomaly_tickets as tickets


class TicketStore:
    """fingerprint -> issue key, per tenant and project (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        Base.metadata.create_all(engine, tables=[tickets], checkfirst=True)  # embedded default; migrated otherwise

    def get(self, tenant: str, project: str, fp: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(tickets.c.issue_key).where(
                tickets.c.tenant_id == tenant, tickets.c.project_key == project,
                tickets.c.fingerprint == fp)).scalar_one_or_none()

    def put(self, tenant: str, project: str, fp: str, issue_key: str, now: datetime) -> str:
        """Record the ticket; if another worker recorded one first, return theirs."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(tickets).values(tenant_id=tenant, project_key=project, fingerprint=fp,
                                                    issue_key=issue_key, created_at=now))
            return issue_key
        except IntegrityError:
            return self.get(tenant, project, fp) or issue_key

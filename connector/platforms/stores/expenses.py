"""SAP Concur's record of filed Quick Expenses: Concur has no idempotency key and v4 no lookup.

The ``quickExpenseIdUri`` is recorded per session right after the 201, so a redelivery answers from
here instead of posting a second expense (see ``connector.platforms.adapters.sap_concur``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from connector.storage.db import Base
from connector.storage.tables.platforms import concur_quick_expenses as expenses


class ExpenseStore:
    """(tenant, session) -> quickExpenseIdUri, so a redelivery never posts a second expense."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        Base.metadata.create_all(engine, tables=[expenses], checkfirst=True)

    def get(self, tenant: str, session_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(expenses.c.uri).where(expenses.c.tenant_id == tenant,
                                                             expenses.c.session_id == session_id)).scalar_one_or_none()

    def put(self, tenant: str, session_id: str, uri: str) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(expenses).values(tenant_id=tenant, session_id=session_id, uri=uri,
                                                     created_at=datetime.now(UTC)))
        except IntegrityError:  # another worker recorded it first: same session, keep theirs
            pass

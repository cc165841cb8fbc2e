"""Every table module on the shared ``Base``: what Alembic and ``create_all`` see."""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from connector.storage.db import Base

TABLE_MODULES = (
    "connector.storage.tables",
    "connector.billing.tables",
    "connector.billing.adjustment_tables",
    "connector.billing.reconciliation_tables",
    "connector.events.tables",
    "connector.platforms.tables",
    # adapter-owned tables (dedupe and token stores), on the same Base so Alembic migrates them too
    "connector.platforms.oauth",
    "connector.platforms.jira",
    "connector.platforms.slack",
    "connector.platforms.sap_concur",
)


def import_table_modules() -> list[str]:
    loaded = []
    for name in TABLE_MODULES:
        importlib.import_module(name)
        loaded.append(name)
    return loaded


def all_metadata() -> MetaData:
    import_table_modules()
    return Base.metadata

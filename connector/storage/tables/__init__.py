"""Every table of the product, on the one shared ``Base``: what Alembic and ``create_all`` see.

One module per area (``core``: tenants, keys, tariffs, customers, sessions, idempotency; ``billing``;
``adjustments``; ``reconciliation``; ``outbox``; ``platforms``, including the adapters' own dedupe and
token stores; ``ingest``: OCPP station registry, importer cursors; ``payments`` that come back from payment
platforms; ``ocpi`` roaming partners and pushes). Importing this package registers them all; ``storage``
imports nothing above it.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from connector.storage.db import Base
from connector.storage.tables import (
    adjustments,
    billing,
    core,
    ingest,
    ocpi,
    outbox,
    payments,
    platforms,
    reconciliation,
)

TABLE_MODULES = (core, billing, adjustments, reconciliation, outbox, platforms, ingest, payments, ocpi)


def all_metadata() -> MetaData:
    """The metadata holding every table (all table modules are imported above)."""
    return Base.metadata

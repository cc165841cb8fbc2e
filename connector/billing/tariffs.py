"""Tariffs as a use case: create one, or publish a new version and re-rate its open sessions.

Why here and not in the route: storing the version, auditing it and re-rating the sessions it changes are one
change of the books, so they happen in the caller's one transaction (never commits) and every face calls the
same function. Refusals: ``Conflict`` for an existing id, ``NotFound`` for an unknown tariff, ``FieldError``
for a change of currency.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.orm import Session as DbSession

from connector.billing.ledger import audit
from connector.billing.pricing.rerating import on_tariff_published
from connector.models import Tariff
from connector.rating import TariffSwitchPolicy
from connector.storage import repo
from connector.validation import Conflict, FieldError, NotFound


class Published(NamedTuple):
    """The new version's number and what re-rating the tariff's open sessions did."""

    version_no: int
    rerating: dict[str, Any]


def create_tariff(db: DbSession, tenant_id: str, tariff: Tariff) -> None:
    """Store ``tariff`` as version 1 and audit it."""
    if repo.get_tariff_row(db, tenant_id, tariff.id) is not None:
        raise Conflict(f"tariff '{tariff.id}' exists; publish a new version instead", field="id")
    repo.create_tariff(db, tenant_id, tariff)
    audit.record(db, tenant_id, "tariff", tariff.id, "create", None,
                 {"currency": tariff.currency, "version_no": 1, "tariff": json.loads(repo.tariff_json(tariff))})


def publish_tariff(db: DbSession, tenant_id: str, tariff_id: str, tariff: Tariff, effective_at: datetime,
                   policy: TariffSwitchPolicy) -> Published:
    """Publish ``tariff`` as the next version from ``effective_at`` (the version valid then ends there), audit
    it and re-rate the tariff's open sessions under ``policy``."""
    row = repo.get_tariff_row(db, tenant_id, tariff_id)
    if row is None:
        raise NotFound(f"tariff '{tariff_id}' does not exist")
    if tariff.currency != row.currency:
        raise FieldError("tariff.currency", f"must stay {row.currency} for tariff '{tariff_id}'")
    before = {"current_version": row.current_version}
    version = repo.publish_version(db, tenant_id, row, tariff, effective_at, policy.value)
    audit.record(db, tenant_id, "tariff", tariff_id, "publish", before,
                 {"current_version": version.version_no, "effective_at": effective_at.isoformat(),
                  "policy": policy.value, "tariff": json.loads(version.document)})
    rerating = on_tariff_published(db, tenant_id, tariff_id, version.version_no, policy.value)
    return Published(version.version_no, rerating)

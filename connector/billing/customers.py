"""Customers as a use case: create one, or change one, each with its audit row in the caller's transaction.

Why in billing: a customer's class, tax region and invoicing choice decide what their sessions are billed,
so every change is audited like the invoices it affects. Refusals: ``Conflict`` for an existing id,
``NotFound`` for an unknown one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session as DbSession

from connector.billing.ledger import audit
from connector.models import Customer
from connector.storage import repo
from connector.storage.tables.core import CustomerRow
from connector.validation import Conflict, NotFound

FIELDS = ("customer_class", "tax_region", "tax_exempt", "name", "email", "locale", "invoice_per_session")


def create_customer(db: DbSession, tenant_id: str, customer: Customer) -> dict[str, Any]:
    """Store ``customer`` and audit it; returns the stored customer."""
    if repo.get_customer(db, tenant_id, customer.id) is not None:
        raise Conflict(f"customer '{customer.id}' exists", field="id")
    repo.ensure_tenant(db, tenant_id)
    row = CustomerRow(tenant_id=tenant_id, customer_id=customer.id, **{f: getattr(customer, f) for f in FIELDS})
    db.add(row)
    db.flush()
    stored = row.to_dict()
    audit.record(db, tenant_id, "customer", customer.id, "create", None, stored)
    return stored


def update_customer(db: DbSession, tenant_id: str, customer: Customer) -> dict[str, Any]:
    """Replace the stored customer's fields with ``customer``'s and audit the change; returns the customer."""
    row = repo.get_customer(db, tenant_id, customer.id)
    if row is None:
        raise NotFound(f"customer '{customer.id}' does not exist")
    before = row.to_dict()
    for field in FIELDS:
        setattr(row, field, getattr(customer, field))
    after = row.to_dict()
    audit.record(db, tenant_id, "customer", customer.id, "update", before, after)
    return after

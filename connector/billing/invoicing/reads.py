"""What billing one session end reads of its tenant and customer, read in one statement.

Why: a session end used to look up the billing settings twice, the customer up to three times (a customer
with no row is a miss every time: the identity map remembers rows, not their absence), the anomaly thresholds
and the account mapping, one statement each. Here they are one ``SELECT`` of outer joins (each joined table
holds at most one row per key; the account mapping is aggregated into one JSON object), and the result is
handed to rating, posting, the anomaly rules and the answer. Nothing outlives the call: a changed setting
applies to the next session end, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, BindParameter, Select, and_, bindparam, func, literal, select, update
from sqlalchemy.orm import Session as DbSession

from connector.billing.anomalies import Thresholds
from connector.billing.ledger.accounts import DEFAULTS, Accounts
from connector.billing.pricing.adjustments import BillingRules
from connector.models import Customer
from connector.storage import repo
from connector.storage.tables.adjustments import BillingSettingsRow
from connector.storage.tables.billing import AccountMappingRow
from connector.storage.tables.core import CustomerRow
from connector.storage.tables.reconciliation import AnomalyRulesRow


@dataclass(frozen=True, slots=True)
class SessionEndReads:
    """The tenant's rules, anomaly thresholds and accounts, and the session's customer (row and model)."""

    rules: BillingRules
    thresholds: Thresholds
    accounts: Accounts
    customer_row: CustomerRow | None
    customer: Customer | None


# The account mapping as one JSON object per tenant: the aggregate has a different name on each database.
_OBJECT_AGG = {"postgresql": func.json_object_agg, "sqlite": func.json_group_object}
_STATEMENTS: dict[str, Select[Any]] = {}


def _statement(dialect: str) -> Select[Any]:
    """Built once per database kind (statement construction costs as much as a small query)."""
    if dialect not in _STATEMENTS:
        tenant: BindParameter[str] = bindparam("tenant_id")
        customer: BindParameter[str | None] = bindparam("customer_id")
        accounts = (select(_OBJECT_AGG[dialect](AccountMappingRow.key, AccountMappingRow.account, type_=JSON))
                    .where(AccountMappingRow.tenant_id == tenant).scalar_subquery())
        one = select(literal(1).label("one")).subquery()  # the anchor: one row whatever matches
        _STATEMENTS[dialect] = (
            select(CustomerRow, BillingSettingsRow.rules, AnomalyRulesRow.thresholds, accounts)
            .select_from(one)
            .outerjoin(BillingSettingsRow, BillingSettingsRow.tenant_id == tenant)
            .outerjoin(AnomalyRulesRow, AnomalyRulesRow.tenant_id == tenant)
            .outerjoin(CustomerRow, and_(CustomerRow.tenant_id == tenant, CustomerRow.customer_id == customer)))
    return _STATEMENTS[dialect]


def _lock_customer(db: DbSession, tenant_id: str, customer_id: str) -> CustomerRow | None:
    """The customer, row-locked by a no-op ``UPDATE ... RETURNING`` and read fresh: see ``read``."""
    return db.scalars(update(CustomerRow).where(
        CustomerRow.tenant_id == tenant_id, CustomerRow.customer_id == customer_id)
        .values(customer_class=CustomerRow.customer_class, updated_at=CustomerRow.updated_at)
        .returning(CustomerRow), execution_options={"populate_existing": True}).first()


def read(db: DbSession, tenant_id: str, customer_id: str | None) -> SessionEndReads:
    """One statement for a session end's lookups, plus the customer's row lock when the tenant grants
    incentives: their monthly cap is the one rating input shared by a customer's sessions, so those sessions
    are rated one at a time. Otherwise the customer is read without a lock and one customer's session ends do
    not queue on it (two first sessions that both find no open draft create one: ``uq_invoices_open_draft``)."""
    dialect = db.get_bind().dialect.name
    if dialect not in _OBJECT_AGG:  # pragma: no cover - the API supports PostgreSQL and SQLite only
        raise NotImplementedError(dialect)
    customer_row, rules, thresholds, accounts = db.execute(
        _statement(dialect), {"tenant_id": tenant_id, "customer_id": customer_id}).one()
    parsed_rules = BillingRules.model_validate(rules or {})
    if customer_id and parsed_rules.incentive is not None:
        customer_row = _lock_customer(db, tenant_id, customer_id)
    elif not customer_id:
        customer_row = None
    return SessionEndReads(
        rules=parsed_rules,
        thresholds=Thresholds() if thresholds is None else Thresholds.model_validate(thresholds),
        accounts=Accounts({**DEFAULTS, **(accounts or {})}),
        customer_row=customer_row,
        customer=None if customer_row is None else repo.customer_model(customer_row))

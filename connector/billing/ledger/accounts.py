"""Account mapping per tenant: which ledger account each financial fact posts to.

Defaults follow a common small-business chart (SKR-like numbers); a tenant overrides single keys, and the
accounting adapters read the same mapping, so the ledger and the exports never disagree.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from connector.billing.ledger import audit
from connector.storage.tables.billing import AccountMappingRow
from connector.validation import FieldError

REVENUE_CATEGORIES = ("energy", "time", "parking", "fixed", "reservation", "adjustment")
DEFAULTS: dict[str, str] = {
    "accounts_receivable": "1200",
    "cash": "1000",
    "incentive_receivable": "1300",
    "revenue:energy": "4000",
    "revenue:time": "4010",
    "revenue:parking": "4020",
    "revenue:fixed": "4030",
    "revenue:reservation": "4040",
    "revenue:adjustment": "4090",
    "tax:default": "2200",
}

AccountCode = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9 .:_-]*$")]


class AccountMapping(BaseModel):
    """The mapping as the API shows and accepts it (PUT may send any subset)."""

    model_config = ConfigDict(extra="forbid")

    accounts_receivable: AccountCode | None = None
    cash: AccountCode | None = None
    incentive_receivable: AccountCode | None = None
    revenue: dict[str, AccountCode] = Field(default_factory=dict)
    tax_payable: dict[str, AccountCode] = Field(default_factory=dict)


class MappingError(FieldError):
    """Refused input: ``field`` and ``reason`` (see ``connector.validation.FieldError``)."""


def _flat(db: DbSession, tenant_id: str) -> dict[str, str]:
    rows = db.scalars(select(AccountMappingRow).where(AccountMappingRow.tenant_id == tenant_id))
    return {**DEFAULTS, **{r.key: r.account for r in rows}}


def load(db: DbSession, tenant_id: str) -> Accounts:
    return Accounts(_flat(db, tenant_id))


class Accounts:
    """Resolved accounts of one tenant (read once per billing call)."""

    def __init__(self, flat: dict[str, str]) -> None:
        self.flat = flat

    @property
    def receivable(self) -> str:
        return self.flat["accounts_receivable"]

    @property
    def cash(self) -> str:
        return self.flat["cash"]

    @property
    def incentive(self) -> str:
        return self.flat["incentive_receivable"]

    def revenue(self, category: str) -> str:
        return self.flat.get(f"revenue:{category}", self.flat["revenue:adjustment"])

    def tax(self, name: str) -> str:
        return self.flat.get(f"tax:{name}", self.flat["tax:default"])


def get_mapping(db: DbSession, tenant_id: str) -> dict[str, Any]:
    flat = _flat(db, tenant_id)
    return {
        "accounts_receivable": flat["accounts_receivable"], "cash": flat["cash"],
        "incentive_receivable": flat["incentive_receivable"],
        "revenue": {k.split(":", 1)[1]: v for k, v in flat.items() if k.startswith("revenue:")},
        "tax_payable": {k.split(":", 1)[1]: v for k, v in flat.items() if k.startswith("tax:")},
    }


def _validate(body: dict[str, Any]) -> AccountMapping:
    from pydantic import ValidationError

    try:
        mapping = AccountMapping.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise MappingError(".".join(str(p) for p in err["loc"]) or "body", err["msg"]) from exc
    for category in mapping.revenue:
        if category not in REVENUE_CATEGORIES:
            raise MappingError(f"revenue.{category}", f"unknown category; one of {', '.join(REVENUE_CATEGORIES)}")
    return mapping


def put_mapping(db: DbSession, tenant_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Apply the given keys and audit the change; returns the mapping now in force."""
    mapping = _validate(body)
    before = get_mapping(db, tenant_id)
    wanted: dict[str, str] = {}
    for key in ("accounts_receivable", "cash", "incentive_receivable"):
        value = getattr(mapping, key)
        if value is not None:
            wanted[key] = value
    wanted.update({f"revenue:{k}": v for k, v in mapping.revenue.items()})
    wanted.update({f"tax:{k}": v for k, v in mapping.tax_payable.items()})
    for key, account in wanted.items():
        row = db.get(AccountMappingRow, (tenant_id, key))
        if row is None:
            db.add(AccountMappingRow(tenant_id=tenant_id, key=key, account=account))
        else:
            row.account = account
    db.flush()
    after = get_mapping(db, tenant_id)
    audit.record(db, tenant_id, "account_mapping", tenant_id, "update", before, after)
    return after

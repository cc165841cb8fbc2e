"""Everything one ``rate()`` call of a stored session needs: the same inputs for interim, re-rating and the
final bill, so the figures agree by construction.

Tariff-switch policy per session: each tariff version records how running sessions were treated when it
was published. A version published with ``apply_from_effective_time`` that becomes effective while the
session runs switches the session at that instant (the core's ``TariffSwitchPolicy``); a version published
with ``price_lock_at_start`` after the session started is left out of the session's candidates, so it
never prices that session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session as DbSession

from connector.models import Customer, Session, Tariff
from connector.models.session_merge import to_session
from connector.rating import RatedSession, RatingError, RatingOptions, TariffSwitchPolicy, rate
from connector.storage import repo
from connector.storage.tables.core import SessionRow, TariffVersionRow

if TYPE_CHECKING:
    from connector.billing.pricing.adjustments import BillingRules, Prefetch

APPLY = TariffSwitchPolicy.APPLY_FROM_EFFECTIVE_TIME.value


@dataclass(frozen=True, slots=True)
class RatingInputs:
    session: Session
    tariffs: list[Tariff]
    customer: Customer | None
    options: RatingOptions

    def rate(self) -> RatedSession:
        return rate(self.session, self.tariffs, self.customer, self.options)


def versions_for(session: Session, versions: list[TariffVersionRow], until: datetime | None
                 ) -> tuple[list[Tariff], TariffSwitchPolicy]:
    """Candidate tariff versions (newest first) and the switch policy for this session."""
    start = session.start
    switching = False
    chosen: list[Tariff] = []
    for v in sorted(versions, key=lambda v: v.version_no, reverse=True):
        effective = repo.aware(v.effective_at)
        published_mid_session = effective is not None and effective > start and v.version_no > 1
        if published_mid_session and v.policy != APPLY:
            continue  # price lock: never prices a session that started before it
        if published_mid_session and (until is None or effective < until):  # type: ignore[operator]
            switching = True
        chosen.append(repo._parsed_tariff(v.document))
    policy = TariffSwitchPolicy.APPLY_FROM_EFFECTIVE_TIME if switching else TariffSwitchPolicy.PRICE_LOCK_AT_START
    return chosen, policy


@dataclass(slots=True)
class BatchCache:
    """Lookups shared by one run over many open sessions (tariff versions, customers, adjustment rules and
    promo redemptions): the interim job then costs a few queries per run, not several per session."""

    adjustments: Prefetch
    versions: dict[str, list[TariffVersionRow]] = field(default_factory=dict)
    customers: dict[str, Customer | None] = field(default_factory=dict)

    @classmethod
    def load(cls, db: DbSession, tenant_id: str, rows: list[SessionRow]) -> BatchCache:
        from connector.billing.pricing.adjustments import prefetch

        return cls(prefetch(db, tenant_id, [r.session_id for r in rows]))


def _customer(db: DbSession, tenant_id: str, customer_id: str | None, cache: BatchCache | None) -> Customer | None:
    if not customer_id:
        return None
    if cache is not None and customer_id in cache.customers:
        return cache.customers[customer_id]
    crow = repo.get_customer(db, tenant_id, customer_id)
    customer = None if crow is None else repo.customer_model(crow)
    if cache is not None:
        cache.customers[customer_id] = customer
    return customer


@dataclass(frozen=True, slots=True)
class Known:
    """Lookups the caller made already in its transaction (a session end reads them once, in one statement):
    the session's customer (None: it has none) and the tenant's billing rules."""

    customer: Customer | None
    rules: BillingRules


def inputs_for(db: DbSession, tenant_id: str, row: SessionRow, as_of: datetime | None = None,
               versions: list[TariffVersionRow] | None = None, cache: BatchCache | None = None,
               known: Known | None = None) -> RatingInputs:
    """Inputs of the session's rating (final when ``as_of`` is None, interim otherwise)."""
    from connector.billing.pricing.adjustments import (
        adjustments_for,  # adjustments import this module's peers
    )

    session = to_session(row.document)
    if not session.tariff_id:
        raise RatingError("session.tariff_id", "required to price the session")
    if versions is None and cache is not None and session.tariff_id in cache.versions:
        versions = cache.versions[session.tariff_id]
    if versions is None:
        versions = repo.tariff_versions(db, tenant_id, session.tariff_id)
        if cache is not None:
            cache.versions[session.tariff_id] = versions
    if not versions:
        raise RatingError("session.tariff_id", f"tariff '{session.tariff_id}' does not exist")
    customer = known.customer if known is not None else _customer(db, tenant_id, session.customer_id, cache)
    until = session.end if as_of is None else as_of
    tariffs, policy = versions_for(session, versions, until)
    adjustments = tuple(adjustments_for(db, tenant_id, session, customer,
                                        cache=None if cache is None else cache.adjustments,
                                        rules=None if known is None else known.rules))
    options = RatingOptions(as_of=as_of, tariff_switch=policy, adjustments=adjustments)
    return RatingInputs(session, tariffs, customer, options)


def rate_row(db: DbSession, tenant_id: str, row: SessionRow, as_of: datetime | None = None,
             cache: BatchCache | None = None) -> RatedSession:
    """``rate()`` of a stored session with its billing inputs (the one call interim and final share)."""
    return inputs_for(db, tenant_id, row, as_of, cache=cache).rate()

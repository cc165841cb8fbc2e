"""Adjustments engine: tenant rules + promo redemptions → the rating core's ``Adjustment`` list.

Why a translation layer only: ``connector.rating.rate`` is the one place that does money arithmetic
(order: percentage discounts, fixed discounts, percentage surcharges, fixed surcharges, then incentives
after tax). Here we decide WHICH adjustments apply to a session, never how much they are worth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import BindParameter, Select, bindparam, func, select
from sqlalchemy.orm import Session as DbSession

from connector.billing.pricing import incentives
from connector.models import Customer, Session
from connector.models.common import AwareDatetime, Dec
from connector.models.customer import Adjustment, AdjustmentKind
from connector.rating.periods import zone
from connector.storage import repo
from connector.storage.tables.adjustments import (
    DEFAULT_INTERIM_INTERVAL_MINUTES,
    BillingSettingsRow,
    PromotionRedemptionRow,
    PromotionRow,
)
from connector.validation import Conflict, FieldError, NotFound

WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClassDiscount(_Strict):
    customer_class: str = Field(min_length=1, max_length=40)
    percent: Dec = Field(gt=0, le=100)


class PeakSurcharge(_Strict):
    """Applies when the session STARTS inside the local window (stable from the first interim on)."""

    name: str = "Peak demand surcharge"
    start_time: time
    end_time: time
    days: list[str] | None = None
    percent: Dec | None = Field(default=None, gt=0, le=100)
    fixed: Dec | None = Field(default=None, gt=0)
    categories: list[str] | None = Field(default_factory=lambda: ["energy"])

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str] | None) -> list[str] | None:
        for day in value or []:
            if day not in WEEKDAYS:
                raise ValueError(f"'{day}' is not one of {', '.join(WEEKDAYS)}")
        return value

    @model_validator(mode="after")
    def _one_amount(self) -> PeakSurcharge:
        if (self.percent is None) == (self.fixed is None):
            raise ValueError("percent: give exactly one of percent or fixed")
        return self

    def hit(self, start: datetime, tz_name: str) -> bool:
        local = start.astimezone(zone(tz_name))
        if self.days and WEEKDAYS[local.weekday()] not in self.days:
            return False
        t = local.time().replace(tzinfo=None)
        if self.start_time <= self.end_time:
            return self.start_time <= t < self.end_time
        return t >= self.start_time or t < self.end_time  # window over midnight


class CardFee(_Strict):
    """Charged when the session document says ``payment_method: card`` (ad-hoc card payment)."""

    name: str = "Card payment fee"
    percent: Dec = Field(default=Decimal(0), ge=0, le=100)
    fixed: Dec = Field(default=Decimal(0), ge=0)


class Incentive(_Strict):
    """Government per-kWh credit, capped per customer per calendar month (session-local month)."""

    name: str = "Government incentive"
    per_kwh: Dec = Field(gt=0)
    monthly_cap: Dec = Field(ge=0)
    customer_classes: list[str] | None = None


class BillingRules(_Strict):
    class_discounts: list[ClassDiscount] = Field(default_factory=list)
    peak_surcharge: PeakSurcharge | None = None
    card_fee: CardFee | None = None
    incentive: Incentive | None = None


class BillingSettings(_Strict):
    interim_interval_minutes: int = Field(default=DEFAULT_INTERIM_INTERVAL_MINUTES, ge=1, le=1440)
    rules: BillingRules = Field(default_factory=BillingRules)


# ------------------------------------------------------------------------------------ settings


def get_settings(db: DbSession, tenant_id: str) -> BillingSettings:
    row = db.get(BillingSettingsRow, tenant_id)
    if row is None:
        return BillingSettings()
    return BillingSettings(interim_interval_minutes=row.interim_interval_minutes,
                           rules=BillingRules.model_validate(row.rules or {}))


def put_settings(db: DbSession, tenant_id: str, settings: BillingSettings) -> BillingSettings:
    repo.ensure_tenant(db, tenant_id)
    row = db.get(BillingSettingsRow, tenant_id)
    rules = settings.rules.model_dump(mode="json", exclude_none=True)
    if row is None:
        db.add(BillingSettingsRow(tenant_id=tenant_id, interim_interval_minutes=settings.interim_interval_minutes,
                                  rules=rules))
    else:
        row.interim_interval_minutes = settings.interim_interval_minutes
        row.rules = rules
    db.flush()
    return settings


# ---------------------------------------------------------------------------------- promotions


class PromotionIn(_Strict):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    name: str | None = Field(default=None, max_length=200)
    kind: str = Field(pattern=r"^(percent|fixed)$")
    value: Dec = Field(gt=0)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    max_uses: int | None = Field(default=None, ge=1)
    max_uses_per_customer: int | None = Field(default=None, ge=1)
    customer_classes: list[str] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PromotionIn:
        if self.kind == "percent" and self.value > 100:
            raise ValueError("value: a percentage cannot exceed 100")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until: must be after valid_from")
        return self


def _iso(value: datetime | None) -> str | None:
    return None if value is None else repo.aware(value).isoformat()


def promotion_json(db: DbSession, row: PromotionRow) -> dict[str, Any]:
    used = db.scalar(select(func.count()).select_from(PromotionRedemptionRow).where(
        PromotionRedemptionRow.tenant_id == row.tenant_id, PromotionRedemptionRow.code == row.code))
    return {"code": row.code, "name": row.name, "kind": row.kind, "value": row.value,
            "valid_from": _iso(row.valid_from), "valid_until": _iso(row.valid_until), "max_uses": row.max_uses,
            "max_uses_per_customer": row.max_uses_per_customer, "customer_classes": row.customer_classes,
            "uses": int(used or 0)}


def create_promotion(db: DbSession, tenant_id: str, promo: PromotionIn) -> dict[str, Any]:
    repo.ensure_tenant(db, tenant_id)
    if db.get(PromotionRow, (tenant_id, promo.code)) is not None:
        raise Conflict(f"promotion '{promo.code}' exists already")
    row = PromotionRow(tenant_id=tenant_id, code=promo.code, name=promo.name or f"Promo {promo.code}",
                       kind=promo.kind, value=str(promo.value), valid_from=promo.valid_from,
                       valid_until=promo.valid_until, max_uses=promo.max_uses,
                       max_uses_per_customer=promo.max_uses_per_customer, customer_classes=promo.customer_classes)
    db.add(row)
    db.flush()
    return promotion_json(db, row)


def list_promotions(db: DbSession, tenant_id: str) -> list[dict[str, Any]]:
    rows = db.scalars(select(PromotionRow).where(PromotionRow.tenant_id == tenant_id).order_by(PromotionRow.code))
    return [promotion_json(db, r) for r in rows]


class _Refused(FieldError):
    """Refused input: ``field`` and ``reason`` (see ``connector.validation.FieldError``)."""


def redeem(db: DbSession, tenant_id: str, code: str, session_id: str) -> dict[str, Any]:
    """Apply ``code`` to a not-yet-billed session (one code per session; limits counted here)."""
    promo = db.get(PromotionRow, (tenant_id, code))
    if promo is None:
        raise NotFound(f"promotion '{code}' does not exist")
    srow = repo.get_session_row(db, tenant_id, session_id, lock=True)
    if srow is None:
        raise NotFound(f"session '{session_id}' does not exist")
    if srow.status == "billed":
        raise Conflict(f"session '{session_id}' is billed already; a promotion cannot change it")
    existing = db.scalars(select(PromotionRedemptionRow).where(
        PromotionRedemptionRow.tenant_id == tenant_id, PromotionRedemptionRow.session_id == session_id)).first()
    if existing is not None:
        if existing.code == code:
            return {"code": code, "session_id": session_id, "status": "already_redeemed"}
        raise Conflict(f"session '{session_id}' already uses promotion '{existing.code}'")
    start = repo.aware(srow.start_at)
    if start is not None and promo.valid_from is not None and start < repo.aware(promo.valid_from):
        raise _Refused("code", f"promotion '{code}' is valid from {_iso(promo.valid_from)}")
    if start is not None and promo.valid_until is not None and start >= repo.aware(promo.valid_until):
        raise _Refused("code", f"promotion '{code}' expired at {_iso(promo.valid_until)}")
    customer_id = srow.customer_id
    if promo.customer_classes:
        cls = _customer_class(db, tenant_id, srow.document, customer_id)
        if cls not in promo.customer_classes:
            raise _Refused("code", f"promotion '{code}' is for customer classes {', '.join(promo.customer_classes)}")
    count = select(func.count()).select_from(PromotionRedemptionRow).where(
        PromotionRedemptionRow.tenant_id == tenant_id, PromotionRedemptionRow.code == code)
    if promo.max_uses is not None and (db.scalar(count) or 0) >= promo.max_uses:
        raise _Refused("code", f"promotion '{code}' reached its limit of {promo.max_uses} uses")
    if promo.max_uses_per_customer is not None:
        if not customer_id:
            raise _Refused("session_id", "the session has no customer_id; this code is limited per customer")
        mine = db.scalar(count.where(PromotionRedemptionRow.customer_id == customer_id)) or 0
        if mine >= promo.max_uses_per_customer:
            raise _Refused("code", f"customer '{customer_id}' used promotion '{code}' "
                                   f"{promo.max_uses_per_customer} time(s) already")
    db.add(PromotionRedemptionRow(tenant_id=tenant_id, code=code, session_id=session_id, customer_id=customer_id))
    db.flush()
    return {"code": code, "session_id": session_id, "status": "redeemed"}


def _customer_class(db: DbSession, tenant_id: str, doc: dict[str, Any], customer_id: str | None) -> str | None:
    if doc.get("customer_class"):
        return str(doc["customer_class"])
    row = repo.get_customer(db, tenant_id, customer_id) if customer_id else None
    return row.customer_class if row is not None else None


# ----------------------------------------------------------------------------------- the engine


@dataclass(slots=True)
class Prefetch:
    """Per-run lookups for rating many OPEN sessions (interim job, re-rating): one query per kind instead of
    several per session. Open sessions have no incentive usage of their own, so the used amount per
    (customer, month) is the same for all of them during one run."""

    rules: BillingRules
    promotions: dict[str, list[Adjustment]]
    used: dict[tuple[str, str], Decimal] = field(default_factory=dict)


def prefetch(db: DbSession, tenant_id: str, session_ids: list[str]) -> Prefetch:
    promos: dict[str, list[Adjustment]] = {}
    for i in range(0, len(session_ids), 500):
        chunk = session_ids[i:i + 500]
        for session_id, row in db.execute(_promotion_query(tenant_id).where(
                PromotionRedemptionRow.session_id.in_(chunk))):
            promos.setdefault(session_id, []).append(_promotion_adjustment(row))
    return Prefetch(get_settings(db, tenant_id).rules, promos)


def adjustments_for(db: DbSession, tenant_id: str, session: Session, customer: Customer | None,
                    cache: Prefetch | None = None, rules: BillingRules | None = None) -> list[Adjustment]:
    """The core ``Adjustment`` list for this session, in the documented order (docs/billing.md).

    The same list is used for every interim and the final bill, so they agree. ``rules``: the tenant's rules
    when the caller has read them in this transaction already."""
    if rules is None:
        rules = cache.rules if cache is not None else get_settings(db, tenant_id).rules
    cls = session.customer_class or (customer.customer_class if customer else None)
    out: list[Adjustment] = [
        Adjustment(kind=AdjustmentKind.DISCOUNT_PERCENT, name=f"{d.customer_class} discount", value=d.percent,
                   customer_classes=[d.customer_class])
        for d in rules.class_discounts if d.customer_class == cls
    ]
    if cache is not None:
        out.extend(cache.promotions.get(session.id, []))
    else:
        out.extend(_promotion_adjustment(row) for _sid, row in db.execute(
            _SESSION_PROMOTIONS, {"tenant_id": tenant_id, "session_id": session.id}))
    peak = rules.peak_surcharge
    if peak is not None and peak.hit(session.start, session.time_zone):
        if peak.percent is not None:
            out.append(Adjustment(kind=AdjustmentKind.SURCHARGE_PERCENT, name=peak.name, value=peak.percent,
                                  categories=peak.categories))
        else:
            out.append(Adjustment(kind=AdjustmentKind.SURCHARGE_FIXED, name=peak.name, value=peak.fixed))
    card = rules.card_fee
    if card is not None and (session.model_extra or {}).get("payment_method") == "card":
        if card.percent > 0:
            out.append(Adjustment(kind=AdjustmentKind.SURCHARGE_PERCENT, name=card.name, value=card.percent))
        if card.fixed > 0:
            out.append(Adjustment(kind=AdjustmentKind.SURCHARGE_FIXED, name=card.name, value=card.fixed))
    inc = rules.incentive
    customer_id = session.customer_id or (customer.id if customer else None)
    if inc is not None and customer_id and (not inc.customer_classes or cls in inc.customer_classes):
        month = incentives.month_of(session)
        if cache is None:
            used = incentives.used_amount(db, tenant_id, customer_id, month, exclude_session=session.id)
        elif (customer_id, month) in cache.used:
            used = cache.used[(customer_id, month)]
        else:
            used = cache.used[(customer_id, month)] = incentives.used_amount(db, tenant_id, customer_id, month)
        out.append(Adjustment(kind=AdjustmentKind.INCENTIVE_PER_KWH, name=inc.name, value=inc.per_kwh,
                              cap=max(inc.monthly_cap - used, Decimal(0))))
    return out


def _promotion_query(tenant_id: str | BindParameter[str]) -> Select[str, PromotionRow]:
    return select(PromotionRedemptionRow.session_id, PromotionRow).join(
        PromotionRow,
        (PromotionRedemptionRow.tenant_id == PromotionRow.tenant_id) & (PromotionRedemptionRow.code == PromotionRow.code),
    ).where(PromotionRedemptionRow.tenant_id == tenant_id)


# one session's redemptions, built once (a session end runs it every time)
_SESSION_PROMOTIONS = _promotion_query(bindparam("tenant_id")).where(
    PromotionRedemptionRow.session_id == bindparam("session_id"))


def _promotion_adjustment(p: PromotionRow) -> Adjustment:
    kind = AdjustmentKind.DISCOUNT_PERCENT if p.kind == "percent" else AdjustmentKind.DISCOUNT_FIXED
    return Adjustment(kind=kind, name=p.name, value=Decimal(p.value), code=p.code,
                      customer_classes=p.customer_classes, valid_from=repo.aware(p.valid_from),
                      valid_until=repo.aware(p.valid_until))

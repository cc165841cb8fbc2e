"""Customers and the adjustments applied to their bills (extensions beyond OCPI)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field, model_validator

from connector.models.common import MAX_AMOUNT, AwareDatetime, Dec, Model
from connector.models.limits import (
    CUSTOMER_CLASS_MAX,
    CUSTOMER_ID_MAX,
    CUSTOMER_NAME_MAX,
    EMAIL_MAX,
    LOCALE_MAX,
    TAX_REGION_MAX,
)

KNOWN_CUSTOMER_CLASSES = ("public", "member", "fleet", "government")


class Customer(Model):
    # lengths: connector.models.limits, the same constants as the customers table's columns
    id: str = Field(min_length=1, max_length=CUSTOMER_ID_MAX)
    customer_class: str = Field(default="public", max_length=CUSTOMER_CLASS_MAX)
    tax_region: str | None = Field(default=None, max_length=TAX_REGION_MAX)
    tax_exempt: bool = False
    name: str | None = Field(default=None, max_length=CUSTOMER_NAME_MAX)
    email: str | None = Field(default=None, max_length=EMAIL_MAX)
    locale: str = Field(default="en_US", max_length=LOCALE_MAX)
    invoice_per_session: bool = False


class AdjustmentKind(StrEnum):
    DISCOUNT_PERCENT = "discount_percent"
    DISCOUNT_FIXED = "discount_fixed"
    SURCHARGE_PERCENT = "surcharge_percent"
    SURCHARGE_FIXED = "surcharge_fixed"
    INCENTIVE_PER_KWH = "incentive_per_kwh"


# The documented order in which adjustments apply (see docs/rating.md).
ADJUSTMENT_ORDER: tuple[AdjustmentKind, ...] = (
    AdjustmentKind.DISCOUNT_PERCENT,
    AdjustmentKind.DISCOUNT_FIXED,
    AdjustmentKind.SURCHARGE_PERCENT,
    AdjustmentKind.SURCHARGE_FIXED,
    AdjustmentKind.INCENTIVE_PER_KWH,
)


class Adjustment(Model):
    """A discount, surcharge or government incentive.

    ``value`` is a percentage for ``*_percent``, an amount in the session currency for ``*_fixed``
    and an amount per kWh for ``incentive_per_kwh``. ``categories`` limits a percentage to some
    invoice categories (None = all). ``customer_classes`` limits who gets it. ``cap`` bounds the
    amount of this adjustment for this session (e.g. what is left of a monthly incentive cap).
    """

    kind: AdjustmentKind
    name: str = Field(min_length=1)
    value: Dec = Field(ge=0, le=MAX_AMOUNT)
    categories: list[str] | None = None
    customer_classes: list[str] | None = None
    code: str | None = None
    cap: Dec | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None

    @model_validator(mode="after")
    def _percent_range(self) -> Adjustment:
        if self.kind is AdjustmentKind.DISCOUNT_PERCENT and self.value > 100:
            raise ValueError("value: a percentage discount cannot exceed 100")
        return self

    def applies(self, customer_class: str | None, at: datetime) -> bool:
        if self.customer_classes and customer_class not in self.customer_classes:
            return False
        if self.valid_from is not None and at < self.valid_from:
            return False
        return not (self.valid_until is not None and at >= self.valid_until)

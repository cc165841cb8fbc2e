"""OCPI 2.2.1 Tariff (mod_tariffs), plus our extensions, all prefixed ``x_``.

Extensions (not OCPI; ignored by a plain OCPI peer):
- ``Tariff.x_customer_classes``: the tariff applies only to these customer classes.
- ``TariffRestrictions.x_customer_classes``: the element applies only to these classes.
- ``TariffRestrictions.x_min_idle_duration`` / ``x_max_idle_duration``: seconds since charging
  ended (idle fee with a grace period counted from ``charging_ended_at``, OCPI issues #368/#543).
- ``Tariff.x_taxes``: named tax rates (VAT, state/city sales tax, compound or not) used for the
  invoice view instead of the single per-component ``vat``.
- ``Tariff.x_volume_tiers``: sugar for "price changes after N kWh in the session"; compiled to
  ENERGY elements with ``min_kwh``/``max_kwh`` (see ``expanded_elements``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, PrivateAttr, field_validator, model_validator

from connector.models.common import (
    AS_TEXT,
    AwareDatetime,
    CurrencyCode,
    Dec,
    DisplayText,
    Model,
    Price,
    UnitPrice,
    bounded,
)
from connector.models.limits import TARIFF_ID_MAX

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
Vat = Annotated[Decimal, bounded(Decimal(0), Decimal(100), "%"), AS_TEXT]
MAX_STEP = 1_000_000_000  # Wh or seconds


class TariffDimensionType(StrEnum):
    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class DayOfWeek(StrEnum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


WEEKDAYS: tuple[DayOfWeek, ...] = tuple(DayOfWeek)  # index = date.weekday()


class ReservationRestrictionType(StrEnum):
    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


class TariffType(StrEnum):
    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


class PriceComponent(Model):
    type: TariffDimensionType
    price: UnitPrice = Field(description="Price per unit excl. VAT (per kWh, per hour, or per session for FLAT)")
    vat: Vat | None = Field(default=None, description="VAT percentage; omitted means no VAT applies")
    step_size: int = Field(default=1, ge=0, le=MAX_STEP, description="Wh for ENERGY, seconds for TIME/PARKING_TIME")


class TariffRestrictions(Model):
    start_time: str | None = None
    end_time: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Dec | None = None
    max_kwh: Dec | None = None
    min_current: Dec | None = None
    max_current: Dec | None = None
    min_power: Dec | None = None
    max_power: Dec | None = None
    min_duration: int | None = Field(default=None, ge=0)
    max_duration: int | None = Field(default=None, ge=0)
    day_of_week: list[DayOfWeek] | None = None
    reservation: ReservationRestrictionType | None = None
    # --- extensions (not OCPI) ---
    x_customer_classes: list[str] | None = None
    x_min_idle_duration: int | None = Field(default=None, ge=0)
    x_max_idle_duration: int | None = Field(default=None, ge=0)

    @field_validator("start_time", "end_time")
    @classmethod
    def _hhmm(cls, value: str | None) -> str | None:
        if value is not None and not _HHMM.match(value):
            raise ValueError(f"'{value}' is not a time of day in HH:MM (00:00-23:59)")
        return value


class TariffElement(Model):
    price_components: list[PriceComponent] = Field(min_length=1)
    restrictions: TariffRestrictions | None = None


class TaxRate(Model):
    """A named tax (extension). ``rate`` is a percentage; a compound tax is levied on net + earlier taxes."""

    name: str = Field(min_length=1)
    rate: Dec = Field(ge=0)
    compound: bool = False
    categories: list[str] | None = Field(
        default=None, description="Invoice categories taxed (energy, time, parking, fixed, reservation); None = all"
    )


class VolumeTier(Model):
    """Extension: from ``from_kwh`` (inclusive) on, energy costs ``price`` per kWh."""

    from_kwh: Dec = Field(ge=0)
    price: UnitPrice
    vat: Vat | None = None
    step_size: int = Field(default=1, ge=0, le=MAX_STEP)


class Tariff(Model):
    country_code: str = ""
    party_id: str = ""
    id: str = Field(min_length=1, max_length=TARIFF_ID_MAX)
    currency: CurrencyCode
    type: TariffType | None = None
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: str | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    elements: list[TariffElement] = Field(min_length=1)
    start_date_time: AwareDatetime | None = None
    end_date_time: AwareDatetime | None = None
    energy_mix: Any | None = None
    last_updated: AwareDatetime | None = None
    # --- extensions (not OCPI) ---
    x_customer_classes: list[str] | None = None
    x_taxes: list[TaxRate] | None = None
    x_volume_tiers: list[VolumeTier] | None = None
    x_negative_prices: bool = Field(
        default=False, description="Extension: allow negative unit prices (dynamic / spot-price tariffs)")
    # the rating engine's pre-parsed form of this tariff (not serialised)
    _compiled: Any = PrivateAttr(default=None)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Tariff:
        """A copy is compiled afresh: the cached form would keep pricing the original's elements."""
        copy = super().model_copy(update=update, deep=deep)
        copy._compiled = None
        return copy

    @model_validator(mode="after")
    def _no_negative_prices(self) -> Tariff:
        """A negative price pays the driver: only a tariff that says so (``x_negative_prices``) may have one."""
        if self.x_negative_prices:
            return self
        for i, element in enumerate(self.elements):
            for j, component in enumerate(element.price_components):
                if component.price < 0:
                    raise ValueError(f"elements[{i}].price_components[{j}].price: {component.price} is negative; "
                                     "negative prices need x_negative_prices: true on the tariff")
        for i, tier in enumerate(self.x_volume_tiers or []):
            if tier.price < 0:
                raise ValueError(f"x_volume_tiers[{i}].price: {tier.price} is negative; "
                                 "negative prices need x_negative_prices: true on the tariff")
        for name, limit in (("min_price", self.min_price), ("max_price", self.max_price)):
            if limit is not None and (limit.excl_vat < 0 or (limit.incl_vat is not None and limit.incl_vat < 0)):
                raise ValueError(f"{name}: must not be negative")
        return self

    @model_validator(mode="after")
    def _tiers_ascending(self) -> Tariff:
        tiers = self.x_volume_tiers or []
        if any(b.from_kwh <= a.from_kwh for a, b in zip(tiers, tiers[1:], strict=False)):
            raise ValueError("x_volume_tiers: from_kwh must be strictly ascending")
        return self

    def valid_at(self, instant: datetime) -> bool:
        """OCPI: ``start_date_time <= instant < end_date_time`` (both optional)."""
        if self.start_date_time is not None and instant < self.start_date_time:
            return False
        return not (self.end_date_time is not None and instant >= self.end_date_time)

    def applies_to_class(self, customer_class: str | None) -> bool:
        return not self.x_customer_classes or (customer_class in self.x_customer_classes)

    def expanded_elements(self) -> list[TariffElement]:
        """Elements with ``x_volume_tiers`` compiled into ENERGY elements (placed first, so they win)."""
        tiers = self.x_volume_tiers
        if not tiers:
            return self.elements
        compiled: list[TariffElement] = []
        for index, tier in enumerate(tiers):
            upper: Decimal | None = tiers[index + 1].from_kwh if index + 1 < len(tiers) else None
            restrictions = TariffRestrictions(
                min_kwh=tier.from_kwh if tier.from_kwh > 0 else None, max_kwh=upper
            )
            component = PriceComponent(
                type=TariffDimensionType.ENERGY, price=tier.price, vat=tier.vat, step_size=tier.step_size
            )
            compiled.append(TariffElement(price_components=[component], restrictions=restrictions))
        return compiled + list(self.elements)

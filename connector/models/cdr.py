"""OCPI 2.2.1 CDR (mod_cdrs): charging periods with dimensions, and the totals we compute.

Input CDRs may omit the totals (we rate them); the fields are kept so a CDR round-trips.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, model_validator

from connector.models.common import (
    AS_TEXT,
    MAX_HOURS,
    AwareDatetime,
    CurrencyCode,
    Dec,
    Model,
    Price,
    bounded,
)
from connector.models.tariff import Tariff


class CdrDimensionType(StrEnum):
    CURRENT = "CURRENT"
    ENERGY = "ENERGY"
    ENERGY_EXPORT = "ENERGY_EXPORT"
    ENERGY_IMPORT = "ENERGY_IMPORT"
    MAX_CURRENT = "MAX_CURRENT"
    MIN_CURRENT = "MIN_CURRENT"
    MAX_POWER = "MAX_POWER"
    MIN_POWER = "MIN_POWER"
    PARKING_TIME = "PARKING_TIME"
    POWER = "POWER"
    RESERVATION_TIME = "RESERVATION_TIME"
    STATE_OF_CHARGE = "STATE_OF_CHARGE"
    TIME = "TIME"


class CdrDimension(Model):
    type: CdrDimensionType
    volume: Annotated[Decimal, bounded(Decimal(0), MAX_HOURS), AS_TEXT]  # kWh, hours, kW, A (docs/rating.md, "Bounds")


class ChargingPeriod(Model):
    start_date_time: AwareDatetime
    dimensions: list[CdrDimension] = Field(min_length=1)
    tariff_id: str | None = None


class CdrLocation(Model):
    id: str | None = None
    time_zone: str | None = None  # not in OCPI's CdrLocation; taken from Location.time_zone when given


class Cdr(Model):
    country_code: str = ""
    party_id: str = ""
    id: str = ""
    start_date_time: AwareDatetime
    end_date_time: AwareDatetime
    session_id: str | None = None
    currency: CurrencyCode
    cdr_location: CdrLocation | None = None
    tariffs: list[Tariff] | None = None
    charging_periods: list[ChargingPeriod] = Field(min_length=1)
    signed_data: Any | None = None
    total_cost: Price | None = None
    total_fixed_cost: Price | None = None
    total_energy: Dec | None = None
    total_energy_cost: Price | None = None
    total_time: Dec | None = None
    total_time_cost: Price | None = None
    total_parking_time: Dec | None = None
    total_parking_cost: Price | None = None
    total_reservation_cost: Price | None = None
    credit: bool | None = None
    credit_reference_id: str | None = None
    last_updated: AwareDatetime | None = None
    # --- extensions (not OCPI) ---
    x_customer_class: str | None = None
    x_reservation_expired: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> Cdr:
        if self.end_date_time < self.start_date_time:
            raise ValueError("end_date_time: must not be before start_date_time")
        starts = [p.start_date_time for p in self.charging_periods]
        if any(b < a for a, b in zip(starts, starts[1:], strict=False)):
            raise ValueError("charging_periods: start_date_time must be in ascending order")
        return self

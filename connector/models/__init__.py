"""Domain models (pydantic v2): OCPI 2.2.1 Tariff and CDR, our raw Session, customers, adjustments."""

from connector.models.cdr import Cdr, CdrDimension, CdrDimensionType, ChargingPeriod
from connector.models.common import DisplayText, Price
from connector.models.customer import Adjustment, AdjustmentKind, Customer
from connector.models.session import MeterSample, Session
from connector.models.tariff import (
    DayOfWeek,
    PriceComponent,
    Tariff,
    TariffDimensionType,
    TariffElement,
    TariffRestrictions,
    TariffType,
    TaxRate,
    VolumeTier,
)

__all__ = [
    "Adjustment", "AdjustmentKind", "Cdr", "CdrDimension", "CdrDimensionType", "ChargingPeriod", "Customer",
    "DayOfWeek", "DisplayText", "MeterSample", "Price", "PriceComponent", "Session", "Tariff",
    "TariffDimensionType", "TariffElement", "TariffRestrictions", "TariffType", "TaxRate", "VolumeTier",
]

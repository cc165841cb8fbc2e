"""What the rating function returns: priced lines, OCPI totals, and the invoice view.

Plain slotted dataclasses (not pydantic) because the result is built in the hot path; ``to_dict``
gives the JSON shape used by the API, CLI and add-ins (Decimals as strings, never floats).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import overload

from connector.models.documents import (
    AmountJson,
    LineTaxJson,
    OcpiTotalsJson,
    PricedLineJson,
    RatedInvoiceJson,
    RatedLineJson,
    RatedSessionJson,
    TaxTotalJson,
)
from connector.money import money_str, ocpi_str

CATEGORIES: tuple[str, ...] = ("energy", "time", "parking", "fixed", "reservation")


@overload
def _s(value: Decimal) -> str: ...
@overload
def _s(value: Decimal | None) -> str | None: ...
def _s(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _m(value: Decimal, currency: str | None) -> str:
    """Money text: the currency's digits when the currency is known, else as computed."""
    return money_str(value, currency) if currency else format(value, "f")


@dataclass(slots=True, init=False)
class Amount:
    """A price excl./incl. VAT (OCPI ``Price``). The hot result classes here have an explicit ``__init__``: compiled, it is native code (a dataclass-generated one stays interpreted)."""

    excl_vat: Decimal
    incl_vat: Decimal

    def __init__(self, excl_vat: Decimal, incl_vat: Decimal) -> None:
        self.excl_vat = excl_vat
        self.incl_vat = incl_vat

    def to_dict(self) -> AmountJson:
        """OCPI ``Price``: exactly 4 decimals."""
        return {"excl_vat": ocpi_str(self.excl_vat), "incl_vat": ocpi_str(self.incl_vat)}


@dataclass(slots=True, init=False)
class PricedLine:
    """One (charging period, dimension) with its active price component. Full precision."""

    period_index: int
    start: datetime
    end: datetime
    dimension: str  # ENERGY | TIME | PARKING_TIME | FLAT | RESERVATION_TIME
    category: str  # energy | time | parking | fixed | reservation
    volume: Decimal  # measured: kWh, hours, or 1 for FLAT
    billed_volume: Decimal  # after step_size
    unit_price: Decimal
    vat: Decimal | None
    element_index: int
    cost_excl_vat: Decimal
    cost_incl_vat: Decimal

    def __init__(self, period_index: int, start: datetime, end: datetime, dimension: str, category: str,
                 volume: Decimal, billed_volume: Decimal, unit_price: Decimal, vat: Decimal | None,
                 element_index: int, cost_excl_vat: Decimal, cost_incl_vat: Decimal) -> None:
        self.period_index = period_index
        self.start = start
        self.end = end
        self.dimension = dimension
        self.category = category
        self.volume = volume
        self.billed_volume = billed_volume
        self.unit_price = unit_price
        self.vat = vat
        self.element_index = element_index
        self.cost_excl_vat = cost_excl_vat
        self.cost_incl_vat = cost_incl_vat

    def to_dict(self) -> PricedLineJson:
        return {
            "period_index": self.period_index,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "dimension": self.dimension,
            "category": self.category,
            "volume": _s(self.volume),
            "billed_volume": _s(self.billed_volume),
            "unit_price": _s(self.unit_price),
            "vat": _s(self.vat),
            "element_index": self.element_index,
            # OCPI 4 decimals like the totals they add up to (full precision stays on the object)
            "cost_excl_vat": ocpi_str(self.cost_excl_vat),
            "cost_incl_vat": ocpi_str(self.cost_incl_vat),
        }


@dataclass(slots=True)
class LineTax:
    name: str
    rate: Decimal
    amount: Decimal

    def to_dict(self, currency: str | None = None) -> LineTaxJson:
        return {"name": self.name, "rate": _s(self.rate), "amount": _m(self.amount, currency)}


@dataclass(slots=True)
class InvoiceLine:
    """A line as a customer sees it, rounded to the currency's minor unit.

    ``kind``: charge | price_cap | discount | surcharge | rounding | incentive. ``tax_key`` names the
    tax profile (which rates apply); incentives are after tax and carry no tax.
    """

    kind: str
    category: str
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    net: Decimal
    tax_key: str
    taxes: list[LineTax] = field(default_factory=list)

    @property
    def tax(self) -> Decimal:
        return sum((t.amount for t in self.taxes), Decimal(0))

    def to_dict(self, currency: str | None = None) -> RatedLineJson:
        """Amounts with exactly the currency's digits; ``unit_price`` is a rate (per kWh, h) as priced."""
        return {
            "kind": self.kind,
            "category": self.category,
            "description": self.description,
            "quantity": _s(self.quantity),
            "unit": self.unit,
            "unit_price": _s(self.unit_price),
            "net": _m(self.net, currency),
            "tax": _m(self.tax, currency),
            "gross": _m(self.net + self.tax, currency),
            "taxes": [t.to_dict(currency) for t in self.taxes],
        }


@dataclass(slots=True)
class TaxTotal:
    name: str
    rate: Decimal
    compound: bool
    taxable_base: Decimal
    amount: Decimal

    def to_dict(self, currency: str | None = None) -> TaxTotalJson:
        return {
            "name": self.name,
            "rate": _s(self.rate),
            "compound": self.compound,
            "taxable_base": _m(self.taxable_base, currency),
            "amount": _m(self.amount, currency),
        }


@dataclass(slots=True)
class InvoiceView:
    """Money as invoiced: minor units, named rounding policy, taxes per rate, incentives apart."""

    currency: str
    rounding_policy: str
    lines: list[InvoiceLine]
    net_total: Decimal
    taxes: list[TaxTotal]
    tax_total: Decimal
    gross_total: Decimal
    incentive_total: Decimal
    amount_due: Decimal

    def to_dict(self) -> RatedInvoiceJson:
        return {
            "currency": self.currency,
            "rounding_policy": self.rounding_policy,
            "lines": [line.to_dict(self.currency) for line in self.lines],
            "net_total": money_str(self.net_total, self.currency),
            "taxes": [t.to_dict(self.currency) for t in self.taxes],
            "tax_total": money_str(self.tax_total, self.currency),
            "gross_total": money_str(self.gross_total, self.currency),
            "incentive_total": money_str(self.incentive_total, self.currency),
            "amount_due": money_str(self.amount_due, self.currency),
        }


@dataclass(slots=True, init=False)
class RatedSession:
    """The priced result of one session or CDR. OCPI totals carry 4 decimals."""

    session_id: str
    tariff_id: str
    currency: str
    customer_class: str | None
    start: datetime
    end: datetime
    time_zone: str
    final: bool
    lines: list[PricedLine]
    subtotals: dict[str, Amount]
    cap_applied: str | None
    total_cost: Amount
    total_fixed_cost: Amount
    total_energy: Decimal
    total_energy_cost: Amount
    total_time: Decimal
    total_time_cost: Amount
    total_parking_time: Decimal
    total_parking_cost: Amount
    total_reservation_cost: Amount
    # The invoice view is built on first use (pure, cached): OCPI-only callers don't pay for it.
    invoice_builder: Callable[[], InvoiceView] = field(repr=False)
    _invoice: InvoiceView | None = field(default=None, repr=False)

    def __init__(self, session_id: str, tariff_id: str, currency: str, customer_class: str | None,
                 start: datetime, end: datetime, time_zone: str, final: bool, lines: list[PricedLine],
                 subtotals: dict[str, Amount], cap_applied: str | None, total_cost: Amount,
                 total_fixed_cost: Amount, total_energy: Decimal, total_energy_cost: Amount,
                 total_time: Decimal, total_time_cost: Amount, total_parking_time: Decimal,
                 total_parking_cost: Amount, total_reservation_cost: Amount,
                 invoice_builder: Callable[[], InvoiceView], _invoice: InvoiceView | None = None) -> None:
        self.session_id = session_id
        self.tariff_id = tariff_id
        self.currency = currency
        self.customer_class = customer_class
        self.start = start
        self.end = end
        self.time_zone = time_zone
        self.final = final
        self.lines = lines
        self.subtotals = subtotals
        self.cap_applied = cap_applied
        self.total_cost = total_cost
        self.total_fixed_cost = total_fixed_cost
        self.total_energy = total_energy
        self.total_energy_cost = total_energy_cost
        self.total_time = total_time
        self.total_time_cost = total_time_cost
        self.total_parking_time = total_parking_time
        self.total_parking_cost = total_parking_cost
        self.total_reservation_cost = total_reservation_cost
        self.invoice_builder = invoice_builder
        self._invoice = _invoice

    @property
    def invoice(self) -> InvoiceView:
        if self._invoice is None:
            self._invoice = self.invoice_builder()
        return self._invoice

    def ocpi_totals(self) -> OcpiTotalsJson:
        """The OCPI CDR total fields (4 decimals, as strings)."""
        return {
            "total_cost": self.total_cost.to_dict(),
            "total_fixed_cost": self.total_fixed_cost.to_dict(),
            "total_energy": _s(self.total_energy),
            "total_energy_cost": self.total_energy_cost.to_dict(),
            "total_time": _s(self.total_time),
            "total_time_cost": self.total_time_cost.to_dict(),
            "total_parking_time": _s(self.total_parking_time),
            "total_parking_cost": self.total_parking_cost.to_dict(),
            "total_reservation_cost": self.total_reservation_cost.to_dict(),
        }

    def to_dict(self) -> RatedSessionJson:
        return {
            "session_id": self.session_id,
            "tariff_id": self.tariff_id,
            "currency": self.currency,
            "customer_class": self.customer_class,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "time_zone": self.time_zone,
            "final": self.final,
            **self.ocpi_totals(),
            "cap_applied": self.cap_applied,
            "subtotals": {k: v.to_dict() for k, v in self.subtotals.items()},
            "lines": [line.to_dict() for line in self.lines],
            "invoice": self.invoice.to_dict(),
        }

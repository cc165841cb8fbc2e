"""The pinned JSON documents (docs/architecture.md) as ``TypedDict``s: rated session, invoice, journal entry,
event envelope.

Why here: every layer builds or reads them (the rating core, billing, the outbox, the platform adapters,
the API), and this is the lowest package they all may import. Money is a decimal string, never a float:
the rating documents carry full or OCPI precision, the invoice ones the currency's minor-unit digits.
The keys are exactly the ones produced today; mypy checks the code that builds and reads them.
"""

from __future__ import annotations

from typing import Any, TypedDict

# ------------------------------------------------------------------ rated session (RatedSession.to_dict)


class AmountJson(TypedDict):
    """An OCPI ``Price``: 4 decimals."""

    excl_vat: str
    incl_vat: str


class PricedLineJson(TypedDict):
    """One (charging period, dimension) at full precision."""

    period_index: int
    start: str
    end: str
    dimension: str
    category: str
    volume: str
    billed_volume: str
    unit_price: str
    vat: str | None
    element_index: int
    cost_excl_vat: str
    cost_incl_vat: str


class LineTaxJson(TypedDict):
    name: str
    rate: str
    amount: str


class RatedLineJson(TypedDict):
    """A line of the rating's invoice view (no ids: it is not stored on an invoice yet)."""

    kind: str
    category: str
    description: str
    quantity: str
    unit: str
    unit_price: str
    net: str
    tax: str
    gross: str
    taxes: list[LineTaxJson]


class TaxTotalJson(TypedDict):
    """One tax rate's total; the invoice document uses the same shape."""

    name: str
    rate: str
    compound: bool
    taxable_base: str
    amount: str


class RatedInvoiceJson(TypedDict):
    """The rating's invoice view: money rounded to the currency's minor unit."""

    currency: str
    rounding_policy: str
    lines: list[RatedLineJson]
    net_total: str
    taxes: list[TaxTotalJson]
    tax_total: str
    gross_total: str
    incentive_total: str
    amount_due: str


class OcpiTotalsJson(TypedDict):
    """The OCPI CDR total fields."""

    total_cost: AmountJson
    total_fixed_cost: AmountJson
    total_energy: str
    total_energy_cost: AmountJson
    total_time: str
    total_time_cost: AmountJson
    total_parking_time: str
    total_parking_cost: AmountJson
    total_reservation_cost: AmountJson


class RatedSessionJson(OcpiTotalsJson):
    """``RatedSession.to_dict()``: what every face answers and what billing stores as a session's rating."""

    session_id: str
    tariff_id: str
    currency: str
    customer_class: str | None
    start: str
    end: str
    time_zone: str
    final: bool
    cap_applied: str | None
    subtotals: dict[str, AmountJson]
    lines: list[PricedLineJson]
    invoice: RatedInvoiceJson


# ------------------------------------------------------------------------- invoice (billing's Invoice)


class InvoiceCustomerJson(TypedDict, total=False):
    """The invoice's customer: all fields for a known customer, only ``id`` when its row is gone (so
    readers take every key as optional)."""

    id: str
    name: str | None
    email: str | None
    customer_class: str | None
    locale: str | None
    tax_region: str | None


class InvoiceLineJson(TypedDict):
    """A stored invoice line; ``quantity`` and ``unit_price`` at full precision."""

    id: str
    session_id: str | None
    station_id: str | None
    session_start: str | None  # ISO 8601 with the offset of the session's time zone (local wall clock)
    session_end: str | None
    time_zone: str | None  # the session's IANA zone
    kind: str
    category: str
    description: str
    quantity: str
    unit: str
    unit_price: str
    net: str
    taxes: list[LineTaxJson]
    tax: str
    gross: str


class InvoiceSummaryJson(TypedDict):
    """An ``Invoice`` without ``lines`` and ``taxes``: what a billed session and ``session.billed`` carry (the
    whole invoice is ``GET /v1/invoices/{id}``)."""

    id: str
    tenant_id: str
    number: str | None
    status: str
    kind: str
    credit_note_of: str | None
    customer: InvoiceCustomerJson | None
    currency: str
    issued_at: str | None
    period_start: str | None
    period_end: str | None
    paid_at: str | None
    reason: str | None
    net_total: str
    tax_total: str
    gross_total: str
    incentive_total: str
    amount_due: str


class InvoiceJson(InvoiceSummaryJson, total=False):
    """The pinned ``Invoice``: an invoice or a credit note (``kind``), money in major units. ``lines`` and
    ``taxes`` are always there, except in the summary ``session.billed`` carries."""

    lines: list[InvoiceLineJson]
    taxes: list[TaxTotalJson]


# ---------------------------------------------------------------------------------------- journal entry


class JournalLineJson(TypedDict):
    account: str
    debit: str
    credit: str
    description: str


class JournalEntryJson(TypedDict):
    """One balanced journal entry (debits = credits), amounts with the currency's minor-unit digits."""

    id: str
    tenant_id: str
    date: str
    currency: str
    memo: str
    reference: str | None
    source: str
    reverses: str | None
    lines: list[JournalLineJson]


# ---------------------------------------------------------------------------------------- event envelope


class DifferenceJson(TypedDict):
    """After minus before of a re-rated session's invoice view."""

    net: str
    gross: str


class TaxDeltaJson(TypedDict):
    """One tax (name, rate) of an invoice's VAT restatement: the change of its amount."""

    name: str
    rate: str
    amount: str


class VatRestatementJson(TypedDict):
    """``invoice.vat_restated``: what moved at finalize from the sessions as rated to the invoice."""

    receivable: str
    taxes: list[TaxDeltaJson]


class EventDataJson(TypedDict, total=False):
    """An event's ``data``: which keys are present depends on the event type (docs/architecture.md)."""

    session: dict[str, Any]
    rating: RatedSessionJson
    invoice: InvoiceJson  # session.billed: the summary (``InvoiceSummaryJson``: no lines, no taxes) + ``lines``
    lines: list[InvoiceLineJson]  # session.billed: the billed session's own lines
    as_of: str
    policy: str
    before: RatedSessionJson | None
    after: RatedSessionJson
    difference: DifferenceJson
    entry: JournalEntryJson
    correction: dict[str, Any]  # session.billed re-emitted by a correction: the credit note it follows
    reconciliation: dict[str, Any]
    anomaly: dict[str, Any]
    payment: dict[str, Any]
    restatement: VatRestatementJson  # invoice.vat_restated


class EventJson(TypedDict):
    """The envelope every webhook and platform adapter receives."""

    id: str
    type: str
    tenant_id: str
    created_at: str
    data: EventDataJson

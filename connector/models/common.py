"""Shared pieces of the OCPI 2.2.1 object model (Price, DisplayText) and our base model config."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from connector.money import minor_units, to_decimal


def _decimal(value: object) -> Decimal:
    """Input → Decimal, as ``to_decimal`` (floats through their shortest repr, text stripped).

    The common JSON types are converted here without the generic helper's checks: this runs for every
    number of every input document. Non-finite values are refused by pydantic's own Decimal check,
    which runs after this one.
    """
    kind = type(value)
    if kind is str:
        try:
            return Decimal(value.strip())  # type: ignore[attr-defined]
        except ArithmeticError as exc:  # decimal.InvalidOperation
            raise ValueError(f"value: '{value}' is not a number") from exc
    if kind is int:
        return Decimal(value)  # type: ignore[arg-type]
    if kind is float:
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float | int | str) and not isinstance(value, bool):
        return to_decimal(value)
    raise ValueError(f"expected a number, got {type(value).__name__}")


# Bounds of values a charger or a tariff can carry (docs/rating.md, "Bounds"): far beyond any real
# session, far below where Decimal arithmetic at 28 digits would lose a cent or fail.
MAX_KWH = Decimal(1_000_000)  # energy of one session or one period: 1 GWh
MAX_HOURS = Decimal(1_000_000)  # a period's TIME/PARKING/RESERVATION volume, power (kW), current (A)
MAX_UNIT_PRICE = Decimal(1_000_000)  # price per kWh, per hour or per session
MAX_AMOUNT = Decimal(1_000_000_000)  # a whole amount: min/max_price, CDR totals, adjustments


def bounded(low: Decimal, high: Decimal, unit: str = "") -> BeforeValidator:
    """A validator converting a number like ``Dec`` and refusing values outside ``[low, high]`` (bounds in the
    message), in one call: every input number passes here. A non-finite value is left to pydantic's own
    Decimal check, which refuses it next."""
    suffix = f" {unit}" if unit else ""

    def check(value: object) -> Decimal:
        number = _decimal(value)
        if number.is_finite() and not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}{suffix} (got {number})")
        return number

    return BeforeValidator(check)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must carry a time zone offset (e.g. 2026-01-13T14:30:00Z)")
    return value


def _currency(value: str) -> str:
    minor_units(value)  # raises with a message naming the field
    return value.upper()


# Money and quantities: floats are converted through their decimal text, never used for arithmetic.
# JSON gets fixed-point text ("0.000001", never "1E-6"): the API's Decimal schema and spreadsheets expect it.
AS_TEXT = PlainSerializer(lambda value: format(value, "f"), return_type=str, when_used="json")
Dec = Annotated[Decimal, BeforeValidator(_decimal), AS_TEXT]
# Bounded numbers: Annotated[Decimal, bounded(...), AS_TEXT], never Annotated[Dec, ...] (that converts twice).
Kwh = Annotated[Decimal, bounded(Decimal(0), MAX_KWH, "kWh"), AS_TEXT]  # delivered energy: never negative
UnitPrice = Annotated[Decimal, bounded(-MAX_UNIT_PRICE, MAX_UNIT_PRICE), AS_TEXT]  # negative only where a tariff opts in
MoneyAmount = Annotated[Decimal, bounded(-MAX_AMOUNT, MAX_AMOUNT), AS_TEXT]
AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
CurrencyCode = Annotated[str, AfterValidator(_currency)]


class Model(BaseModel):
    """Base for input models: unknown OCPI fields are kept (round-trip), money is Decimal."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=False)


class Price(Model):
    """OCPI 2.2.1 ``Price``: excl. VAT, and incl. VAT when a VAT applies."""

    excl_vat: MoneyAmount
    incl_vat: MoneyAmount | None = None


class DisplayText(Model):
    language: str
    text: str

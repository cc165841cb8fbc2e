"""Money: ISO 4217 minor units and named rounding policies.

Money is always ``Decimal``. Prices keep full precision while a session is rated; rounding happens
only where a named policy says so (invoice lines, OCPI 4-decimal outputs). Floats are rejected.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import lru_cache

# ISO 4217 currencies whose minor unit is not 2 (list "A.1", current codes). Every other valid code has 2.
_MINOR_UNITS_NOT_2: dict[str, int] = {
    # 0 decimals
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    # 3 decimals
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # 4 decimals
    "CLF": 4, "UYW": 4,
}

OCPI_DECIMALS = 4
OCPI_QUANTUM = Decimal("0.0001")
ZERO = Decimal(0)


@lru_cache(maxsize=256)
def minor_units(currency: str) -> int:
    """Number of decimals of ``currency`` per ISO 4217 (JPY 0, EUR 2, KWD 3)."""
    code = currency.upper()
    if len(code) != 3 or not (code.isascii() and code.isalpha()):  # "ÄÖÜ" is alphabetic, not ISO 4217
        raise ValueError(f"currency: '{currency}' is not an ISO 4217 alphabetic code")
    return _MINOR_UNITS_NOT_2.get(code, 2)


@lru_cache(maxsize=256)
def quantum(currency: str) -> Decimal:
    """The smallest amount of ``currency`` (``Decimal('0.01')`` for EUR, ``Decimal('1')`` for JPY)."""
    return Decimal(1).scaleb(-minor_units(currency))


class RoundingPolicy(StrEnum):
    """How invoice money is rounded. OCPI mandates none; we name ours.

    Under every policy the invoice bills what the rating says: without adjustments the net total is
    ``total_cost.excl_vat`` and the amount due ``total_cost.incl_vat``, each rounded once to the
    currency's minor unit with the policy's mode; the VAT is their difference, split per rate.

    - ``line_half_up`` (default): full precision while rating; the lines are rounded so that they add up
      to the rounded total (largest remainder: each line within one minor unit of its exact amount).
    - ``line_half_even``: the same with banker's rounding of the total.
    - ``total_half_up``: each line is shown rounded HALF_UP on its own; the difference to the rounded
      total is an explicit "rounding" line.
    """

    LINE_HALF_UP = "line_half_up"
    LINE_HALF_EVEN = "line_half_even"
    TOTAL_HALF_UP = "total_half_up"

    @property
    def decimal_rounding(self) -> str:
        return ROUND_HALF_EVEN if self is RoundingPolicy.LINE_HALF_EVEN else ROUND_HALF_UP


def to_decimal(value: object, field: str = "value") -> Decimal:
    """Convert user input to Decimal; floats go through ``str`` so 0.1 stays 0.1."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError(f"{field}: expected a number, got a boolean")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except Exception as exc:  # decimal.InvalidOperation
            raise ValueError(f"{field}: '{value}' is not a number") from exc
    raise ValueError(f"{field}: expected a number, got {type(value).__name__}")


def round_money(amount: Decimal, currency: str, policy: RoundingPolicy = RoundingPolicy.LINE_HALF_UP) -> Decimal:
    """Round ``amount`` to the minor unit of ``currency`` under ``policy``."""
    return amount.quantize(quantum(currency), rounding=policy.decimal_rounding)


def round_ocpi(amount: Decimal) -> Decimal:
    """OCPI numbers carry 4 decimals (types.asciidoc); HALF_UP like the reference engine."""
    return amount.quantize(OCPI_QUANTUM, rounding=ROUND_HALF_UP)


def ceil_to_step(amount: Decimal, step: Decimal) -> Decimal:
    """Round ``amount`` up to a whole number of ``step`` (OCPI step_size: "rounded up")."""
    if step <= 0 or amount <= 0:
        return amount
    blocks = (amount / step).to_integral_value(rounding=ROUND_CEILING)
    return blocks * step


def to_minor(value: Decimal | str, currency: str) -> int:
    """``Decimal('3.57')`` EUR → 357 (billing stores integers). More decimals than the currency has is
    refused, never rounded: amounts reaching here were rounded by the rating core already."""
    scaled = Decimal(str(value)).scaleb(minor_units(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"amount {value} has more decimals than {currency} allows")
    return int(scaled)


def to_major(value: int, currency: str) -> Decimal:
    """357 EUR → ``Decimal('3.57')``."""
    return Decimal(value).scaleb(-minor_units(currency))


def major_str(value: int, currency: str) -> str:
    """357 EUR → ``"3.57"``, 0 → ``"0.00"``, 1234 JPY → ``"1234"``: the JSON money format (exactly the
    currency's minor-unit digits, as the rating core's invoice view prints it)."""
    return format(to_major(int(value), currency), "f")


def money_str(amount: Decimal, currency: str) -> str:
    """An amount as JSON money text with exactly the currency's minor-unit digits: ``"0.00"`` (never
    ``"0"`` or ``"-0.00"``), ``"3.15"`` (never ``"3.150"``), ``"482"`` for JPY. Amounts reaching here are
    already rounded by a named policy; the quantize only fixes the digits shown."""
    shown = amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)
    return format(shown.copy_abs() if shown == 0 else shown, "f")


def ocpi_str(amount: Decimal) -> str:
    """An OCPI number as text with exactly 4 decimals (types.asciidoc: "numbers use 4 decimals")."""
    shown = round_ocpi(amount)
    return format(shown.copy_abs() if shown == 0 else shown, "f")

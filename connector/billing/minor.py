"""Integer minor units (what billing stores and prints) from the rating core's rounded Decimals."""

from __future__ import annotations

from decimal import Decimal

from connector.money import minor_units


def to_minor(value: Decimal | str, currency: str) -> int:
    """``Decimal('3.57')`` EUR -> 357. The rating core already rounded; a leftover fraction is a bug."""
    scaled = Decimal(str(value)).scaleb(minor_units(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"amount {value} has more decimals than {currency} allows")
    return int(scaled)


def to_major(value: int, currency: str) -> Decimal:
    """357 EUR -> ``Decimal('3.57')``."""
    return Decimal(value).scaleb(-minor_units(currency))


def price_minor(value: Decimal | str, currency: str) -> str:
    """A unit price in minor units, full precision (``0.305`` EUR -> ``"30.5"``)."""
    scaled = Decimal(str(value)).scaleb(minor_units(currency))
    text = format(scaled.normalize(), "f")
    return text if text not in ("-0",) else "0"


def major_str(value: int, currency: str) -> str:
    """357 EUR -> ``"3.57"``, 0 -> ``"0.00"``, 1234 JPY -> ``"1234"``: the JSON money format (exactly the
    currency's minor-unit digits, as the rating core's invoice view prints it)."""
    return format(Decimal(int(value)).scaleb(-minor_units(currency)), "f")

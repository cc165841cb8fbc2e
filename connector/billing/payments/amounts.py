"""Vendor amounts as our minor units: each vendor counts money its own way.

Stripe sends integers in *its* minor unit (zero-decimal currencies in whole units; ISK, HUF, TWD and UGX as
two-decimal values), Square integers in the ISO 4217 minor unit, PayPal, Xero and Plaid decimal strings or
numbers in major units. A vendor amount that does not fit our currency's minor unit exactly (an ISK amount
with öre) is refused rather than rounded.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from connector.money import minor_units, to_minor
from connector.platforms.vendor_units import STRIPE


class AmountError(ValueError):
    """A vendor amount that is not a number or does not fit the currency."""


def stripe_exponent(currency: str) -> int:
    """Stripe's decimals for ``currency``: the one table the outbound Stripe adapter uses too."""
    return STRIPE.rule(currency).exponent


def from_vendor_minor(amount: Any, currency: str, vendor_exponent: int) -> int:
    """An integer amount in a vendor's minor unit of ``vendor_exponent`` digits -> our minor units."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise AmountError(f"amount {amount!r} is not an integer")
    return major(Decimal(amount).scaleb(-vendor_exponent), currency)


def from_stripe(amount: Any, currency: str) -> int:
    return from_vendor_minor(amount, currency, stripe_exponent(currency))


def from_iso_minor(amount: Any, currency: str) -> int:
    return from_vendor_minor(amount, currency, minor_units(currency.upper()))


def major(value: Any, currency: str) -> int:
    """A major-unit amount (``"12.34"``, ``12.34`` from JSON, ``Decimal``) -> our minor units, exactly."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise AmountError(f"amount {value!r} is not a number") from exc
    if not number.is_finite():
        raise AmountError(f"amount {value!r} is not a number")
    try:
        return to_minor(number.normalize() if number == number.to_integral_value() else number, currency.upper())
    except ValueError as exc:
        raise AmountError(str(exc)) from exc

"""Each vendor's own minor-unit rules, as data: how many decimals it reads a currency with, in which steps.

Why: our Invoice JSON is in ISO 4217 digits (ISK 0, KWD 3), but vendors differ. Stripe reads ISK and UGX as
two-decimal (1372 kr is sent as 137200, or it books 13.72 kr) and wants three-decimal amounts to end in 0;
PayPal refuses decimals for HUF, JPY and TWD. An amount a vendor cannot hold exactly is refused with the field
named, never rounded: a rounded amount would leave the vendor's books off ours. See docs/platforms/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from connector.money import minor_units


@dataclass(frozen=True)
class UnitRule:
    """``exponent``: decimals of the vendor's amount; ``step``: the vendor's integer amount must be a multiple."""

    exponent: int
    step: int = 1
    why: str = ""


@dataclass(frozen=True)
class VendorUnits:
    """A vendor's rules: ``default`` exponent (None: ISO 4217) and the currencies that differ."""

    vendor: str
    default: int | None
    rules: dict[str, UnitRule]
    source: str

    def rule(self, currency: str) -> UnitRule:
        code = currency.upper()
        if code in self.rules:
            return self.rules[code]
        return UnitRule(minor_units(code) if self.default is None else self.default)


_STRIPE_ZERO = ("BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV", "XAF", "XOF",
                "XPF")  # UGX is zero-decimal too, but its special case below wins
_STRIPE_THREE = ("BHD", "JOD", "KWD", "OMR", "TND")

STRIPE = VendorUnits(
    vendor="Stripe", default=2, source="docs.stripe.com/currencies (zero-decimal, special cases, three-decimal)",
    rules={**{c: UnitRule(0, 1, "zero-decimal") for c in _STRIPE_ZERO},
           "ISK": UnitRule(2, 100, "two-decimal in the API for backwards compatibility; amounts end in 00"),
           "UGX": UnitRule(2, 100, "two-decimal in the API; amounts end in 00"),
           "HUF": UnitRule(2, 1, "two-decimal charges (payouts in whole units)"),
           "TWD": UnitRule(2, 1, "two-decimal charges (payouts in whole units)"),
           **{c: UnitRule(3, 10, "three-decimal; the last digit must be 0") for c in _STRIPE_THREE}})

SQUARE = VendorUnits(
    vendor="Square", default=None, rules={},
    source="Square Money.amount: the smallest denomination of the currency (ISO 4217), e.g. cents for USD")

PAYPAL = VendorUnits(
    vendor="PayPal", default=None, source="developer.paypal.com/api/rest/reference/currency-codes",
    rules={c: UnitRule(0, 1, "PayPal does not support decimals for this currency") for c in ("HUF", "JPY", "TWD")})

BY_VENDOR = {"stripe": STRIPE, "square": SQUARE, "paypal": PAYPAL}


def vendor_minor(value: int, currency: str, units: VendorUnits, field: str) -> int:
    """Our amount in ISO minor units (``value``) as the vendor's integer amount; ValueError naming ``field``
    when the vendor cannot hold it exactly."""
    iso = minor_units(currency)
    rule = units.rule(currency)
    scaled = Decimal(value).scaleb(rule.exponent - iso)
    if scaled != scaled.to_integral_value() or int(scaled) % rule.step:
        shown = f"{Decimal(value).scaleb(-iso):f}"
        raise ValueError(f"{field}: {shown} {currency.upper()} cannot be sent to {units.vendor} exactly "
                         f"({units.vendor} takes {currency.upper()} with {rule.exponent} decimals in steps of "
                         f"{Decimal(rule.step).scaleb(-rule.exponent):f}: {rule.why or 'its minor unit'}); "
                         "refusing to round")
    return int(scaled)


def vendor_decimal(value: int, currency: str, units: VendorUnits, field: str) -> str:
    """Our amount in ISO minor units as the vendor's decimal string (PayPal ``"9.13"``, HUF ``"1234"``)."""
    rule = units.rule(currency)
    return f"{Decimal(vendor_minor(value, currency, units, field)).scaleb(-rule.exponent):f}"

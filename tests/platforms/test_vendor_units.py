"""Each vendor's minor-unit rules: Stripe's table equals Stripe's published currency list, and an amount a
vendor cannot hold exactly is refused with the field named, never rounded."""

from __future__ import annotations

import json

import pytest

from connector.platforms.vendor_units import PAYPAL, SQUARE, STRIPE, vendor_decimal, vendor_minor
from tests.paths import VENDOR_SPECS

LIST = json.loads((VENDOR_SPECS / "stripe" / "currencies.json").read_text(encoding="utf-8"))


def test_stripe_rules_are_stripes_published_list() -> None:
    zero = set(LIST["zero_decimal"]["currencies"]) - set(LIST["special_cases"])
    assert {c for c, r in STRIPE.rules.items() if r.exponent == 0} == zero
    for code, case in LIST["special_cases"].items():
        assert (STRIPE.rule(code).exponent, STRIPE.rule(code).step) == (case["api_exponent"],
                                                                        case["charges"]["amount_multiple_of"])
    for code in LIST["three_decimal"]["currencies"]:
        assert (STRIPE.rule(code).exponent, STRIPE.rule(code).step) == (3, LIST["three_decimal"]["charges"][
            "amount_multiple_of"])
    assert STRIPE.rule("EUR").exponent == LIST["default_minor_unit_exponent"] == 2


@pytest.mark.parametrize(("iso_minor", "currency", "stripe"), [
    (1372, "ISK", 137200), (1372, "UGX", 137200), (1372, "JPY", 1372), (1205, "EUR", 1205), (1205, "HUF", 1205),
    (1230, "KWD", 1230), (1230, "BHD", 1230), (1230, "JOD", 1230), (1230, "OMR", 1230), (1230, "TND", 1230),
])
def test_stripe_amounts(iso_minor: int, currency: str, stripe: int) -> None:
    assert vendor_minor(iso_minor, currency, STRIPE, "x") == stripe


@pytest.mark.parametrize("currency", ["KWD", "BHD", "JOD", "OMR", "TND"])
def test_three_decimal_amounts_must_end_in_zero_for_stripe(currency: str) -> None:
    with pytest.raises(ValueError, match=rf"^amount: 1.234 {currency} cannot be sent to Stripe exactly .*refusing"):
        vendor_minor(1234, currency, STRIPE, "amount")


def test_paypal_has_no_decimals_for_huf_jpy_twd_and_square_follows_iso() -> None:
    assert vendor_decimal(123400, "HUF", PAYPAL, "x") == "1234" and vendor_decimal(913, "EUR", PAYPAL, "x") == "9.13"
    assert vendor_decimal(1372, "JPY", PAYPAL, "x") == "1372"
    for currency in ("HUF", "TWD"):
        with pytest.raises(ValueError, match=rf"x: 12.50 {currency} cannot be sent to PayPal exactly"):
            vendor_decimal(1250, currency, PAYPAL, "x")
    assert vendor_minor(1372, "ISK", SQUARE, "x") == 1372 and vendor_minor(49, "KWD", SQUARE, "x") == 49

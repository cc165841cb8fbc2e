"""Every money string in a rating answer has exactly its format's digits: invoice amounts the currency's
minor unit ("0.00", never "0"; "3.15", never "3.150"; "482" for JPY), OCPI amounts 4 decimals."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from connector.models import Adjustment, Customer, Session, Tariff
from connector.money import major_str, minor_units, money_str, ocpi_str
from connector.rating import RatingOptions, rate

INVOICE_MONEY = {"net", "tax", "gross", "amount", "taxable_base", "net_total", "tax_total", "gross_total",
                 "incentive_total", "amount_due"}
OCPI_MONEY = {"excl_vat", "incl_vat", "cost_excl_vat", "cost_incl_vat"}


def digits(text: str) -> int:
    assert re.fullmatch(r"-?\d+(\.\d+)?", text), text
    return len(text.split(".")[1]) if "." in text else 0


def money_strings(node: Any, keys: set[str], path: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k in keys and isinstance(v, str):
                found.append((f"{path}.{k}", v))
            found += money_strings(v, keys, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += money_strings(v, keys, f"{path}[{i}]")
    return found


@pytest.mark.parametrize("currency", ["EUR", "JPY", "KWD"])
@pytest.mark.parametrize("case", ["plain", "exempt", "adjusted", "free"])
def test_every_money_string_has_its_digits(currency: str, case: str) -> None:
    price = "0.315" if currency != "JPY" else "31.5"
    tariff = Tariff.model_validate({"id": "T", "currency": currency, "elements": [{"price_components": [
        {"type": "ENERGY", "price": price, "vat": "20", "step_size": 1},
        {"type": "FLAT", "price": "0", "vat": "20", "step_size": 1}]}]})
    session = Session(id="s", start="2026-01-13T10:00:00Z", end="2026-01-13T11:00:00Z",
                      energy_kwh="0" if case == "free" else "10")
    customer = Customer(id="c", tax_exempt=True) if case == "exempt" else None
    adjustments = (Adjustment(kind="discount_percent", name="Member", value="10"),
                   Adjustment(kind="incentive_per_kwh", name="Credit", value="0.01")) if case == "adjusted" else ()
    answer = rate(session, tariff, customer, RatingOptions(adjustments=adjustments)).to_dict()
    invoice = money_strings(answer["invoice"], INVOICE_MONEY, "invoice")
    assert invoice and all(digits(v) == minor_units(currency) for _, v in invoice), invoice
    assert not any(v.startswith("-0") and Decimal(v) == 0 for _, v in invoice), invoice
    ocpi = money_strings({k: v for k, v in answer.items() if k != "invoice"}, OCPI_MONEY)
    assert ocpi and all(digits(v) == 4 for _, v in ocpi), ocpi


def test_the_strings_seen_in_the_issue() -> None:
    tariff = Tariff.model_validate({"id": "T", "currency": "EUR", "elements": [{"price_components": [
        {"type": "ENERGY", "price": "0.315", "step_size": 1}]}]})
    answer = rate(Session(id="s", start="2026-01-13T10:00:00Z", end="2026-01-13T11:00:00Z", energy_kwh="10"),
                  tariff).to_dict()
    assert answer["lines"][0]["cost_excl_vat"] == "3.1500"  # was "3.150"
    inv = answer["invoice"]
    assert (inv["lines"][0]["net"], inv["tax_total"], inv["incentive_total"]) == ("3.15", "0.00", "0.00")  # were "0"


def test_money_text_helpers() -> None:
    assert (money_str(Decimal(0), "EUR"), money_str(Decimal("-0.00"), "EUR"), money_str(Decimal("3.150"), "EUR")) == (
        "0.00", "0.00", "3.15")
    assert (money_str(Decimal("482"), "JPY"), money_str(Decimal("1.1"), "KWD")) == ("482", "1.100")
    assert (ocpi_str(Decimal("5")), ocpi_str(Decimal("-0"))) == ("5.0000", "0.0000")
    assert (major_str(0, "EUR"), major_str(-5, "EUR"), major_str(1234, "JPY")) == ("0.00", "-0.05", "1234")

"""Billing prints Invoice JSON money as decimal strings with the currency's digits ("9.13"); its earlier form
was integer minor units ("913"). Every finance adapter builds identical vendor bodies from both."""

from __future__ import annotations

from typing import Any

import pytest

from connector.platforms import paypal, plaid, quickbooks, square, stripe, xero

from .conftest import billed_event, incentive

TAX = [{"name": "State sales tax", "rate": "6.25"}]
BUILDERS: dict[str, Any] = {
    "stripe": lambda e: stripe.build_items(e, stripe.StripeConfig(api_key="k", customer_map={"C-1": "cus_1"}), "in_1"),
    "paypal": lambda e: paypal.build_invoice(e, paypal.PayPalConfig(client_id="c", client_secret="s",
                                                                    invoicer_email="b@x.example")),
    "square": lambda e: square.build_order(e, square.SquareConfig(access_token="t", location_id="L1")),
    "xero": lambda e: xero.build_invoices(e, xero.XeroConfig(client_id="c", client_secret="s", refresh_token="r",
                                                             xero_tenant_id="o")),
    "quickbooks": lambda e: quickbooks.build_journal_entry(e, quickbooks.QuickBooksConfig(
        realm_id="1", client_id="c", client_secret="s", refresh_token="r", receivable_account="84",
        default_tax_account="90", incentive_account="85", customer_map={"C-1": "58"})),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("kw", [{}, {"currency": "JPY", "flat": "100", "energy_price": "45"},
                                {"adjustments": incentive()}], ids=["EUR", "JPY", "discounts"])
def test_decimal_and_minor_forms_build_the_same_bodies(name: str, kw: dict[str, Any]) -> None:
    decimal, minor = billed_event(**kw), billed_event(money="minor", **kw)
    if kw.get("currency") != "JPY":
        assert decimal["data"]["invoice"]["amount_due"] != minor["data"]["invoice"]["amount_due"]  # really two forms
    assert BUILDERS[name](decimal) == BUILDERS[name](minor)


def test_plaid_amount_from_both_forms() -> None:
    cfg = plaid.PlaidConfig(client_id="c", secret="s", accounts={
        "C-1": plaid.PlaidAccount(access_token="a", account_id="b", legal_name="Jane")})
    forms = [plaid.build_authorization(billed_event("USD", money=m, x_taxes=TAX), cfg)["amount"] for m in
             ("decimal", "minor")]
    assert forms == ["10.76", "10.76"]

"""Receipts: exact money from the rating core, formatted per locale and currency (JPY 0, KWD 3 decimals)."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from connector.receipts import ReceiptDataError, format_money, render_receipt
from tests.platforms.events import billed_event


def test_eur_de_receipt_shows_the_core_totals_in_german_format() -> None:
    inv = billed_event("EUR", "de_DE")["data"]["invoice"]
    # 1.00 flat + 23.4 kWh x 0.39 = 9.126 -> 9.13; VAT 19 % on 10.13 = 1.9247 -> 1.92
    assert (inv["net_total"], inv["tax_total"], inv["amount_due"]) == ("10.13", "1.92", "12.05")
    r = render_receipt(inv)
    assert r.subject == "EV Charge Billing: Ladebeleg INV-0001 (12,05\xa0€)"
    assert "Zu zahlen: 12,05\xa0€" in r.text
    assert "VAT 19\xa0% auf 10,13\xa0€: 1,92\xa0€" in r.text
    assert 'data-total="amount_due" data-amount="12.05"' in r.html
    assert r.to_email == "jane@example.com" and r.locale == "de_DE"


def test_jpy_has_no_decimals_and_kwd_three() -> None:
    jpy = billed_event("JPY", "ja_JP", energy="23.4", energy_price="45", flat="100")["data"]["invoice"]
    # 100 + 23.4 x 45 = 1153 net; 19 % = 219.07 -> 219
    assert (jpy["net_total"], jpy["tax_total"], jpy["amount_due"]) == ("1153", "219", "1372")
    r = render_receipt(jpy)
    assert "お支払い金額: ￥1,372\n" in r.text and "1,372.00" not in r.text
    kwd = billed_event("KWD", "en_US", energy="23.4", energy_price="0.115", flat="0.250")["data"]["invoice"]
    # 0.250 + 2.691 = 2.941; 19 % = 0.55879 -> 0.559
    assert (kwd["net_total"], kwd["tax_total"], kwd["amount_due"]) == ("2.941", "0.559", "3.500")
    assert "Amount due: KWD\xa03.500" in render_receipt(kwd).text


def test_taxes_per_rate_each_listed_with_its_base() -> None:
    inv = billed_event("USD", "en_US", energy="23.4", energy_price="0.35", flat=None, vat=None, x_taxes=[
        {"name": "State sales tax", "rate": "6.25"}, {"name": "City tax", "rate": "2.25"}])["data"]["invoice"]
    assert [(t["name"], t["amount"]) for t in inv["taxes"]] == [("State sales tax", "0.51"), ("City tax", "0.18")]
    text = render_receipt(inv).text
    assert "State sales tax 6.25% on $8.19: $0.51" in text
    assert "City tax 2.25% on $8.19: $0.18" in text
    assert "Amount due: $8.88" in text


@pytest.mark.parametrize(("amount", "currency", "locale", "expected"), [
    ("1234.50", "EUR", "de_DE", "1.234,50\xa0€"), ("1234.50", "EUR", "fr_FR", "1\u202f234,50\xa0€"),
    ("1234", "JPY", "ja_JP", "￥1,234"), ("1234.500", "KWD", "en_US", "KWD\xa01,234.500"),
    ("-3.10", "USD", "en_US", "-$3.10"),
    ("5", "EUR", "xx_YY", "€5.00"),  # unknown locale falls back to en_US instead of crashing
])
def test_format_money(amount: str, currency: str, locale: str, expected: str) -> None:
    assert format_money(Decimal(amount), currency, locale) == expected


def test_format_money_swiss_grouping() -> None:
    # CLDR changed de_CH's group separator from U+2019 to an ASCII apostrophe (Babel 2.17 → 2.19): both are Swiss
    assert format_money(Decimal("1234.50"), "CHF", "de_CH") in ("CHF\xa01’234.50", "CHF\xa01'234.50")


def test_bad_invoice_names_the_field() -> None:
    inv = billed_event()["data"]["invoice"]
    broken = copy.deepcopy(inv)
    del broken["amount_due"]
    with pytest.raises(ReceiptDataError, match=r"invoice\.amount_due: required"):
        render_receipt(broken)
    broken = copy.deepcopy(inv)
    broken["lines"][1]["net"] = 9.13  # a float: money is never float
    with pytest.raises(ReceiptDataError, match=r"invoice\.lines\[1\]\.net: expected a decimal string, got float"):
        render_receipt(broken)
    broken = copy.deepcopy(inv)
    broken["taxes"][0]["amount"] = "1,92"
    with pytest.raises(ReceiptDataError, match=r"invoice\.taxes\[0\]\.amount: '1,92' is not a decimal"):
        render_receipt(broken)


def test_html_escapes_customer_data() -> None:
    inv = billed_event()["data"]["invoice"]
    inv["customer"]["name"] = "<script>alert(1)</script> & Co"
    html = render_receipt(inv).html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html


def test_credit_note_title_and_negative_amounts() -> None:
    inv = billed_event("EUR", "fr_FR")["data"]["invoice"]
    inv.update(kind="credit_note", number="CN-0001", net_total="-10.13", tax_total="-1.92", gross_total="-12.05",
               amount_due="-12.05")
    r = render_receipt(inv)
    assert r.subject == "EV Charge Billing: Avoir CN-0001 (-12,05\xa0€)"
    assert "Montant dû: -12,05\xa0€" in r.text

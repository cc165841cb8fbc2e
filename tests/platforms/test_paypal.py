"""PayPal Invoicing v2: bodies against the vendor schemas, and create + send against a local double."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from decimal import Decimal

import pytest

from connector.platforms.adapters import paypal
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.fakes.paypal import PayPalDouble, paypal_amounts
from tests.platforms.finance_events import billed_event, incentive, invoice_event
from tests.platforms.schemas import schema_errors
from tests.platforms.worker_model import retrying

CFG = paypal.PayPalConfig(client_id="cid", client_secret="csecret", invoicer_email="billing@evcharge.example",
                          invoicer_business_name="EV Charge GmbH")


@pytest.fixture
def double() -> Iterator[PayPalDouble]:
    d = PayPalDouble().start()
    yield d
    d.stop()


def amounts(body: dict) -> list[tuple[str, str]]:
    return [(i["name"], i["unit_amount"]["value"]) for i in body["items"]]


def test_eur_invoice_body_matches_schema_with_exact_amounts() -> None:
    body = paypal.build_invoice(billed_event(), CFG)
    assert schema_errors("paypal/invoices_create.schema.json", body) == []
    assert amounts(body) == [("Session fee @ 1.00 EUR/session", "1.00"), ("Energy @ 0.39 EUR/kWh", "9.13")]
    assert [i["tax"] for i in body["items"]] == [{"name": "VAT 19%", "percent": "19"}] * 2  # tax, not an item
    assert body["items"][1]["description"] == "23.4 kWh, session S-100, station ST-7"
    assert body["detail"] == {"currency_code": "EUR", "invoice_number": "EV-INV-0001", "reference": "inv_S-100",
                              "payment_term": {"term_type": "NET_30"}, "invoice_date": "2026-01-13"}
    assert body["primary_recipients"] == [{"billing_info": {"email_address": "jane@example.com",
                                                            "name": {"full_name": "Jane Driver"}}}]
    assert "amount" not in body
    assert paypal_amounts(body) == (Decimal("10.13"), 0, Decimal("1.92"), 0)  # what PayPal computes: ours
    send = paypal.build_send(billed_event(), CFG)
    assert schema_errors("paypal/invoices_send.schema.json", send) == []
    assert send["subject"] == "Your EV charging invoice INV-0001"
    broken = copy.deepcopy(body)
    broken["status"] = "DRAFT"  # readOnly: PayPal sets it
    assert schema_errors("paypal/invoices_create.schema.json", broken)
    broken = copy.deepcopy(body)
    broken["items"][0]["unit_amount"]["value"] = 1.0
    assert schema_errors("paypal/invoices_create.schema.json", broken)
    broken = copy.deepcopy(body)
    broken["items"][0]["tax"]["amount"] = {"currency_code": "EUR", "value": "0.19"}  # readOnly: PayPal computes it
    assert schema_errors("paypal/invoices_create.schema.json", broken)
    decimal_event = billed_event()
    decimal_event["data"]["invoice"]["lines"][0]["net"] = "1.005"  # more decimals than EUR has: never rounded
    with pytest.raises(ValueError, match=r"invoice.lines\[0\].net: 1.005 has more decimals than EUR allows"):
        paypal.build_invoice(decimal_event, CFG)


def test_jpy_huf_and_discounts_map_to_exact_values() -> None:
    jpy = paypal.build_invoice(billed_event("JPY", flat="100", energy_price="45"), CFG)
    assert schema_errors("paypal/invoices_create.schema.json", jpy) == []
    assert [v for _, v in amounts(jpy)] == ["100", "1053"]  # 0 decimals; amount_due "1372"
    assert paypal_amounts(jpy) == (1153, 0, 219, 0)
    huf = paypal.build_invoice(billed_event("HUF", flat="100", energy_price="45", vat="27"), CFG)
    assert [v for _, v in amounts(huf)] == ["100", "1053"]  # whole forint: PayPal takes HUF without decimals
    with pytest.raises(ValueError, match=r"invoice.lines\[1\].net: 1053.00 HUF cannot be sent to PayPal|"
                                         r"invoice.lines\[1\].net: 9.13 HUF cannot be sent to PayPal exactly"):
        paypal.build_invoice(billed_event("HUF"), CFG)  # 9.13 HUF: PayPal has no fillér
    adj = paypal.build_invoice(billed_event(adjustments=incentive()), CFG)
    assert schema_errors("paypal/invoices_create.schema.json", adj) == []
    assert [v for _, v in amounts(adj)] == ["1.00", "9.13"]
    # the 10 % discount (-1.01, with its VAT) is spread over the items before tax; the incentive (-1.17, after
    # tax) is the custom amount: PayPal's 10.13 - 1.01 + 1.73 - 1.17 = 9.68 = amount_due
    assert [i["discount"]["amount"]["value"] for i in adj["items"]] == ["0.10", "0.91"]
    assert adj["amount"]["breakdown"]["custom"] == {"label": "Incentives",
                                                    "amount": {"currency_code": "EUR", "value": "-1.17"}}
    assert paypal_amounts(adj) == (Decimal("10.13"), Decimal("1.01"), Decimal("1.73"), Decimal("-1.17"))


@pytest.mark.parametrize(("kw", "total", "tax"), [
    ({}, "12.05", "1.92"),
    ({"currency": "USD", "x_taxes": [{"name": "Sales tax", "rate": "7"}]}, "10.84", "0.71"),
    ({"adjustments": incentive()}, "9.68", "1.73"),
])
def test_paypals_books_equal_ours(double: PayPalDouble, kw: dict, total: str, tax: str) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url})
    event = billed_event(**kw)
    assert (event["data"]["invoice"]["amount_due"], event["data"]["invoice"]["tax_total"]) == (total, tax)
    paypal.deliver(event, cfg, DeliveryContext(OneShotHttp()))
    [inv] = double.invoices.values()
    assert (inv["status"], inv["total"], inv["tax"]) == ("UNPAID", Decimal(total), Decimal(tax))


def test_a_paypal_tax_that_is_not_ours_is_deleted_not_sent(double: PayPalDouble) -> None:
    """PayPal takes one tax per item: state 6.25 % + city 2.25 % is its 8.5 % of each item, rounded once
    (1.00 -> 0.09, 9.13 -> 0.78), ours is each tax rounded (0.06 + 0.02, 0.57 + 0.21): 0.87, not 0.86."""
    cfg = CFG.model_copy(update={"api_base": double.url})
    event = billed_event("USD", x_taxes=[{"name": "State sales tax", "rate": "6.25"},
                                         {"name": "City sales tax", "rate": "2.25"}])
    assert event["data"]["invoice"]["tax_total"] == "0.86"
    with pytest.raises(PermanentError, match=r"totals 11.00 with tax 0.87 USD, ours is 10.99 with tax 0.86: the "
                                             "draft was deleted, nothing was sent"):
        paypal.deliver(event, cfg, DeliveryContext(OneShotHttp()))
    assert double.invoices == {} and double.mails == [] and len(double.deleted) == 1


def test_missing_email_and_skips() -> None:
    event = billed_event()
    event["data"]["invoice"]["customer"]["email"] = None
    with pytest.raises(ValueError, match="invoice.customer.email: required"):
        paypal.build_invoice(event, CFG)
    assert paypal.skip_reason(billed_event(status="draft", number=None)) is not None
    assert paypal.idempotency_key(billed_event(), CFG) == paypal.idempotency_key(invoice_event(), CFG)
    assert "csecret" not in repr(CFG)


def test_end_to_end_retries_lost_answers_and_no_duplicates(double: PayPalDouble) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url})
    event = billed_event()
    double.fail("/v2/invoicing/invoices", 429, retry_after="2")
    double.lose("/v2/invoicing/invoices", 1)  # created at PayPal, but our side sees a 500
    double.fail("/v2/invoicing/search-invoices", 500)
    http = OneShotHttp()
    result, waits = retrying(lambda: paypal.deliver(event, cfg, DeliveryContext(http)))
    assert waits == [None, 2.0, None]  # search 500, create 429, create answer lost
    [inv] = double.invoices.values()
    assert result == {"status": "sent", "ref": inv["id"], "invoice_number": "EV-INV-0001",
                      "paypal_status": "SENT", "found_existing": True}
    assert inv["status"] == "UNPAID" and inv["total"] == Decimal("12.05") and len(double.mails) == 1
    assert double.mails[0][1] == {"subject": "Your EV charging invoice INV-0001", "send_to_recipient": True,
                                  "send_to_invoicer": False}
    assert double.token_requests == 1
    token_call = double.calls("/v1/oauth2/token")[0]
    assert token_call["body"] == {"grant_type": "client_credentials"}
    assert token_call["headers"]["Authorization"].startswith("Basic ")
    for call in double.calls("/v2/"):
        assert call["headers"]["Authorization"] == "Bearer at-1"
    creates = double.calls("/v2/invoicing/invoices", "POST")
    assert [c["path"] for c in creates] == ["/v2/invoicing/invoices"] * 2 + [f"/v2/invoicing/invoices/{inv['id']}/send"]
    assert creates[1]["headers"]["Prefer"] == "return=representation"
    # redelivery (restart / invoice.finalized of the same invoice): found by number, not sent twice
    again = paypal.deliver(invoice_event(), cfg, DeliveryContext(OneShotHttp()))
    assert again["found_existing"] and again["paypal_status"] == "UNPAID" and len(double.invoices) == 1
    assert len(double.mails) == 1


def test_bad_credentials_are_permanent(double: PayPalDouble) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url, "client_secret": "nope"})
    with pytest.raises(PermanentError, match="invalid_client"):
        paypal.deliver(billed_event(), cfg, DeliveryContext(OneShotHttp()))
    assert double.invoices == {}

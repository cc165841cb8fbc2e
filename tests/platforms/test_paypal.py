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
from tests.platforms.fakes.paypal import PayPalDouble
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
    assert amounts(body) == [("Session fee @ 1.00 EUR/session", "1.00"), ("Energy @ 0.39 EUR/kWh", "9.13"),
                             ("VAT 19%", "1.92")]
    assert body["items"][1]["description"] == "23.4 kWh, session S-100, station ST-7"
    assert body["detail"] == {"currency_code": "EUR", "invoice_number": "EV-INV-0001", "reference": "inv_S-100",
                              "payment_term": {"term_type": "NET_30"}, "invoice_date": "2026-01-13"}
    assert body["primary_recipients"] == [{"billing_info": {"email_address": "jane@example.com",
                                                            "name": {"full_name": "Jane Driver"}}}]
    assert "amount" not in body
    assert sum(Decimal(v) for _, v in amounts(body)) == Decimal("12.05")
    send = paypal.build_send(billed_event(), CFG)
    assert schema_errors("paypal/invoices_send.schema.json", send) == []
    assert send["subject"] == "Your EV charging invoice INV-0001"
    broken = copy.deepcopy(body)
    broken["status"] = "DRAFT"  # readOnly: PayPal sets it
    assert schema_errors("paypal/invoices_create.schema.json", broken)
    broken = copy.deepcopy(body)
    broken["items"][0]["unit_amount"]["value"] = 1.0
    assert schema_errors("paypal/invoices_create.schema.json", broken)
    decimal_event = billed_event()
    decimal_event["data"]["invoice"]["lines"][0]["net"] = "1.005"  # more decimals than EUR has: never rounded
    with pytest.raises(ValueError, match=r"invoice.lines\[0\].net: 1.005 has more decimals than EUR allows"):
        paypal.build_invoice(decimal_event, CFG)


def test_jpy_and_discounts_map_to_exact_values() -> None:
    jpy = paypal.build_invoice(billed_event("JPY", flat="100", energy_price="45"), CFG)
    assert schema_errors("paypal/invoices_create.schema.json", jpy) == []
    assert [v for _, v in amounts(jpy)] == ["100", "1053", "219"]  # 0 decimals; amount_due "1372"
    adj = paypal.build_invoice(billed_event(adjustments=incentive()), CFG)
    assert schema_errors("paypal/invoices_create.schema.json", adj) == []
    assert [v for _, v in amounts(adj)] == ["1.00", "9.13", "1.73"]
    # discount -1.01 and incentive -1.17 are the invoice discount: 11.86 - 2.18 = 9.68 = amount_due
    assert adj["amount"]["breakdown"]["discount"]["invoice_discount"]["amount"] == {"currency_code": "EUR",
                                                                                   "value": "2.18"}


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

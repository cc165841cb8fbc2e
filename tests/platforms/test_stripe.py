"""Stripe: bodies against the vendor schemas, and the whole flow against a local Stripe double."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from connector.platforms.adapters import stripe
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.fakes.stripe import StripeDouble, unflatten
from tests.platforms.finance_events import billed_event, incentive, invoice_event
from tests.platforms.schemas import schema_errors
from tests.platforms.worker_model import retrying

CFG = stripe.StripeConfig(api_key="sk_test_123", customer_map={"C-1": "cus_EVdriver001"})


@pytest.fixture
def double() -> Iterator[StripeDouble]:
    d = StripeDouble().start()
    yield d
    d.stop()


def test_invoice_and_item_bodies_match_the_schemas_with_exact_minor_units() -> None:
    event = billed_event()
    inv = stripe.build_invoice(event, CFG)
    assert schema_errors("stripe/invoices_create.schema.json", inv) == []
    assert (inv["customer"], inv["currency"], inv["pending_invoice_items_behavior"]) == ("cus_EVdriver001", "eur",
                                                                                        "exclude")
    items = stripe.build_items(event, CFG, "in_1")
    for _, body in items:
        assert schema_errors("stripe/invoiceitems_create.schema.json", body) == []
    assert [(step, b["amount"], b["description"]) for step, b in items] == [
        ("item:L1", 100, "Session fee @ 1.00 EUR/session - session S-100"),
        ("item:L2", 913, "Energy @ 0.39 EUR/kWh (23.4 kWh) - session S-100"),
        ("tax:0", 192, "VAT 19%")]
    assert sum(b["amount"] for _, b in items) == 1205  # amount_due "12.05"
    assert schema_errors("stripe/invoices_finalize.schema.json", stripe.build_finalize()) == []
    assert schema_errors("stripe/invoices_send.schema.json", {}) == []
    broken = copy.deepcopy(items[0][1])
    broken["amount"] = "1.00"
    assert schema_errors("stripe/invoiceitems_create.schema.json", broken)
    broken = copy.deepcopy(items[0][1])
    broken["price"] = "price_1"  # no top-level price in the current API
    assert schema_errors("stripe/invoiceitems_create.schema.json", broken)


def test_zero_decimal_currency_and_negative_lines() -> None:
    jpy = stripe.build_items(billed_event("JPY", flat="100", energy_price="45"), CFG, "in_1")
    assert [b["amount"] for _, b in jpy] == [100, 1053, 219]  # JPY has 0 decimals: lines "100", "1053", VAT "219"
    assert sum(b["amount"] for _, b in jpy) == 1372  # amount_due "1372"
    adj = stripe.build_items(billed_event(adjustments=incentive()), CFG, "in_1")
    assert [(s, b["amount"]) for s, b in adj] == [("item:L1", 100), ("item:L2", 913), ("item:L3", -101),
                                                  ("item:L4", -117), ("tax:0", 173)]
    assert sum(b["amount"] for _, b in adj) == 968  # amount_due "9.68" (incentive after tax)
    kwd = stripe.build_items(billed_event("KWD", energy="0.125", flat=None), CFG, "in_1")
    assert [b["amount"] for _, b in kwd] == [49, 9]  # 0.049 and 0.009 KWD (3 decimals)


def test_tax_rates_mode_and_mapping_errors() -> None:
    cfg = CFG.model_copy(update={"tax_mode": "tax_rates", "tax_rate_ids": {"VAT:19": "txr_vat19"}})
    items = stripe.build_items(billed_event(), cfg, "in_1")
    assert [b.get("tax_rates") for _, b in items] == [["txr_vat19"], ["txr_vat19"]]
    with pytest.raises(ValueError, match=r"invoice.lines\[0\].taxes: no Stripe tax rate configured for 'VAT:19'"):
        stripe.build_items(billed_event(), cfg.model_copy(update={"tax_rate_ids": {}}), "in_1")
    with pytest.raises(ValueError, match="invoice.customer.id: 'C-9' has no Stripe customer"):
        stripe.build_invoice(billed_event(customer_id="C-9"), CFG)
    assert stripe.build_invoice(billed_event(customer_id="cus_direct"), CFG)["customer"] == "cus_direct"
    with pytest.raises(ValueError, match=r"net: 10.055 has more decimals than EUR allows"):
        stripe.minor("10.055", "EUR", "net")
    with pytest.raises(ValueError, match=r"net: expected a decimal amount, got 9.13"):
        stripe.minor(9.13, "EUR", "net")  # a float is never money
    assert stripe.minor("-1.17", "EUR", "net") == -117 and stripe.minor("5", "EUR", "net") == 500  # "5" is 5 EUR
    assert stripe.minor("0.049", "KWD", "net") == 49 and stripe.minor("1372", "JPY", "net") == 1372
    assert "sk_test_123" not in repr(CFG)


def test_form_encoding_is_stripes_deep_object_style() -> None:
    body = {"customer": "cus_1", "amount": -101, "auto_advance": False, "metadata": {"session_id": "S-1"},
            "tax_rates": ["txr_a", "txr_b"], "skip": None}
    pairs = stripe.form_encode(body)
    assert pairs == [("customer", "cus_1"), ("amount", "-101"), ("auto_advance", "false"),
                     ("metadata[session_id]", "S-1"), ("tax_rates[0]", "txr_a"), ("tax_rates[1]", "txr_b")]
    assert unflatten(pairs)["metadata"] == {"session_id": "S-1"}


def test_skips_drafts_and_credit_notes_and_keys_per_invoice() -> None:
    assert "goes to Stripe when finalized" in str(stripe.skip_reason(billed_event(status="draft", number=None)))
    credit = invoice_event("credit_note.issued")
    credit["data"]["invoice"]["kind"] = "credit_note"
    assert stripe.skip_reason(credit) is None  # credit notes go to Stripe on credit_note.issued
    on_finalized = dict(credit, type="invoice.finalized")  # ...and only there
    assert "credit_note.issued only" in str(stripe.skip_reason(on_finalized))
    assert stripe.idempotency_key(billed_event(), CFG) == stripe.idempotency_key(invoice_event(), CFG) == \
        "stripe:evbill:t1:inv_S-100"
    # a skipped draft never shares the invoice's key (the worker would take it for the invoice's delivery)
    assert stripe.idempotency_key(billed_event(status="draft", number=None), CFG) == "stripe:skip:t1:evt_S-100"


def test_end_to_end_with_429_and_500_and_no_duplicates(double: StripeDouble) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url, "stripe_version": "2026-10-28.endive"})
    event = billed_event()
    double.fail("/v1/invoices", 429, retry_after="3")
    double.fail("/v1/invoiceitems", 500)
    double.fail("/v1/invoices/", 500)  # hits the finalize (invoice create already consumed its 429)
    http = OneShotHttp()
    result, waits = retrying(lambda: stripe.deliver(event, cfg, DeliveryContext(http)))
    assert waits == [3.0, None, None]
    assert result["status"] == "sent" and result["amount_due"] == 1205 and result["number"] == "EVB-0001"
    assert len(double.invoices) == 1 and len(double.items) == 3
    [inv] = double.invoices.values()
    assert inv["status"] == "open" and inv["sent"] == 1 and result["ref"] == inv["id"]
    posts = [(c["method"], c["path"]) for c in double.requests]
    assert posts[-2:] == [("POST", f"/v1/invoices/{inv['id']}/finalize"), ("POST", f"/v1/invoices/{inv['id']}/send")]
    for call in double.requests:
        assert call["headers"]["Authorization"] == "Bearer sk_test_123"
        assert call["headers"]["Stripe-Version"] == "2026-10-28.endive"
        if not call["path"].endswith("/send"):  # send has no parameters, so no body
            assert call["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    keys = [c["headers"]["Idempotency-Key"] for c in double.requests]
    assert sorted(set(keys)) == ["evbill:t1:inv_S-100:finalize", "evbill:t1:inv_S-100:invoice",
                                 "evbill:t1:inv_S-100:item:L1", "evbill:t1:inv_S-100:item:L2",
                                 "evbill:t1:inv_S-100:send", "evbill:t1:inv_S-100:tax:0"]
    first_item = double.calls("/v1/invoiceitems")[1]["body"]  # [0] was the scripted 500
    assert first_item["amount"] == "100" and first_item["metadata[session_id]"] == "S-100"
    assert first_item["invoice"] == inv["id"] and first_item["currency"] == "eur"
    # the whole event delivered again (worker restart, or invoice.finalized of the same invoice): replays only
    again, _ = retrying(lambda: stripe.deliver(invoice_event(), cfg, DeliveryContext(OneShotHttp())))
    assert again["ref"] == result["ref"] and len(double.invoices) == 1 and len(double.items) == 3
    assert inv["sent"] == 1


def test_bad_key_is_permanent(double: StripeDouble) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url, "api_key": "sk_test_wrong"})
    http = OneShotHttp()
    with pytest.raises(PermanentError, match="401"):
        stripe.deliver(billed_event(), cfg, DeliveryContext(http))
    assert http.attempts == 1 and double.invoices == {}
    with pytest.raises(PermanentError, match="no Stripe customer"):
        stripe.deliver(billed_event(customer_id="C-9"), cfg, DeliveryContext(http))
    assert stripe.deliver(billed_event(status="draft"), cfg, DeliveryContext(http))["status"] == "skipped"

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
ITEMS = CFG.model_copy(update={"tax_mode": "items"})  # the explicit option: tax totals as items
RATES = {"VAT:19": "txr_vat19"}


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
    items = stripe.build_items(event, ITEMS, "in_1")
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
    jpy = stripe.build_items(billed_event("JPY", flat="100", energy_price="45"), ITEMS, "in_1")
    assert [b["amount"] for _, b in jpy] == [100, 1053, 219]  # JPY has 0 decimals: lines "100", "1053", VAT "219"
    assert sum(b["amount"] for _, b in jpy) == 1372  # amount_due "1372"
    adj = stripe.build_items(billed_event(adjustments=incentive()), ITEMS, "in_1")
    assert [(s, b["amount"]) for s, b in adj] == [("item:L1", 100), ("item:L2", 913), ("item:L3", -101),
                                                  ("item:L4", -117), ("tax:0", 173)]
    assert sum(b["amount"] for _, b in adj) == 968  # amount_due "9.68" (incentive after tax)
    kwd = stripe.build_items(billed_event("KWD", energy="2.5", flat="0.200", energy_price="0.400", vat="10"),
                             ITEMS, "in_1")
    assert [b["amount"] for _, b in kwd] == [200, 1000, 120]  # 0.200, 1.000, VAT 0.120 KWD: 3 decimals ending in 0


def test_isk_reaches_stripe_in_its_two_decimal_units() -> None:
    """1372 kr is 137200 for Stripe (ISK is two-decimal in Stripe's API); sent as 1372 Stripe books 13.72 kr."""
    event = billed_event("ISK", flat="100", energy_price="45")
    assert event["data"]["invoice"]["amount_due"] == "1372"
    items = stripe.build_items(event, CFG, "in_1", RATES)
    assert [b["amount"] for _, b in items] == [10000, 105300]
    assert stripe.minor("1372", "ISK", "invoice.amount_due") == 137200
    assert stripe.minor("1372", "UGX", "x") == 137200 and stripe.minor("1372", "JPY", "x") == 1372
    assert stripe.minor("12.05", "HUF", "x") == 1205 and stripe.minor("0.120", "BHD", "x") == 120


@pytest.mark.parametrize("currency", ["KWD", "BHD", "JOD", "OMR", "TND"])
def test_three_decimal_amounts_not_ending_in_zero_are_refused_not_rounded(currency: str) -> None:
    event = billed_event(currency, energy="0.125", flat=None)  # 0.049 net, 0.009 VAT
    with pytest.raises(ValueError, match=rf"invoice.lines\[0\].net: 0.049 {currency} cannot be sent to Stripe "
                                         r"exactly .*steps of 0.010.*refusing to round"):
        stripe.build_items(event, CFG, "in_1", RATES)


def test_tax_amounts_are_the_default_and_carry_our_amounts() -> None:
    assert CFG.tax_mode == "tax_amounts"
    items = stripe.build_items(billed_event(), CFG, "in_1")
    assert [(b["amount"], b.get("tax_rates")) for _, b in items] == [(100, None), (913, None)]
    taxes = stripe.build_line_taxes(billed_event(), CFG)
    vat = {"display_name": "VAT", "inclusive": False, "percentage": "19", "tax_type": "vat"}
    assert taxes == {"L1": {"tax_amounts": [{"amount": 19, "taxable_amount": 100, "tax_rate_data": vat}]},
                     "L2": {"tax_amounts": [{"amount": 173, "taxable_amount": 913, "tax_rate_data": vat}]}}
    pairs = stripe.form_encode(taxes["L2"])
    assert ("tax_amounts[0][tax_rate_data][percentage]", "19") in pairs and ("tax_amounts[0][amount]", "173") in pairs


def test_tax_rates_mode_and_mapping_errors() -> None:
    cfg = CFG.model_copy(update={"tax_mode": "tax_rates", "tax_rate_ids": {"VAT:19": "txr_vat19"}})
    items = stripe.build_items(billed_event(), cfg, "in_1")
    assert [b.get("tax_rates") for _, b in items] == [["txr_vat19"], ["txr_vat19"]]
    assert [b["amount"] for _, b in items] == [100, 913]  # no tax item: tax is Stripe's own tax
    with pytest.raises(ValueError, match=r"invoice.lines\[0\].taxes: no Stripe tax rate configured for 'VAT:19'"):
        stripe.build_items(billed_event(), cfg, "in_1", {})
    body = stripe.build_tax_rate("VAT:19", CFG.model_copy(update={"tax_jurisdiction": "DE"}))
    assert schema_errors("stripe/tax_rates_create.schema.json", {**body, "percentage": float(body["percentage"])}) == []
    assert body == {"display_name": "VAT", "percentage": "19", "inclusive": False, "tax_type": "vat",
                    "description": "VAT 19% (EV charging)", "metadata": {"evbill_tax": "VAT:19"}, "jurisdiction": "DE"}
    with pytest.raises(ValueError, match="invoice.customer.id: 'C-9' has no Stripe customer"):
        stripe.build_invoice(billed_event(customer_id="C-9"), CFG)
    assert stripe.build_invoice(billed_event(customer_id="cus_direct"), CFG)["customer"] == "cus_direct"
    with pytest.raises(ValueError, match=r"net: 10.055 has more decimals than EUR allows"):
        stripe.minor("10.055", "EUR", "net")
    with pytest.raises(ValueError, match=r"net: expected a decimal amount, got 9.13"):
        stripe.minor(9.13, "EUR", "net")  # a float is never money
    assert stripe.minor("-1.17", "EUR", "net") == -117 and stripe.minor("5", "EUR", "net") == 500  # "5" is 5 EUR
    assert stripe.minor("0.040", "KWD", "net") == 40 and stripe.minor("1372", "JPY", "net") == 1372
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
    assert len(double.invoices) == 1 and len(double.items) == 2 and double.tax_rates == {}
    [inv] = double.invoices.values()
    # Stripe's books: revenue 10.13, tax 1.92 as tax (its own VAT 19% rate), receivable 12.05 = ours
    ours = event["data"]["invoice"]
    assert (double.revenue(inv), double.tax(inv), inv["amount_due"]) == (1013, 192, 1205)
    assert (ours["net_total"], ours["tax_total"], ours["amount_due"]) == ("10.13", "1.92", "12.05")
    assert [[(t["amount"], t["taxable_amount"], t["tax_rate_data"]["percentage"]) for t in i["tax_amounts"]]
            for i in double.items.values()] == [[("19", "100", "19")], [("173", "913", "19")]]
    assert inv["status"] == "open" and inv["sent"] == 1 and result["ref"] == inv["id"]
    posts = [(c["method"], c["path"]) for c in double.requests]
    assert posts[-2:] == [("POST", f"/v1/invoices/{inv['id']}/finalize"), ("POST", f"/v1/invoices/{inv['id']}/send")]
    for call in double.requests:
        assert call["headers"]["Authorization"] == "Bearer sk_test_123"
        assert call["headers"]["Stripe-Version"] == "2026-10-28.endive"
        if call["method"] == "POST" and not call["path"].endswith("/send"):  # send has no parameters: no body
            assert call["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    keys = [c["headers"].get("Idempotency-Key", "") for c in double.requests]
    keys = [k for k in keys if k]  # GETs carry none
    assert sorted(set(keys)) == ["evbill:t1:inv_S-100:finalize", "evbill:t1:inv_S-100:invoice",
                                 "evbill:t1:inv_S-100:item:L1", "evbill:t1:inv_S-100:item:L2",
                                 "evbill:t1:inv_S-100:line_tax:L1", "evbill:t1:inv_S-100:line_tax:L2",
                                 "evbill:t1:inv_S-100:send"]
    first_item = double.calls("/v1/invoiceitems")[1]["body"]  # [0] was the scripted 500
    assert first_item["amount"] == "100" and first_item["metadata[session_id]"] == "S-100"
    assert first_item["invoice"] == inv["id"] and first_item["currency"] == "eur"
    # the whole event delivered again (worker restart, or invoice.finalized of the same invoice): replays only
    again, _ = retrying(lambda: stripe.deliver(invoice_event(), cfg, DeliveryContext(OneShotHttp())))
    assert again["ref"] == result["ref"] and len(double.invoices) == 1 and len(double.items) == 2
    assert inv["sent"] == 1


def test_tax_rates_mode_creates_the_rate_once_and_stripe_computes_the_tax(double: StripeDouble) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url, "tax_mode": "tax_rates"})
    assert stripe.deliver(billed_event(), cfg, DeliveryContext(OneShotHttp()))["amount_due"] == 1205
    [rate] = double.tax_rates.values()
    assert (rate["display_name"], rate["percentage_text"], rate["inclusive"]) == ("VAT", "19", False)
    [inv] = double.invoices.values()
    assert (double.revenue(inv), double.tax(inv)) == (1013, 192)
    stripe.deliver(billed_event(sid="S-101", number="INV-0002"), cfg, DeliveryContext(OneShotHttp()))
    assert len(double.tax_rates) == 1  # found again by metadata[evbill_tax], not made twice


def test_a_stripe_total_that_differs_from_ours_is_not_finalized(double: StripeDouble) -> None:
    """Stripe recomputes tax per item: a mapping to a wrong rate leaves the draft unfinalized and says why."""
    cfg = CFG.model_copy(update={"api_base": double.url, "tax_rate_ids": {"VAT:19": "txr_wrong"},
                                 "tax_mode": "tax_rates"})
    double.tax_rates["txr_wrong"] = {"id": "txr_wrong", "percentage_text": "20", "active": True}
    with pytest.raises(PermanentError, match=r"totals 1216 with tax 203 .*ours is 1205 with tax 192: left as a "
                                             "draft"):
        stripe.deliver(billed_event(), cfg, DeliveryContext(OneShotHttp()))
    [inv] = double.invoices.values()
    assert inv["status"] == "draft" and inv["sent"] == 0


def test_items_mode_books_tax_as_revenue_in_stripe(double: StripeDouble) -> None:
    """The explicit ``items`` option: the total still matches, but Stripe's tax is 0 (why it is not the default)."""
    cfg = ITEMS.model_copy(update={"api_base": double.url})
    assert stripe.deliver(billed_event(), cfg, DeliveryContext(OneShotHttp()))["amount_due"] == 1205
    [inv] = double.invoices.values()
    assert (double.revenue(inv), double.tax(inv)) == (1205, 0)


def test_isk_invoice_reaches_the_stripe_double_in_whole_kronur(double: StripeDouble) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url})
    event = billed_event("ISK", flat="100", energy_price="45", vat=None)
    assert event["data"]["invoice"]["amount_due"] == "1153"
    result = stripe.deliver(event, cfg, DeliveryContext(OneShotHttp()))
    [inv] = double.invoices.values()
    assert result["amount_due"] == inv["amount_due"] == 115300  # 1153.00 kr in Stripe's two-decimal ISK
    assert sorted(int(i["amount"]) for i in double.items.values()) == [10000, 105300]


def test_isk_with_vat_keeps_our_whole_kronur_of_tax(double: StripeDouble) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url})
    stripe.deliver(billed_event("ISK", flat="100", energy_price="45"), cfg, DeliveryContext(OneShotHttp()))
    [inv] = double.invoices.values()
    assert (double.revenue(inv), double.tax(inv), inv["amount_due"]) == (115300, 21900, 137200)  # 1153 + 219 kr


def test_isk_with_stripe_computed_tax_that_splits_kronur_is_flagged(double: StripeDouble) -> None:
    """tax_rates mode: Stripe's tax on 1053 kr at 19% is 200.07 kr, not ours (200): never sent silently."""
    cfg = CFG.model_copy(update={"api_base": double.url, "tax_mode": "tax_rates"})
    with pytest.raises(PermanentError, match="totals 137207 with tax 21907 .*ours is 137200 with tax 21900"):
        stripe.deliver(billed_event("ISK", flat="100", energy_price="45"), cfg, DeliveryContext(OneShotHttp()))
    assert [i["status"] for i in double.invoices.values()] == ["draft"]


def test_bad_key_is_permanent(double: StripeDouble) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url, "api_key": "sk_test_wrong"})
    http = OneShotHttp()
    with pytest.raises(PermanentError, match="401"):
        stripe.deliver(billed_event(), cfg, DeliveryContext(http))
    assert http.attempts == 1 and double.invoices == {}
    with pytest.raises(PermanentError, match="no Stripe customer"):
        stripe.deliver(billed_event(customer_id="C-9"), cfg, DeliveryContext(http))
    assert stripe.deliver(billed_event(status="draft"), cfg, DeliveryContext(http))["status"] == "skipped"

"""The Stripe double enforces Stripe's published request schemas (../shared/vendor-specs/stripe) on every POST
that has one, refusing a violation the way Stripe does; and the adapter's correction bodies conform to them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from connector.platforms.adapters import stripe
from tests.platforms.fakes.stripe import StripeDouble, form_by_schema
from tests.platforms.finance_events import billed_event, incentive
from tests.platforms.schemas import schema_errors, validator
from tests.platforms.test_stripe_corrections import credit_note_of

AUTH = {"Authorization": "Bearer sk_test_123"}
CFG = stripe.StripeConfig(api_key="sk_test_123", customer_map={"C-1": "cus_EVdriver001"})


@pytest.fixture
def double() -> Iterator[StripeDouble]:
    d = StripeDouble().start()
    yield d
    d.stop()


def post(double: StripeDouble, path: str, body: dict[str, Any], key: str | None = None) -> requests.Response:
    headers = {**AUTH, **({"Idempotency-Key": key} if key else {})}
    return requests.post(double.url + path, data=stripe.form_encode(body), headers=headers, timeout=5)


def draft(double: StripeDouble, amount: int = 1000) -> str:
    iid = str(post(double, "/v1/invoices", {"customer": "cus_1", "currency": "eur"}).json()["id"])
    assert post(double, "/v1/invoiceitems", {"customer": "cus_1", "invoice": iid, "currency": "eur",
                                             "amount": amount}).status_code == 200
    return iid


def open_invoice(double: StripeDouble, amount: int = 1000) -> str:
    iid = draft(double, amount)
    assert post(double, f"/v1/invoices/{iid}/finalize", {"auto_advance": False}).status_code == 200
    return iid


def refused(resp: requests.Response, code: str | None, param: str) -> dict[str, Any]:
    """Stripe's refusal of a parameter: 400, ``invalid_request_error``, the code and the parameter named."""
    assert resp.status_code == 400, resp.text
    error = dict(resp.json()["error"])
    assert (error["type"], error.get("code"), error["param"]) == ("invalid_request_error", code, param)
    assert error["message"]
    return error


CREDIT_LINE = {"type": "custom_line_item", "quantity": 1, "unit_amount": 200, "description": "Credit: energy"}


def test_credit_note_without_invoice_is_refused_as_a_missing_param(double: StripeDouble) -> None:
    open_invoice(double)
    error = refused(post(double, "/v1/credit_notes", {"lines": [CREDIT_LINE]}), "parameter_missing", "invoice")
    assert error["message"] == "Missing required param: invoice."
    assert double.credit_notes == {}


def test_credit_note_line_tax_amount_needs_its_tax_rate(double: StripeDouble) -> None:
    iid = open_invoice(double)
    line = {**CREDIT_LINE, "tax_amounts": [{"amount": 38, "taxable_amount": 200}]}  # no txr_… named
    refused(post(double, "/v1/credit_notes", {"invoice": iid, "lines": [line]}), "parameter_missing",
            "lines[0][tax_amounts][0][tax_rate]")
    untyped = {k: v for k, v in CREDIT_LINE.items() if k != "type"}
    refused(post(double, "/v1/credit_notes", {"invoice": iid, "lines": [untyped]}), "parameter_missing",
            "lines[0][type]")
    assert double.credit_notes == {}
    ok = post(double, "/v1/credit_notes", {"invoice": iid, "memo": "2026", "metadata": {"credit_note_id": "7"},
                                           "lines": [{**line, "tax_amounts": [{**line["tax_amounts"][0],
                                                                               "tax_rate": "txr_1"}]}]})
    assert ok.status_code == 200, ok.text  # digits in a string parameter stay a string, as Stripe reads them
    assert ok.json()["total"] == 238


def test_credit_note_refusals_by_value(double: StripeDouble) -> None:
    iid = open_invoice(double)
    error = refused(post(double, "/v1/credit_notes", {"invoice": iid,
                                                      "lines": [{**CREDIT_LINE, "unit_amount": "2.00"}]}),
                    "parameter_invalid_integer", "lines[0][unit_amount]")
    assert error["message"] == "Invalid integer: 2.00"
    refused(post(double, "/v1/credit_notes", {"invoice": iid, "lines": [CREDIT_LINE], "reason": "typo"}),
            None, "reason")
    refused(post(double, "/v1/credit_notes", {"invoice": iid, "lines": [CREDIT_LINE], "refund": 1}),
            "parameter_unknown", "refund")
    nothing = post(double, "/v1/credit_notes", {"invoice": iid, "memo": "no amount"})
    assert nothing.status_code == 400 and "One of amount, lines or shipping_cost" in nothing.json()["error"]["message"]
    assert double.credit_notes == {}


def test_void_takes_only_expand(double: StripeDouble) -> None:
    """The void body has no required field (``expand`` only), so what can be wrong is a parameter too many."""
    iid = open_invoice(double)
    error = refused(post(double, f"/v1/invoices/{iid}/void", {"invoice": iid}), "parameter_unknown", "invoice")
    assert error["message"] == "Received unknown parameter: invoice"
    assert double.invoices[iid]["status"] == "open"
    assert post(double, f"/v1/invoices/{iid}/void", {"expand": ["lines"]}).status_code == 200  # vendor example
    assert double.invoices[iid]["status"] == "void"


def test_finalize_and_send_take_only_their_parameters(double: StripeDouble) -> None:
    iid = draft(double)
    refused(post(double, f"/v1/invoices/{iid}/finalize", {"auto_advance": False, "send": True}),
            "parameter_unknown", "send")
    refused(post(double, f"/v1/invoices/{iid}/finalize", {"auto_advance": "maybe"}), None, "auto_advance")
    assert double.invoices[iid]["status"] == "draft"
    assert post(double, f"/v1/invoices/{iid}/finalize", {"auto_advance": False}).status_code == 200
    refused(post(double, f"/v1/invoices/{iid}/send", {"send": True}), "parameter_unknown", "send")
    assert double.invoices[iid]["sent"] == 0
    assert post(double, f"/v1/invoices/{iid}/send", {}).status_code == 200
    assert double.invoices[iid]["sent"] == 1


def test_invoice_create_checks_nested_required_and_types(double: StripeDouble) -> None:
    base = {"customer": "cus_1", "currency": "eur"}
    refused(post(double, "/v1/invoices", {**base, "automatic_tax": {"liability": {"type": "self"}}}),
            "parameter_missing", "automatic_tax[enabled]")
    refused(post(double, "/v1/invoices", {**base, "days_until_due": "thirty"}), "parameter_invalid_integer",
            "days_until_due")
    refused(post(double, "/v1/invoices", {**base, "price": "price_1"}), "parameter_unknown", "price")
    assert double.invoices == {}


def test_tax_rate_and_item_refusals_name_the_param(double: StripeDouble) -> None:
    refused(post(double, "/v1/tax_rates", {"display_name": "VAT", "inclusive": False}), "parameter_missing",
            "percentage")
    iid = post(double, "/v1/invoices", {"customer": "cus_1", "currency": "eur"}).json()["id"]
    refused(post(double, "/v1/invoiceitems", {"customer": "cus_1", "invoice": iid, "amount": "1.00"}),
            "parameter_invalid_integer", "amount")
    assert double.tax_rates == {} and double.items == {}


def test_a_refused_body_is_not_kept_under_its_idempotency_key(double: StripeDouble) -> None:
    """Stripe saves no result for a request that failed validation: the corrected retry with the same key runs."""
    iid = open_invoice(double)
    refused(post(double, "/v1/credit_notes", {"lines": [CREDIT_LINE]}, key="k1"), "parameter_missing", "invoice")
    again = post(double, "/v1/credit_notes", {"invoice": iid, "lines": [CREDIT_LINE]}, key="k1")
    assert again.status_code == 200, again.text
    assert "Idempotent-Replayed" not in again.headers
    assert [n["total"] for n in double.credit_notes.values()] == [200]


def test_form_by_schema_reads_values_by_their_declared_type() -> None:
    schema = validator("stripe/credit_notes_create.schema.json").schema
    body = {"invoice": "123", "memo": "2026", "amount": "500", "metadata": {"n": "7"},
            "lines": {"1": {"type": "custom_line_item", "quantity": "2"}, "0": {"type": "custom_line_item",
                                                                                "tax_rates": ""}}}
    assert form_by_schema(body, schema) == {
        "invoice": "123", "memo": "2026", "amount": 500, "metadata": {"n": "7"},
        "lines": [{"type": "custom_line_item", "tax_rates": ""}, {"type": "custom_line_item", "quantity": 2}]}


@pytest.mark.parametrize("mode", ["tax_amounts", "tax_rates", "items"])
def test_adapter_correction_bodies_match_the_published_schemas(mode: str) -> None:
    config = CFG.model_copy(update={"tax_mode": mode, "tax_rate_ids": {"VAT:19": "txr_vat19"}})
    event = billed_event()
    for note in (credit_note_of(event, reason="wrong tariff"), credit_note_of(billed_event(adjustments=incentive()))):
        body = stripe.build_credit_note(note, config, "in_1")
        body["out_of_band_amount"] = 5  # the post-payment allocation added at delivery
        assert schema_errors("stripe/credit_notes_create.schema.json", body) == []
    assert schema_errors("stripe/invoices_void.schema.json", {}) == []  # the adapter's void sends no parameter

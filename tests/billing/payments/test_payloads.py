"""The vendor payloads these tests send are the vendors' own shapes: each validates against the vendor's schema in
``../shared/vendor-specs``, except exactly the defects NOTES.md lists (which the receivers must accept anyway);
and vendor amounts become our minor units exactly, per each vendor's unit rules."""

from __future__ import annotations

import pytest

from connector.billing.payments.amounts import AmountError, from_iso_minor, from_stripe, major
from tests.billing.payments.payloads import (
    paypal_event,
    plaid_event,
    sample,
    square_payment_failed,
    square_payment_made,
    stripe_event,
    xero_update,
)
from tests.billing.payments.vendors import XERO_ORG
from tests.platforms.schemas import schema_errors

XERO_INVOICE = "243216c5-369e-4056-ac67-05388f86dc81"


def test_payloads_follow_the_vendor_schemas():
    assert schema_errors("stripe/event_object.schema.json",
                         stripe_event("evt_1", "invoice.paid", "inv_1", amount_paid=357, status="paid"), False) == []
    assert schema_errors("square/webhook_invoice_payment_made.schema.json",
                         square_payment_made("e", "O-1", completed=200, computed=357, status="PARTIALLY_PAID"),
                         False) == []
    assert schema_errors("plaid/transfer_event.schema.json",
                         plaid_event(5, "T-1", "returned", "4.00", {"failure_code": "R01", "description": "x",
                                                                  "ach_return_code": "R01"}), False) == []
    # PayPal's invoicing sample is an untyped resource inside the event envelope
    assert schema_errors("paypal/webhook_event.schema.json", paypal_event("WH-1", "INV2-1"), False) == []


def test_known_vendor_defects_are_in_the_samples_we_accept():
    """NOTES.md: Square's payment.updated lacks risk_evaluation.status; Xero's intent-to-receive has sequence 0 and
    its events' ``eventDateUtc`` carries no UTC offset."""
    square_errors = schema_errors("square/webhook_payment_updated.schema.json", square_payment_failed("e", "O"), False)
    assert square_errors and all("status" in e for e in square_errors)
    xero_errors = schema_errors("xero/webhook_event.schema.json", sample("xero/webhook_itr.json"), False)
    assert xero_errors and all("minimum" in e or "less than" in e for e in xero_errors)
    assert schema_errors("xero/webhook_event.schema.json", xero_update(XERO_INVOICE, XERO_ORG), False) == [
        "/events/0/eventDateUtc: '2024-06-21T01:15:39.902' is not a 'date-time'"]


@pytest.mark.parametrize(("amount", "currency", "ours"), [
    (357, "eur", 357), (137200, "isk", 1372), (500, "jpy", 500), (1230, "kwd", 1230), (10000, "ugx", 100)])
def test_stripe_units(amount, currency, ours):
    assert from_stripe(amount, currency.upper()) == ours


def test_units_are_exact_or_refused():
    assert from_iso_minor(1372, "ISK") == 1372 and from_iso_minor(357, "EUR") == 357
    assert major("12.34", "USD") == 1234 and major(3.57, "EUR") == 357 and major("1372", "ISK") == 1372
    for bad in (lambda: from_stripe(137250, "ISK"), lambda: major("1.005", "EUR"), lambda: major("abc", "EUR"),
                lambda: from_stripe("357", "EUR"), lambda: major("NaN", "EUR")):
        with pytest.raises(AmountError):
            bad()

"""Square: CreateOrder with Square's own line taxes, then a published Square Invoice; voids and credit notes
cancel it. Bodies against the vendor schemas, money read back from the Square double (which computes totals
the way Square does), never from what the adapter sent."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from connector.platforms.adapters import square
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError, RetryableError
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.fakes.square import SquareDouble
from tests.platforms.finance_events import billed_event, incentive, invoice_event
from tests.platforms.schemas import schema_errors
from tests.platforms.worker_model import retrying

CFG = square.SquareConfig(access_token="sq-token", location_id="L8P2X0EXAMPLE", customer_map={"C-1": "SQ-CUST-1"})
SALES_TAX = [{"name": "State sales tax", "rate": "6.25"}, {"name": "City sales tax", "rate": "2.25"}]


class Refs:
    """The worker's ``SentRefs`` as a direct ``deliver`` call needs it: the results earlier deliveries recorded."""

    def __init__(self, known: dict[str, dict[str, Any]]) -> None:
        self.known = known

    def result_of(self, tenant_id: str, platform: str, key: str) -> dict[str, Any] | None:
        return self.known.get(key)

    def ref_of(self, tenant_id: str, platform: str, key: str) -> str | None:
        found = self.known.get(key)
        return None if found is None else found.get("ref")


@pytest.fixture
def double() -> Iterator[SquareDouble]:
    d = SquareDouble().start()
    yield d
    d.stop()


def prices(body: dict) -> list[tuple[str, int, str]]:
    return [(i["name"], i["base_price_money"]["amount"], i["base_price_money"]["currency"])
            for i in body["order"]["line_items"]]


def test_order_body_matches_schema_with_taxes_as_square_taxes() -> None:
    body = square.build_order(billed_event(), CFG)
    assert schema_errors("square/orders_create.schema.json", body) == []
    assert body["idempotency_key"] == "evbill:t1:inv_S-100:order"
    assert prices(body) == [("Session fee @ 1.00 EUR/session", 100, "EUR"), ("Energy @ 0.39 EUR/kWh", 913, "EUR")]
    order = body["order"]
    [tax] = order["taxes"]
    assert {k: v for k, v in tax.items() if k != "uid"} == {"name": "VAT 19%", "percentage": "19",
                                                            "type": "ADDITIVE", "scope": "LINE_ITEM"}
    assert [i["applied_taxes"] for i in order["line_items"]] == [[{"tax_uid": tax["uid"]}]] * 2
    assert (order["location_id"], order["reference_id"], order["customer_id"]) == ("L8P2X0EXAMPLE", "INV-0001",
                                                                                  "SQ-CUST-1")
    assert order["line_items"][1]["note"] == "23.4 kWh, session S-100, station ST-7"
    assert "discounts" not in order
    broken = copy.deepcopy(body)
    broken["order"]["line_items"][0]["base_price_money"]["amount"] = "1.00"
    assert schema_errors("square/orders_create.schema.json", broken)
    broken = copy.deepcopy(body)
    broken["order"]["id"] = "ORD1"  # readOnly
    assert schema_errors("square/orders_create.schema.json", broken)
    inv = square.build_invoice(billed_event(), CFG, "ORD00001")
    assert schema_errors("square/invoices_create.schema.json", inv) == []
    assert inv["invoice"]["payment_requests"] == [{"request_type": "BALANCE", "due_date": "2026-02-12",
                                                   "automatic_payment_source": "NONE"}]


def test_currencies_in_squares_units_and_what_square_cannot_hold() -> None:
    jpy = square.build_order(billed_event("JPY", flat="100", energy_price="45"), CFG)
    assert [a for _, a, _ in prices(jpy)] == [100, 1053]  # JPY, 0 decimals
    isk = square.build_order(billed_event("ISK", flat="100", energy_price="45", vat=None), CFG)
    assert [a for _, a, _ in prices(isk)] == [100, 1053]  # ISK, 0 decimals in ISO 4217 and in Square
    # a discount with its tax share: one ORDER discount, spread by Square before tax
    disc = square.build_order(billed_event(adjustments=incentive()[:1]), CFG)
    assert disc["order"]["discounts"] == [{"uid": "discounts", "name": "Discounts", "type": "FIXED_AMOUNT",
                                           "scope": "ORDER", "amount_money": {"amount": 101, "currency": "EUR"}}]
    with pytest.raises(ValueError, match="after-tax incentive; Square applies discounts before tax"):
        square.build_order(billed_event(adjustments=incentive()), CFG)
    with pytest.raises(ValueError, match="invoice.customer.id: 'C-9' has no Square customer"):
        square.build_invoice(billed_event(customer_id="C-9"), CFG, "ORD1")


@pytest.mark.parametrize(("kw", "books"), [
    ({}, (1205, 1013, 192)),  # EUR, VAT 19%
    ({"currency": "USD", "x_taxes": SALES_TAX}, (1099, 1013, 86)),  # state 6.25% + city 2.25% sales tax
    ({"currency": "JPY", "flat": "100", "energy_price": "45"}, (1372, 1153, 219)),
    ({"currency": "ISK", "flat": "100", "energy_price": "45", "vat": None}, (1153, 1153, 0)),
    ({"adjustments": incentive()[:1]}, (1085, 912, 173)),  # 10 % discount before tax
])
def test_squares_books_equal_ours_to_the_minor_unit(double: SquareDouble, kw: dict[str, Any],
                                                     books: tuple[int, int, int]) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url})
    event = billed_event(**kw)
    ours = event["data"]["invoice"]
    result = square.deliver(event, cfg, DeliveryContext(OneShotHttp()))
    [order] = double.orders.values()
    assert double.books(order["id"]) == books
    cur = ours["currency"]
    assert books == (square.minor(ours["amount_due"], cur, "d"), square.minor(ours["net_total"], cur, "n") +
                     square.minor(ours["incentive_total"], cur, "i"), square.minor(ours["tax_total"], cur, "t"))
    [invoice] = double.invoices.values()
    assert (invoice["status"], invoice["order_id"], result["ref"]) == ("UNPAID", order["id"], invoice["id"])
    assert double.receivable() == books[0]


def test_a_square_tax_that_is_not_ours_is_never_invoiced(double: SquareDouble) -> None:
    """Square rounds each item's tax half to even: 1.25 x 2% = 0.025 -> 0.02; ours (half up) is 0.03."""
    cfg = CFG.model_copy(update={"api_base": double.url})
    event = billed_event(flat="1.25", energy="0", vat="2")
    assert event["data"]["invoice"]["tax_total"] == "0.03"
    with pytest.raises(PermanentError, match=r"totals 127 with tax 2 .*ours is 128 with tax 3: not invoiced"):
        square.deliver(event, cfg, DeliveryContext(OneShotHttp()))
    assert double.invoices == {}  # nobody is asked to pay a total that is not ours


def test_end_to_end_retries_and_one_order_one_invoice(double: SquareDouble) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url})
    event = billed_event()
    double.fail("/v2/orders", 429, 500, retry_after="1")
    double.lose("/v2/orders")  # created, answer lost
    double.lose("/v2/invoices")  # the invoice too
    double.fail("/v2/invoices/", 503)  # and the publish fails once
    http = OneShotHttp()
    result, waits = retrying(lambda: square.deliver(event, cfg, DeliveryContext(http)))
    assert waits == [1.0, None, None, None, None]
    [order] = double.orders.values()
    [invoice] = double.invoices.values()
    assert result == {"status": "sent", "ref": invoice["id"], "order": order["id"], "invoice": invoice["id"],
                      "total": 1205, "tax": 192, "square_status": "UNPAID"}
    calls = double.calls("/v2/orders")
    assert {c["body"]["idempotency_key"] for c in calls} == {"evbill:t1:inv_S-100:order"}
    assert all(c["headers"]["Authorization"] == "Bearer sq-token" and c["headers"]["Square-Version"] == "2025-08-20"
               for c in double.requests)
    again = square.deliver(invoice_event(), cfg, DeliveryContext(OneShotHttp()))  # the finalized event of the same invoice
    assert again["ref"] == invoice["id"] and len(double.orders) == 1 and len(double.invoices) == 1
    assert square.deliver(
        billed_event(status="draft", number=None), cfg, DeliveryContext(OneShotHttp()))["status"] == "skipped"


def test_idempotency_key_reused_with_another_body_is_refused_by_the_double(double: SquareDouble) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url})
    square.deliver(billed_event(), cfg, DeliveryContext(OneShotHttp()))
    changed = billed_event(energy="30")  # same invoice id, other money: Square refuses the reused key
    with pytest.raises(PermanentError, match="IDEMPOTENCY_KEY_REUSED"):
        square.deliver(changed, cfg, DeliveryContext(OneShotHttp()))


def voided(event: dict[str, Any]) -> dict[str, Any]:
    inv = dict(event["data"]["invoice"], status="void")
    return {"id": "evt_void", "type": "invoice.voided", "tenant_id": "t1", "data": {"invoice": inv}}


def credit_note(event: dict[str, Any], amount_due: str | None = None) -> dict[str, Any]:
    note = dict(copy.deepcopy(event["data"]["invoice"]), id="cn_1", number="CN-1", kind="credit_note",
                credit_note_of=event["data"]["invoice"]["id"])
    if amount_due:
        note["amount_due"] = amount_due
    return {"id": "evt_cn", "type": "credit_note.issued", "tenant_id": "t1", "data": {"invoice": note}}


def test_void_and_full_credit_cancel_the_square_invoice(double: SquareDouble) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url})
    event = billed_event()
    sent = square.deliver(event, cfg, DeliveryContext(OneShotHttp()))
    refs = Refs({"evbill:t1:inv_S-100:order": sent})
    with pytest.raises(RetryableError, match="not yet delivered to Square"):
        square.deliver(voided(event), cfg, DeliveryContext(OneShotHttp(), refs=Refs({})))
    assert square.idempotency_key(voided(event)) == "evbill:t1:inv_S-100:void"
    done = square.deliver(voided(event), cfg, DeliveryContext(OneShotHttp(), refs=refs))
    assert (done["action"], done["square_status"]) == ("cancel", "CANCELED")
    assert double.invoices[sent["invoice"]]["status"] == "CANCELED" and double.receivable() == 0
    again = square.deliver(voided(event), cfg, DeliveryContext(OneShotHttp(), refs=refs))
    assert again["action"] == "none"  # a redelivery acts once

    other = billed_event(sid="S-200", number="INV-0002")
    sent2 = square.deliver(other, cfg, DeliveryContext(OneShotHttp()))
    refs.known["evbill:t1:inv_S-200:order"] = sent2
    partial = square.deliver(credit_note(other, "1.00"), cfg, DeliveryContext(OneShotHttp(), refs=refs))
    assert partial["status"] == "skipped" and "Square has no credit notes" in partial["reason"]
    full = square.deliver(credit_note(other), cfg, DeliveryContext(OneShotHttp(), refs=refs))
    assert full["action"] == "cancel" and double.invoices[sent2["invoice"]]["status"] == "CANCELED"

    paid = billed_event(sid="S-300", number="INV-0003")
    sent3 = square.deliver(paid, cfg, DeliveryContext(OneShotHttp()))
    refs.known["evbill:t1:inv_S-300:order"] = sent3
    double.pay(sent3["invoice"])
    with pytest.raises(PermanentError, match="is PAID: Square cannot cancel it; refund the payment in Square"):
        square.deliver(voided(paid), cfg, DeliveryContext(OneShotHttp(), refs=refs))


def test_bad_token_is_permanent(double: SquareDouble) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url, "access_token": "nope"})
    http = OneShotHttp()
    with pytest.raises(PermanentError, match="401"):
        square.deliver(billed_event(), cfg, DeliveryContext(http))
    assert http.attempts == 1 and double.orders == {} and "nope" not in repr(cfg)

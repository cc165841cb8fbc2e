"""Square CreateOrder: body against the vendor schema, and delivery against a local Square double."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from connector.platforms.adapters import square
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.fakes.square import SquareDouble
from tests.platforms.finance_events import billed_event, incentive, invoice_event
from tests.platforms.schemas import schema_errors
from tests.platforms.worker_model import retrying

CFG = square.SquareConfig(access_token="sq-token", location_id="L8P2X0EXAMPLE", customer_map={"C-1": "SQ-CUST-1"})


@pytest.fixture
def double() -> Iterator[SquareDouble]:
    d = SquareDouble().start()
    yield d
    d.stop()


def prices(body: dict) -> list[tuple[str, int, str]]:
    return [(i["name"], i["base_price_money"]["amount"], i["base_price_money"]["currency"])
            for i in body["order"]["line_items"]]


def test_order_body_matches_schema_one_line_item_per_priced_line() -> None:
    body = square.build_order(billed_event(), CFG)
    assert schema_errors("square/orders_create.schema.json", body) == []
    assert body["idempotency_key"] == "evbill:t1:inv_S-100:order"
    assert prices(body) == [("Session fee @ 1.00 EUR/session", 100, "EUR"), ("Energy @ 0.39 EUR/kWh", 913, "EUR"),
                            ("VAT 19%", 192, "EUR")]
    order = body["order"]
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


def test_jpy_kwd_and_discounts_exact() -> None:
    assert [a for _, a, _ in prices(square.build_order(billed_event("JPY", flat="100", energy_price="45"), CFG))] == [
        100, 1053, 219]  # JPY, 0 decimals: amount_due 1372
    assert [a for _, a, _ in prices(square.build_order(billed_event("KWD", energy="0.125", flat=None), CFG))] == [
        49, 9]  # KWD 0.049 + 0.009, 3 decimals
    adj = square.build_order(billed_event(adjustments=incentive()), CFG)
    assert schema_errors("square/orders_create.schema.json", adj) == []
    assert [a for _, a, _ in prices(adj)] == [100, 913, 173]
    assert adj["order"]["discounts"] == [{"uid": "discounts", "name": "Discounts and incentives",
                                          "type": "FIXED_AMOUNT", "scope": "ORDER",
                                          "amount_money": {"amount": 218, "currency": "EUR"}}]  # 101 + 117
    assert 100 + 913 + 173 - 218 == 968  # amount_due "968"


def test_end_to_end_retries_and_one_order(double: SquareDouble) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url})
    event = billed_event()
    double.fail("/v2/orders", 429, 500, retry_after="1")
    double.lose("/v2/orders")  # created, answer lost
    http = OneShotHttp()
    result, waits = retrying(lambda: square.deliver(event, cfg, DeliveryContext(http)))
    assert waits == [1.0, None, None]
    [order] = double.orders.values()
    assert result == {"status": "sent", "ref": order["id"], "total": 1205}
    calls = double.calls("/v2/orders")
    assert len(calls) == 4 and {c["body"]["idempotency_key"] for c in calls} == {"evbill:t1:inv_S-100:order"}
    assert all(c["headers"]["Authorization"] == "Bearer sq-token" and c["headers"]["Square-Version"] == "2025-08-20"
               for c in calls)
    again = square.deliver(invoice_event(), cfg, DeliveryContext(OneShotHttp()))  # the finalized event of the same invoice
    assert again["ref"] == order["id"] and len(double.orders) == 1
    assert square.deliver(
        billed_event(status="draft", number=None), cfg, DeliveryContext(OneShotHttp()))["status"] == "skipped"


def test_bad_token_is_permanent(double: SquareDouble) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url, "access_token": "nope"})
    http = OneShotHttp()
    with pytest.raises(PermanentError, match="401"):
        square.deliver(billed_event(), cfg, DeliveryContext(http))
    assert http.attempts == 1 and double.orders == {} and "nope" not in repr(cfg)

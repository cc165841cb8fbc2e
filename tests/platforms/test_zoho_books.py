"""Zoho Books: the invoice body (exact amounts from rate()), and delivery against a local double with
OAuth refresh, 429/500 replays and no second invoice after a retried or repeated delivery.

No Zoho Books schema exists in ../shared/vendor-specs (its OpenAPI could not be obtained offline,
platform-contracts §8), so the contract test checks the documented required fields and types by hand.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest

from connector.platforms.adapters import zoho_books
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError
from tests.platforms.events import billed_event, incentive_event
from tests.platforms.fakes.finance_vendors import FinanceVendors
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.worker_model import retrying

CFG = zoho_books.ZohoBooksConfig(organization_id="60001", customer_ids={"C-1": "460000000026049"},
                                 tax_ids={"19": "460000000040001", "8": "460000000040002"},
                                 item_ids={"energy": "460000000050001"}, access_token="static",
                                 document="session")


def test_invoice_body_carries_the_rated_lines_exactly() -> None:
    body = zoho_books.build_invoice(billed_event(), CFG)
    assert body["customer_id"] == "460000000026049" and body["invoice_number"] == "EV-S-100"
    assert body["date"] == "2026-01-13" and body["reference_number"] == "INV-0001"
    assert [(li["quantity"], li["rate"], li.get("tax_id"), li.get("item_id")) for li in body["line_items"]] == [
        (Decimal(1), Decimal("1.00"), "460000000040001", None),
        (Decimal(1), Decimal("9.13"), "460000000040001", "460000000050001")]
    assert body["line_items"][1]["description"] == "23.4 kWh @ 0.39 EUR - session S-100, station ST-7"
    assert sum(li["rate"] for li in body["line_items"]) == Decimal("10.13")
    # required by Zoho: customer_id + line_items with name/rate/quantity (numbers, not strings)
    text = zoho_books.dumps_exact(body).decode()
    parsed = json.loads(text, parse_float=Decimal)
    assert '"rate": 9.13' in text and parsed["line_items"][1]["rate"] == Decimal("9.13")
    assert all(isinstance(li["name"], str) and li["name"] for li in parsed["line_items"])


def test_jpy_and_only_this_sessions_lines() -> None:
    event = billed_event("JPY", "ja_JP", energy_price="45", flat="100", vat="10")
    cfg = CFG.model_copy(update={"tax_ids": {"10": "TX10"}})
    assert [li["rate"] for li in zoho_books.build_invoice(event, cfg)["line_items"]] == [Decimal("100"),
                                                                                        Decimal("1053")]
    other = copy.deepcopy(event)  # a draft invoice that already holds another session's line
    foreign = dict(other["data"]["invoice"]["lines"][0], id="L9", session_id="S-OTHER", net="55.00")
    other["data"]["invoice"]["lines"].append(foreign)
    assert len(zoho_books.build_invoice(other, cfg)["line_items"]) == 2


def test_mapping_errors_name_the_field() -> None:
    with pytest.raises(zoho_books.MappingError, match="tax_ids: no Zoho tax_id configured for tax rate 19"):
        zoho_books.build_invoice(billed_event(), CFG.model_copy(update={"tax_ids": {}}))
    with pytest.raises(zoho_books.MappingError, match="customer_ids"):
        zoho_books.build_invoice(billed_event(), CFG.model_copy(update={"customer_ids": {}}))
    assert "static" not in repr(CFG) and "refresh" not in repr(CFG.model_copy(update={"refresh_token": "r"}))


def _oauth_cfg(vendors: FinanceVendors, **kw: Any) -> zoho_books.ZohoBooksConfig:
    return CFG.model_copy(update={"api_base": vendors.url, "access_token": None, "client_id": "zb-client",
                                  "client_secret": "zb-secret", "refresh_token": "1000.refresh",
                                  "token_url": vendors.url + "/oauth/v2/token", **kw})


def test_delivery_retries_then_creates_one_invoice(vendors: FinanceVendors) -> None:
    from connector.platforms.oauth import TokenProvider

    cfg = _oauth_cfg(vendors)
    tokens = TokenProvider(cfg.token_url, "zb-client", "zb-secret", grant="refresh_token",
                           refresh_token="1000.refresh", auth_style="body")
    event = billed_event()
    http = OneShotHttp()
    vendors.fail("/books/v3/invoices", 429, retry_after="3", method="GET")
    vendors.fail("/books/v3/invoices", 500, method="POST")
    result, retry_afters = retrying(lambda: zoho_books.deliver(
        event, cfg, DeliveryContext(http, token_provider=tokens)))
    assert result["status"] == "sent" and result["invoice_number"] == "EV-S-100"
    assert retry_afters == [3.0, None]
    assert [(c["method"], c["path"].rsplit("/", 2)[-1]) for c in vendors.calls("/books/v3/")] == [
        ("GET", "invoices"), ("GET", "invoices"), ("POST", "invoices"), ("GET", "invoices"), ("POST", "invoices"),
        ("POST", "sent")]  # checked against ours, then marked sent: in Zoho's receivables
    [invoice] = vendors.zoho_invoices.values()
    assert (invoice["status"], invoice["total"], invoice["tax_total"]) == ("sent", Decimal("12.05"), Decimal("1.92"))
    assert result["ref"] == invoice["invoice_id"]
    assert [li["rate"] for li in invoice["line_items"]] == [Decimal("1.00"), Decimal("9.13")]
    creates = [c for c in vendors.calls("/books/v3/invoices", "POST") if c["path"] == "/books/v3/invoices"]
    assert creates[-1]["args"] == {"organization_id": "60001", "ignore_auto_number_generation": "true"}
    assert creates[-1]["headers"]["Authorization"].startswith("Zoho-oauthtoken zb-token-")
    assert creates[-1]["headers"]["Content-Type"].startswith("application/json")
    # a redelivery (worker restart after a lost answer): the lookup finds it, nothing is created
    again = zoho_books.deliver(event, cfg, DeliveryContext(http, token_provider=tokens))
    assert again == {"status": "duplicate", "ref": invoice["invoice_id"], "invoice_number": "EV-S-100"}
    assert len(vendors.zoho_invoices) == 1 and len(vendors.calls("/books/v3/invoices", "POST")) == len(creates) + 1
    assert tokens.fetches == 1


def test_lost_answer_after_create_does_not_duplicate(vendors: FinanceVendors) -> None:
    cfg = _oauth_cfg(vendors)
    vendors.lose("/books/v3/invoices", method="POST")
    result, retry_afters = retrying(lambda: zoho_books.deliver(
        billed_event(sid="S-7"), cfg, DeliveryContext(OneShotHttp())))
    assert retry_afters == [None] and result["status"] == "sent"  # found as a draft: checked, then marked sent
    assert list(vendors.zoho_invoices) == ["EV-S-7"] and vendors.zoho_invoices["EV-S-7"]["status"] == "sent"
    assert len([c for c in vendors.calls("/books/v3/invoices", "POST") if c["path"] == "/books/v3/invoices"]) == 1


def test_expired_token_is_dropped_and_the_retry_uses_a_new_one(vendors: FinanceVendors) -> None:
    from connector.platforms.errors import RetryableError

    cfg = _oauth_cfg(vendors)
    http = OneShotHttp()
    zoho_books.deliver(billed_event(sid="S-1"), cfg, DeliveryContext(http))  # module-cached provider fetches token #1
    vendors.tokens.clear()  # Zoho revoked/expired it
    with pytest.raises(RetryableError, match="401"):
        zoho_books.deliver(billed_event(sid="S-2"), cfg, DeliveryContext(http))
    assert zoho_books.deliver(billed_event(sid="S-2"), cfg, DeliveryContext(http))["status"] == "sent"
    assert sorted(vendors.zoho_invoices) == ["EV-S-1", "EV-S-2"]


def test_wrong_organization_is_permanent(vendors: FinanceVendors) -> None:
    cfg = _oauth_cfg(vendors, organization_id="99999")
    with pytest.raises(PermanentError, match="organization_id"):
        zoho_books.deliver(billed_event(sid="S-9"), cfg, DeliveryContext(OneShotHttp()))
    assert vendors.zoho_invoices == {}


def test_incentive_is_an_adjustment_outside_the_tax_base() -> None:
    body = zoho_books.build_invoice(incentive_event(), CFG)
    assert [li["rate"] for li in body["line_items"]] == [Decimal("1.00"), Decimal("9.13")]
    assert body["adjustment"] == Decimal("-1.17") and body["adjustment_description"] == "State incentive (0.05 EUR/kWh)"
    assert body["line_items"][1]["description"].startswith("23.4 kWh @ 0.39 EUR")


def test_number_collision_at_create_is_the_wanted_outcome(vendors: FinanceVendors) -> None:
    cfg = _oauth_cfg(vendors)
    assert zoho_books.deliver(billed_event(sid="S-8"), cfg, DeliveryContext(OneShotHttp()))["status"] == "sent"
    vendors.zoho_list_lags = True  # the lookup misses it (another worker's invoice, list not updated yet)
    again = zoho_books.deliver(billed_event(sid="S-8"), cfg, DeliveryContext(OneShotHttp()))
    assert again == {"status": "duplicate", "ref": None, "invoice_number": "EV-S-8"}
    assert len(vendors.zoho_invoices) == 1 and len(
        [c for c in vendors.calls("/books/v3/invoices", "POST") if c["path"] == "/books/v3/invoices"]) == 2
    with pytest.raises(PermanentError, match="organization_id"):  # other 4xx stay permanent
        zoho_books.deliver(billed_event(sid="S-8"), cfg.model_copy(update={"organization_id": "1"}),
                           DeliveryContext(OneShotHttp()))


def test_a_zoho_total_that_is_not_ours_is_deleted_not_receivable(vendors: FinanceVendors) -> None:
    """Zoho applies its own percentage: a tax_id that is 20 % in Zoho for our 19 % gives 12.16, not 12.05."""
    vendors.zoho_tax_rates["460000000040009"] = Decimal("20")
    cfg = _oauth_cfg(vendors).model_copy(update={"tax_ids": {"19": "460000000040009"}})
    with pytest.raises(PermanentError, match=r"Zoho Books computes 12.16 for invoice EV-S-100, ours is 12.05: the "
                                             "draft was deleted"):
        zoho_books.deliver(billed_event(), cfg, DeliveryContext(OneShotHttp()))
    assert vendors.zoho_invoices == {} and [d["invoice_number"] for d in vendors.zoho_deleted] == ["EV-S-100"]


def test_mark_sent_can_be_turned_off(vendors: FinanceVendors) -> None:
    cfg = _oauth_cfg(vendors).model_copy(update={"mark_sent": False})
    assert zoho_books.deliver(billed_event(), cfg, DeliveryContext(OneShotHttp()))["zoho_status"] == "draft"
    assert [i["status"] for i in vendors.zoho_invoices.values()] == ["draft"]


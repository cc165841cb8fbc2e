"""FreshBooks: one invoice per finalized invoice (the default), checked against our total, deleted on a void;
and the recurring profile (``mode="recurring"``) for subscription/fleet customers: the body (rated nets as strings, taxes
as names/percentages), the class filter, and delivery against a local double with rotating refresh
tokens, 429/500/lost answers, and one profile per customer that later invoices update.

FreshBooks publishes no spec (platform-contracts §10): the contract test checks the documented minimal
body's fields and types by hand."""

from __future__ import annotations

import copy
import re
from decimal import Decimal
from typing import Any

import pytest

from connector.platforms.adapters import freshbooks
from connector.platforms.context import DeliveryContext, Stores
from connector.platforms.errors import PermanentError
from connector.platforms.oauth import RefreshTokenStore
from tests.platforms.events import billed_event, incentive_event
from tests.platforms.fakes.finance_vendors import FinanceVendors
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.worker_model import retrying

CFG = freshbooks.FreshBooksConfig(account_id="AbC123", client_ids={"C-1": "4242"}, access_token="static",
                                  mode="recurring")  # the explicit option; invoices (the default) below


def finalized(currency: str = "EUR", cls: str = "fleet", invoice_id: str = "inv_2026_01", **kw: Any) -> dict[str, Any]:
    billed = billed_event(currency, customer_class=cls, **kw)
    invoice = dict(billed["data"]["invoice"], id=invoice_id)
    return {"id": f"evt_fin_{invoice_id}", "type": "invoice.finalized", "tenant_id": "t1",
            "created_at": "2026-02-01T00:05:00Z", "data": {"invoice": invoice}}


def test_profile_body_carries_the_rated_lines() -> None:
    body = freshbooks.build_profile(finalized(), CFG)
    profile = body["invoice_profile"]
    assert (profile["customerid"], profile["create_date"], profile["frequency"], profile["numberRecurring"],
            profile["currency_code"], profile["po_number"]) == (4242, "2026-01-13", "m", 0, "EUR", "EVB-C-1-EUR")
    assert [(ln["qty"], ln["unit_cost"], ln["taxName1"], ln["taxAmount1"]) for ln in profile["lines"]] == [
        ("1", {"amount": "1.00", "code": "EUR"}, "VAT", "19"), ("1", {"amount": "9.13", "code": "EUR"}, "VAT", "19")]
    assert profile["lines"][1]["description"] == "23.4 kWh @ 0.39 EUR"
    assert sum(Decimal(ln["unit_cost"]["amount"]) for ln in profile["lines"]) == Decimal("10.13")
    # documented minimal body: types FreshBooks expects (amounts as decimal strings in minor units, ISO date)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", profile["create_date"]) and isinstance(profile["numberRecurring"], int)
    for ln in profile["lines"]:
        assert ln["type"] == 0 and ln["name"] and re.fullmatch(r"-?\d+\.\d{2}", ln["unit_cost"]["amount"])
    jpy = freshbooks.build_profile(finalized("JPY", energy_price="45", flat="100"), CFG)["invoice_profile"]
    assert [ln["unit_cost"]["amount"] for ln in jpy["lines"]] == ["100", "1053"] and jpy["po_number"] == "EVB-C-1-JPY"


def test_only_subscription_and_fleet_invoices() -> None:
    assert "customer class 'public'" in str(freshbooks.skip_reason(finalized(cls="public"), CFG))
    assert freshbooks.skip_reason(finalized(cls="subscription"), CFG) is None
    assert "does not change" in str(freshbooks.skip_reason(billed_event(customer_class="fleet"), CFG))
    credit = finalized()
    credit["data"]["invoice"]["kind"] = "credit_note"
    assert "credit_note" in str(freshbooks.skip_reason(credit, CFG))
    with pytest.raises(freshbooks.MappingError, match="client_ids: no FreshBooks client for customer C-1"):
        freshbooks.build_profile(finalized(), CFG.model_copy(update={"client_ids": {}}))
    three = copy.deepcopy(finalized())
    three["data"]["invoice"]["lines"][0]["taxes"] *= 3
    with pytest.raises(freshbooks.MappingError, match="two taxes"):
        freshbooks.build_profile(three, CFG)
    assert "static" not in repr(CFG)


def test_one_profile_per_customer_created_once_then_updated(vendors: FinanceVendors) -> None:
    from connector.platforms.oauth import TokenProvider

    cfg = CFG.model_copy(update={"api_base": vendors.url, "access_token": None, "client_id": "fb-client",
                                 "client_secret": "fb-secret", "refresh_token": "fb-refresh-0",
                                 "token_url": vendors.url + "/auth/oauth/token"})
    rotated: list[str] = []
    tokens = TokenProvider(cfg.token_url, "fb-client", "fb-secret", grant="refresh_token",
                           refresh_token="fb-refresh-0", auth_style="body", on_refresh=rotated.append)
    http = OneShotHttp()
    path = "/accounting/account/AbC123/invoice_profiles/"
    vendors.fail(path, 429, retry_after="5", method="GET")
    vendors.fail(path, 500, method="POST")
    vendors.lose(path, method="POST")  # second POST creates, but its answer is lost
    january = finalized()
    result, retry_afters = retrying(lambda: freshbooks.deliver(
        january, cfg, DeliveryContext(http, token_provider=tokens)))
    assert retry_afters == [5.0, None, None]
    [(pid, profile)] = vendors.fb_profiles.items()
    assert result == {"status": "updated", "ref": pid}  # the retry found the lost-answer profile
    assert [c["method"] for c in vendors.calls(path)] == ["GET", "GET", "POST", "GET", "POST", "GET", "PUT"]
    assert all(c["headers"]["Authorization"].startswith("Bearer fb-token-") for c in vendors.calls(path))
    assert [ln["unit_cost"]["amount"] for ln in profile["lines"]] == ["1.00", "9.13"]
    # February: new amounts replace the template lines of the same profile
    february = finalized(invoice_id="inv_2026_02", energy="40.0")
    assert freshbooks.deliver(
        february, cfg, DeliveryContext(http, token_provider=tokens)) == {"status": "updated", "ref": pid}
    assert len(vendors.fb_profiles) == 1
    assert [ln["unit_cost"]["amount"] for ln in vendors.fb_profiles[pid]["lines"]] == ["1.00", "15.60"]  # 40 x 0.39
    assert vendors.fb_profiles[pid]["create_date"] == "2026-01-13"  # the schedule is not moved by updates
    # token expired: dropped, the retry refreshes with the rotated refresh token
    vendors.tokens.clear()
    result, retry_afters = retrying(lambda: freshbooks.deliver(
        february, cfg, DeliveryContext(http, token_provider=tokens)))
    assert result["status"] == "updated" and retry_afters == [None]
    assert tokens.fetches == 2 and len(rotated) == 2 and rotated[-1] == vendors.fb_refresh
    assert rotated[0] != "fb-refresh-0" and tokens.refresh_token == vendors.fb_refresh


def test_unknown_account_is_permanent(vendors: FinanceVendors) -> None:
    cfg = CFG.model_copy(update={"api_base": vendors.url, "account_id": "nope"})
    vendors.tokens.add("static")
    with pytest.raises(PermanentError, match="404"):
        freshbooks.deliver(finalized(), cfg, DeliveryContext(OneShotHttp()))
    assert vendors.fb_profiles == {}


def test_incentive_line_makes_the_template_total_the_amount_due() -> None:
    event = {"id": "evt_f", "type": "invoice.finalized", "tenant_id": "t1",
             "data": {"invoice": incentive_event("fleet")["data"]["invoice"]}}
    lines = freshbooks.build_profile(event, CFG)["invoice_profile"]["lines"]
    assert [ln["unit_cost"]["amount"] for ln in lines] == ["1.00", "9.13", "-1.17"]
    assert "taxName1" not in lines[2] and lines[2]["description"] == "23.4 kWh @ -0.05 EUR"


def test_rotated_refresh_token_survives_a_worker_restart(vendors: FinanceVendors, tmp_path: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.fernet import Fernet
    from sqlalchemy import create_engine

    from connector.platforms import oauth

    monkeypatch.setenv("EVBILL_TOKEN_KEY", Fernet.generate_key().decode())
    monkeypatch.setattr(oauth, "_PROVIDERS", {})
    cfg = CFG.model_copy(update={"api_base": vendors.url, "access_token": None, "client_id": "fb-client",
                                 "client_secret": "fb-secret", "refresh_token": "fb-refresh-0",
                                 "token_url": vendors.url + "/auth/oauth/token"})
    db = f"sqlite:///{tmp_path / 'tokens.db'}"

    def worker_process() -> DeliveryContext:
        """A worker (re)started on the same database: a new token store object."""
        tokens = RefreshTokenStore(create_engine(db))
        return DeliveryContext(OneShotHttp(), stores=Stores(refresh_tokens=tokens))

    assert freshbooks.deliver(finalized(), cfg, worker_process())["status"] == "sent"
    assert vendors.fb_refresh != "fb-refresh-0"  # rotated: the configured token is dead now
    monkeypatch.setattr(oauth, "_PROVIDERS", {})  # restart: no token in memory
    vendors.tokens.clear()
    again = freshbooks.deliver(finalized(invoice_id="inv_2026_02"), cfg, worker_process())
    assert again["status"] == "updated" and len(vendors.fb_profiles) == 1
    monkeypatch.setattr(oauth, "_PROVIDERS", {})  # without the store the configured, dead token is used
    with pytest.raises(PermanentError, match="invalid_grant"):
        freshbooks.deliver(finalized(invoice_id="inv_2026_03"), cfg, DeliveryContext(OneShotHttp()))


def numbered(invoice_id: str, number: str, **kw: Any) -> dict[str, Any]:
    event = finalized(invoice_id=invoice_id, **kw)
    event["data"]["invoice"]["number"] = number
    return event


def invoice_mode(vendors: FinanceVendors) -> tuple[freshbooks.FreshBooksConfig, DeliveryContext]:
    from connector.platforms.oauth import TokenProvider

    cfg = CFG.model_copy(update={"api_base": vendors.url, "access_token": None, "client_id": "fb-client",
                                 "client_secret": "fb-secret", "refresh_token": "fb-refresh-0",
                                 "token_url": vendors.url + "/auth/oauth/token", "mode": "invoice"})
    tokens = TokenProvider(cfg.token_url, "fb-client", "fb-secret", grant="refresh_token",
                           refresh_token="fb-refresh-0", auth_style="body")
    return cfg, DeliveryContext(OneShotHttp(), token_provider=tokens)


def test_one_freshbooks_invoice_per_finalized_invoice_with_our_total(vendors: FinanceVendors) -> None:
    """Each month's finalized invoice is its own FreshBooks invoice at its own amount (a template would bill the
    next month at this month's usage); FreshBooks' total (its tax from our percentages) is ours, then sent."""
    assert freshbooks.FreshBooksConfig(account_id="A").mode == "invoice"
    cfg, ctx = invoice_mode(vendors)
    path = "/accounting/account/AbC123/invoices/invoices"
    vendors.lose(path, method="POST")  # created, answer lost: the retry finds it by number
    jan, _ = retrying(lambda: freshbooks.deliver(finalized(), cfg, ctx))
    feb = freshbooks.deliver(numbered("inv_2026_02", "INV-0002", energy="40"), cfg, ctx)
    assert [(i["invoice_number"], i["amount"]["amount"], i["v3_status"]) for i in vendors.fb_invoices.values()] == [
        ("INV-0001", "12.05", "sent"), ("INV-0002", "19.75", "sent")]
    assert (jan["total"], feb["total"]) == ("12.05", "19.75") and vendors.fb_profiles == {}
    assert [c["path"] for c in vendors.calls(path, "POST")] == [path, path]  # one create each, no duplicate
    body = freshbooks.build_invoice(finalized(), cfg)["invoice"]
    assert [(ln["unit_cost"]["amount"], ln["taxName1"], ln["taxAmount1"]) for ln in body["lines"]] == [
        ("1.00", "VAT", "19"), ("9.13", "VAT", "19")]


def test_a_freshbooks_total_that_is_not_ours_is_deleted_and_a_void_deletes(vendors: FinanceVendors) -> None:
    cfg, ctx = invoice_mode(vendors)
    event = finalized()
    event["data"]["invoice"]["lines"][1]["taxes"][0]["rate"] = "20"  # FreshBooks taxes 9.13 at 20 %: 12.15
    with pytest.raises(PermanentError, match="FreshBooks computes 12.15 for invoice INV-0001, ours is 12.05: the "
                                             "FreshBooks invoice was deleted"):
        freshbooks.deliver(event, cfg, ctx)
    assert [i["vis_state"] for i in vendors.fb_invoices.values()] == [1]
    sent = freshbooks.deliver(numbered("inv_2", "INV-0002"), cfg, ctx)
    void = numbered("inv_2", "INV-0002")
    void.update(type="invoice.voided")
    void["data"]["invoice"]["status"] = "void"
    assert freshbooks.idempotency_key(void, cfg) == "freshbooks:t1:inv_2:void"
    assert freshbooks.deliver(void, cfg, ctx) == {"status": "sent", "ref": sent["ref"], "action": "deleted"}
    assert vendors.fb_invoices[sent["ref"]]["vis_state"] == 1
    paid = numbered("inv_3", "INV-0003")
    freshbooks.deliver(paid, cfg, ctx)
    vendors.fb_pay("INV-0003")
    paid.update(type="invoice.voided")
    paid["data"]["invoice"]["status"] = "void"
    with pytest.raises(PermanentError, match="INV-0003 is paid: our invoice was voided, so refund the payment"):
        freshbooks.deliver(paid, cfg, ctx)

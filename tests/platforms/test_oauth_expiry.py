"""The logins that refresh (Xero, QuickBooks, Zoho Books, FreshBooks): the vendor expires the access token between
two deliveries; the next delivery meets 401, the adapter refreshes with the newest (rotated) refresh token, and the
delivery, retried as the outbox worker retries, succeeds with the new token."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connector.platforms import oauth
from connector.platforms.adapters import freshbooks, quickbooks, xero, zoho_books
from connector.platforms.context import DeliveryContext
from tests.platforms import events, finance_events
from tests.platforms.fakes.finance_vendors import FinanceVendors
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.fakes.quickbooks import AR, QuickBooksDouble
from tests.platforms.fakes.xero import TENANT, XeroDouble
from tests.platforms.worker_model import retrying

Case = tuple[Any, Any, Callable[[int], Any], Callable[[Any], list[str]], Any]  # double, module, event, token log, cfg


def _token_requests(double: Any, path: str) -> list[dict[str, Any]]:
    return [c["body"] for c in double.calls(path, "POST")]


def _xero() -> Case:
    d = XeroDouble().start()
    d.rotate = True
    cfg = xero.XeroConfig(client_id="cid", client_secret="csecret", refresh_token="rt-0", xero_tenant_id=TENANT,
                          token_url=d.url + "/connect/token", api_base=d.url + "/api.xro/2.0")
    return d, xero, lambda i: finance_events.billed_event(sid=f"S-{i}", number=f"INV-{i:04d}"), \
        lambda s: [b["refresh_token"] for b in _token_requests(s, "/connect/token")], cfg


def _quickbooks() -> Case:
    d = QuickBooksDouble().start()
    d.rotate = True
    cfg = quickbooks.QuickBooksConfig(realm_id="9130350000000000", client_id="cid", client_secret="csecret",
                                      refresh_token="rt-0", receivable_account=AR,
                                      revenue_accounts={"energy": "79", "fixed": "80", "adjustment": "81"},
                                      tax_accounts={"VAT": "90"}, incentive_account="85", customer_map={"C-1": "58"},
                                      token_url=d.url + "/oauth2/v1/tokens/bearer", api_base=d.url)
    return d, quickbooks, lambda i: finance_events.billed_event(sid=f"S-{i}"), \
        lambda s: [b["refresh_token"] for b in _token_requests(s, "/oauth2/v1/tokens/bearer")], cfg


def _zoho_books() -> Case:
    from tests.platforms.test_zoho_books import CFG

    d = FinanceVendors().start()
    cfg = CFG.model_copy(update={"api_base": d.url, "access_token": None, "client_id": "zb-client",
                                 "client_secret": "zb-secret", "refresh_token": "1000.refresh",
                                 "token_url": d.url + "/oauth/v2/token"})
    return d, zoho_books, lambda i: events.billed_event(sid=f"S-{i}"), \
        lambda s: [b["refresh_token"] for b in _token_requests(s, "/oauth/v2/token")], cfg


def _freshbooks() -> Case:
    from tests.platforms.test_freshbooks import finalized

    d = FinanceVendors().start()
    cfg = freshbooks.FreshBooksConfig(account_id="AbC123", client_ids={"C-1": "4242"}, api_base=d.url,
                                      client_id="fb-client", client_secret="fb-secret", refresh_token="fb-refresh-0",
                                      token_url=d.url + "/auth/oauth/token")
    return d, freshbooks, lambda i: finalized(invoice_id=f"inv_2026_{i:02d}"), \
        lambda s: [b["refresh_token"] for b in _token_requests(s, "/auth/oauth/token")], cfg


@pytest.fixture(params=["xero", "quickbooks", "zoho_books", "freshbooks"])
def case(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Case]:
    monkeypatch.setattr(oauth, "_PROVIDERS", {})  # a fresh worker process: no token cached from other tests
    made = {"xero": _xero, "quickbooks": _quickbooks, "zoho_books": _zoho_books, "freshbooks": _freshbooks}
    built = made[request.param]()
    yield built
    built[0].stop()


def test_expired_token_is_refreshed_and_the_retried_delivery_succeeds(case: Case) -> None:
    double, module, event, refresh_tokens_sent, cfg = case
    rotated: list[str] = []
    http = OneShotHttp()

    def deliver(i: int) -> dict[str, Any]:
        return module.deliver(event(i), cfg, DeliveryContext(http, on_refresh=rotated.append))  # type: ignore[no-any-return]

    first, _ = retrying(lambda: deliver(1))
    assert first["status"] in ("sent", "created", "updated"), first
    assert len(refresh_tokens_sent(double)) == 1
    before = set(double.tokens)

    double.tokens.clear()  # the vendor expired the access token
    second, waits = retrying(lambda: deliver(2))
    assert second["status"] in ("sent", "created", "updated"), second
    sent = refresh_tokens_sent(double)
    assert len(sent) == 2  # exactly one refresh
    if rotated:  # a rotating vendor: the refresh used the newest token, not the configured (now dead) one
        assert sent[1] == rotated[0] and sent[1] != sent[0]
    new_token = (double.tokens - before).pop()
    last = [c for c in double.requests if c["path"] not in ("/connect/token", "/oauth2/v1/tokens/bearer",
                                                            "/oauth/v2/token", "/auth/oauth/token")][-1]
    assert new_token in last["headers"]["Authorization"]
    assert all(w is None for w in waits)  # a 401 is retried at once, no vendor backoff

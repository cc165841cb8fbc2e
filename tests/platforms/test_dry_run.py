"""Dry-run mode (the shared ``DryRunSender``): every finance adapter writes its whole request sequence to
the review file, secrets masked, bodies still valid against the vendor schemas, nothing sent anywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from connector.platforms import oauth
from connector.platforms.adapters import paypal, plaid, quickbooks, square, stripe, xero
from connector.platforms.context import DeliveryContext
from connector.platforms.dryrun import DryRunSender
from tests.platforms.finance_events import invoice_event
from tests.platforms.schemas import schema_errors

TAX = [{"name": "State sales tax", "rate": "6.25"}]


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_every_adapter_writes_its_requests_for_review(tmp_path: Path) -> None:
    oauth._PROVIDERS.clear()
    out = tmp_path / "dry.jsonl"
    ctx = DeliveryContext(DryRunSender(out))
    event = invoice_event(currency="USD", x_taxes=TAX)
    billed = dict(event, type="session.billed", data={"session": {"id": "S-100"}, "invoice": event["data"]["invoice"]})
    results = {
        "stripe": stripe.deliver(event, stripe.StripeConfig(api_key="sk_live_hidden42", customer_map={"C-1": "cus_1"}), ctx),
        "paypal": paypal.deliver(event, paypal.PayPalConfig(client_id="cid", client_secret="pp-hidden42",
                                                            invoicer_email="billing@evcharge.example"), ctx),
        "square": square.deliver(event, square.SquareConfig(access_token="sq-hidden42", location_id="L1",
                                                                    customer_map={"C-1": "SQ-1"}), ctx),
        "plaid": plaid.deliver(event, plaid.PlaidConfig(client_id="cid", secret="plaid-hidden42", accounts={
            "C-1": plaid.PlaidAccount(access_token="access-hidden42", account_id="acc-1", legal_name="Jane")}), ctx),
        "xero": xero.deliver(event, xero.XeroConfig(client_id="cid", client_secret="x-hidden42", refresh_token="rt-hidden42",
                                                    xero_tenant_id="org-1"), ctx),
        "quickbooks": quickbooks.deliver(billed, quickbooks.QuickBooksConfig(
            realm_id="1", client_id="cid", client_secret="q-hidden42", refresh_token="qrt-hidden42",
            receivable_account="84", default_tax_account="90", customer_map={"C-1": "58"}), ctx),
    }
    assert {k: v["status"] for k, v in results.items()} == dict.fromkeys(results, "sent")
    text = out.read_text(encoding="utf-8")
    assert "hidden42" not in text
    calls = [(c["method"], c["url"]) for c in lines(out)]
    assert calls == [
        ("POST", "https://api.stripe.com/v1/invoices"),
        ("POST", "https://api.stripe.com/v1/invoiceitems"), ("POST", "https://api.stripe.com/v1/invoiceitems"),
        ("GET", "https://api.stripe.com/v1/invoices/in_dry_run/lines"),  # to put our tax amounts on its lines
        ("POST", "https://api.stripe.com/v1/invoices/in_dry_run/lines/il_dry_run_L1"),
        ("POST", "https://api.stripe.com/v1/invoices/in_dry_run/lines/il_dry_run_L2"),
        ("GET", "https://api.stripe.com/v1/invoices/in_dry_run"),  # its totals, checked before finalizing
        ("POST", "https://api.stripe.com/v1/invoices/in_dry_run/finalize"),
        ("POST", "https://api.stripe.com/v1/invoices/in_dry_run/send"),
        ("POST", "https://api-m.paypal.com/v1/oauth2/token"),
        ("POST", "https://api-m.paypal.com/v2/invoicing/search-invoices"),
        ("POST", "https://api-m.paypal.com/v2/invoicing/invoices"),
        ("POST", "https://api-m.paypal.com/v2/invoicing/invoices/INV2-DRY-RUN/send"),
        ("POST", "https://connect.squareup.com/v2/orders"), ("POST", "https://connect.squareup.com/v2/invoices"),
        ("POST", "https://connect.squareup.com/v2/invoices/dry-run-invoice/publish"),
        ("POST", "https://production.plaid.com/transfer/authorization/create"),
        ("POST", "https://production.plaid.com/transfer/create"),
        ("POST", "https://identity.xero.com/connect/token"),
        ("PUT", "https://api.xero.com/api.xro/2.0/Invoices"),
        ("POST", "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"),
        ("POST", "https://quickbooks.api.intuit.com/v3/company/1/journalentry"),
    ]
    by_url = {c["url"]: c for c in lines(out)}
    assert schema_errors("paypal/invoices_create.schema.json", by_url["https://api-m.paypal.com/v2/invoicing/invoices"]["json"]) == []
    assert schema_errors("square/orders_create.schema.json", by_url["https://connect.squareup.com/v2/orders"]["json"]) == []
    plaid_auth = by_url["https://production.plaid.com/transfer/authorization/create"]["json"]
    assert plaid_auth["amount"] == "10.76" and plaid_auth["access_token"] == "***"
    assert by_url["https://production.plaid.com/transfer/create"]["json"]["authorization_id"] == "dry-run-authorization"
    xero_put = by_url["https://api.xero.com/api.xro/2.0/Invoices"]
    assert xero_put["headers"]["Idempotency-Key"] == "evbill:t1:inv_S-100:invoice"
    assert [li["LineAmount"] for li in xero_put["json"]["Invoices"][0]["LineItems"]] == [1.0, 9.13]
    qbo = by_url["https://quickbooks.api.intuit.com/v3/company/1/journalentry"]
    assert qbo["params"]["requestid"] == quickbooks.request_id(billed)
    assert qbo["json"]["Line"][0]["Amount"] == 10.76

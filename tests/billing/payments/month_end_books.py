"""The outbound half of the month-end test: three customers' tariffs, and all ten finance platforms' doubles
configured for tenant A with secrets as ``env:`` references (the worker reads them when it delivers)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

from connector.platforms import oauth
from connector.storage.tables.platforms import PlatformConfigRow
from tests.platforms.fakes.finance_vendors import FinanceVendors
from tests.platforms.fakes.paypal import PayPalDouble
from tests.platforms.fakes.plaid import PlaidDouble
from tests.platforms.fakes.quickbooks import AR, QuickBooksDouble
from tests.platforms.fakes.square import SquareDouble
from tests.platforms.fakes.stripe import StripeDouble
from tests.platforms.fakes.xero import TENANT, XeroDouble

# prices whose taxes are exact at every session (whole euros at 19 %, 4-dollar steps at 6.25 % and 2.25 %,
# 250-krónur steps at 24 %): every vendor, whatever its rounding, must then hold our money to the minor unit
TARIFFS: list[dict[str, Any]] = [
    {"id": "T-EUR", "currency": "EUR",
     "elements": [{"price_components": [{"type": "ENERGY", "price": "0.50", "vat": "19", "step_size": 1}]}]},
    {"id": "T-USD", "currency": "USD",
     "x_taxes": [{"name": "State sales tax", "rate": "6.25"}, {"name": "City sales tax", "rate": "2.25"}],
     "elements": [{"price_components": [{"type": "ENERGY", "price": "0.25", "step_size": 1}]}]},
    {"id": "T-ISK", "currency": "ISK",
     "elements": [{"price_components": [{"type": "ENERGY", "price": "50", "vat": "24", "step_size": 1}]}]},
]
# (our customer, name, tariff, kWh per session on the 5th, 12th, 19th and 26th)
CUSTOMERS: list[tuple[str, str, str, tuple[int, ...]]] = [
    ("C-EU", "Ada GmbH", "T-EUR", (24, 20, 22, 24)),
    ("C-US", "Bo Fleet Inc", "T-USD", (32, 16, 32, 16)),
    ("C-IS", "Eldur ehf", "T-ISK", (15, 10, 15, 10)),
]
DAYS = (5, 12, 19, 26)
ZOHO_TAX = {"19": "460000000040001", "24": "460000000040024", "6.25": "460000000040625", "2.25": "460000000040225"}
# the USD line's state + city sales tax: one tax group at each vendor that takes one tax per line
ZOHO_GROUP, NS_GROUP = "460000000040850", "12"
QBO_TAX = {"VAT": "90", "State sales tax": "91", "City sales tax": "92"}
QBO_CUSTOMER = {"C-EU": "58", "C-US": "59", "C-IS": "60"}
SAP_DEBTOR = {"C-EU": "100001", "C-US": "100002", "C-IS": "100003"}
SFIN_AMOUNT = "AmountInTransactionCurrency"


@pytest.fixture
def books() -> Iterator[dict[str, Any]]:
    """Every finance platform's double on 127.0.0.1 (Zoho Books, FreshBooks, NetSuite and SAP share one server)."""
    started = {"stripe": StripeDouble(), "paypal": PayPalDouble(), "square": SquareDouble(), "plaid": PlaidDouble(),
               "xero": XeroDouble(), "quickbooks": QuickBooksDouble(), "vendors": FinanceVendors()}
    for d in started.values():
        d.start()
    yield started
    for d in started.values():
        d.stop()


def configure_books(engine: Any, d: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                    only: tuple[str, ...] | None = None) -> None:
    """Enable the finance platforms (``only``: these) for tenant A, each pointed at its double."""
    plaid_accounts = {"C-US": {"access_token": "access-sandbox-1", "account_id": "acc-1", "legal_name": "Bo Fleet Inc"}}
    for var, value in {"STRIPE_KEY": "sk_test_123", "PAYPAL_SECRET": "csecret", "SQUARE_TOKEN": "sq-token",
                       "PLAID_SECRET": "sandbox-secret", "PLAID_ACCOUNTS": json.dumps(plaid_accounts),
                       "XERO_SECRET": "csecret", "XERO_RT": "rt-0", "QBO_SECRET": "csecret", "QBO_RT": "rt-0",
                       "SAP_PASSWORD": "sap-secret", "NS_TOKEN_SECRET": "ns-ts",
                       oauth.TOKEN_KEY_ENV: Fernet.generate_key().decode()}.items():
        monkeypatch.setenv(var, value)
    vendors = d["vendors"]
    vendors.tokens.add("static")
    vendors.ns_tax_rates.update({"9": Decimal("24"), "10": Decimal("6.25"), "11": Decimal("2.25")})
    vendors.ns_tax_groups[NS_GROUP] = ["10", "11"]
    vendors.zoho_tax_rates.update({ZOHO_TAX["24"]: Decimal("24"), ZOHO_TAX["6.25"]: Decimal("6.25"),
                                   ZOHO_TAX["2.25"]: Decimal("2.25")})
    vendors.zoho_tax_groups[ZOHO_GROUP] = [ZOHO_TAX["6.25"], ZOHO_TAX["2.25"]]
    vendors.zoho_tax_rounding = "invoice"  # Zoho's invoice-level tax rounding: VAT per rate, as our invoice states it
    ours = [*(c for c, *_ in CUSTOMERS), "C-1"]  # C-1: the invoicing tests' customer
    configs: dict[str, dict[str, Any]] = {
        "stripe": {"api_key": "env:STRIPE_KEY", "api_base": d["stripe"].url, "customer_map": {c: f"cus_{c}" for c in ours}},
        "paypal": {"client_id": "cid", "client_secret": "env:PAYPAL_SECRET", "api_base": d["paypal"].url,
                   "invoicer_email": "billing@evcharge.example"},
        "square": {"access_token": "env:SQUARE_TOKEN", "location_id": "L1", "api_base": d["square"].url,
                   "customer_map": {c: f"SQ-{c}" for c in ours}},
        "plaid": {"client_id": "cid", "secret": "env:PLAID_SECRET", "api_base": d["plaid"].url,
                  "accounts": "env:PLAID_ACCOUNTS"},
        "xero": {"client_id": "cid", "client_secret": "env:XERO_SECRET", "refresh_token": "env:XERO_RT",
                 "xero_tenant_id": TENANT, "token_url": d["xero"].url + "/connect/token",
                 "api_base": d["xero"].url + "/api.xro/2.0"},
        "quickbooks": {"realm_id": "9130350000000000", "client_id": "cid", "client_secret": "env:QBO_SECRET",
                       "refresh_token": "env:QBO_RT", "receivable_account": AR,
                       "token_url": d["quickbooks"].url + "/oauth2/v1/tokens/bearer", "api_base": d["quickbooks"].url},
        "zoho_books": {"organization_id": "60001", "api_base": vendors.url, "access_token": "static",
                       "customer_ids": {c: f"46{c}" for c in ours}, "tax_ids": ZOHO_TAX,
                       "tax_groups": {"State sales tax:6.25+City sales tax:2.25": ZOHO_GROUP}},
        "freshbooks": {"account_id": "AbC123", "api_base": vendors.url, "access_token": "static",
                       "customer_classes": ["fleet"], "client_ids": {c: f"42{c}" for c in ours}},
        "netsuite": {"account_id": "1234567_SB1", "base_url": vendors.url, "consumer_key": "ns-ck",
                     "consumer_secret": "ns-cs", "token_id": "ns-token", "token_secret": "env:NS_TOKEN_SECRET",
                     "item_ids": {"energy": "1201"}, "customer_ids": {c: f"7{c}" for c in ours},
                     "tax_codes": {"19": "8", "24": "9", "6.25": "10", "2.25": "11"},
                     "tax_groups": {"6.25+2.25": NS_GROUP}},
        "sap_s4hana": {"soap_url": vendors.url + "/sap/bc/srt/scs_ext/sap/journalentrycreaterequestconfi",
                       "username": "EVB_COMM", "password": "env:SAP_PASSWORD", "comp_code": "1010",
                       "customer_ids": SAP_DEBTOR, "tax_codes": {"19": "O1", "24": "O4", "6.25": "O5", "2.25": "O6"},
                       "revenue_accounts": {"energy": "800000"}},
    }
    mappings = {"xero": {"tax_types": {"VAT:19": "OUTPUT2", "VAT:24": "OUTPUT3", "State sales tax:6.25": "TAX001",
                                       "City sales tax:2.25": "TAX002"}},
                "quickbooks": {"tax_accounts": QBO_TAX, "customer_map": QBO_CUSTOMER}}
    with Session(engine) as db:
        for name, config in configs.items():
            if only is not None and name not in only:
                continue
            db.add(PlatformConfigRow(tenant_id="A", platform=name, enabled=True, config=config,
                                     field_mapping=mappings.get(name, {})))
        db.commit()


def quickbooks_books(d: QuickBooksDouble) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """Per QuickBooks customer: (receivable debited, revenue credited, tax credited) over its journal entries."""
    out: dict[str, list[Decimal]] = {}
    for entry in d.entries.values():
        lines = entry["body"]["Line"]
        [customer] = {ln["JournalEntryLineDetail"]["Entity"]["EntityRef"]["value"] for ln in lines
                      if ln["JournalEntryLineDetail"].get("Entity")}
        acc = out.setdefault(customer, [Decimal(0)] * 3)
        for ln in lines:
            detail, amount = ln["JournalEntryLineDetail"], Decimal(str(ln["Amount"]))
            signed = amount if detail["PostingType"] == "Debit" else -amount
            account = detail["AccountRef"]["value"]
            slot = 0 if account == AR else 2 if account in QBO_TAX.values() else 1
            acc[slot] += signed if slot == 0 else -signed
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


def sap_books(d: FinanceVendors) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """Per SAP debtor: (debtor items, revenue items, tax items) of its journal entries, read from the SOAP XML."""
    out: dict[str, list[Decimal]] = {}
    for doc in d.sap_documents.values():
        root = ET.fromstring(doc["xml"])
        for entry in root.iter("JournalEntry"):
            debtor = str(int(entry.findtext("DebtorItem/Debtor") or "0"))
            acc = out.setdefault(debtor, [Decimal(0)] * 3)
            acc[0] += sum((Decimal(e.findtext(SFIN_AMOUNT) or "0") for e in entry.iter("DebtorItem")), Decimal(0))
            acc[1] -= sum((Decimal(e.findtext(SFIN_AMOUNT) or "0") for e in entry.iter("Item")), Decimal(0))
            acc[2] -= sum((Decimal(e.findtext(SFIN_AMOUNT) or "0") for e in entry.iter("ProductTaxItem")), Decimal(0))
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}

"""One day of sessions through the real outbox worker to all six finance adapters (real HttpSender,
registry, per-tenant settings with env: secret references), with 429/500s and lost answers injected and
a worker restart in the middle: every vendor ends up with exactly one object per invoice/session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from connector.events import worker
from connector.events.deliveries import Policy
from connector.events.outbox import emit
from connector.platforms import oauth
from connector.platforms.adapters import stripe
from connector.storage.tables import all_metadata
from connector.storage.tables.outbox import DeliveryRow
from connector.storage.tables.platforms import PlatformConfigRow
from tests.platforms.fakes.paypal import PayPalDouble
from tests.platforms.fakes.plaid import PlaidDouble
from tests.platforms.fakes.quickbooks import AR, QuickBooksDouble
from tests.platforms.fakes.square import SquareDouble
from tests.platforms.fakes.stripe import StripeDouble
from tests.platforms.fakes.xero import TENANT, XeroDouble
from tests.platforms.finance_events import billed_event

SESSIONS = 5
TAX = [{"name": "State sales tax", "rate": "6.25"}]
POLICY = Policy(max_attempts=8, base_delay=1, max_delay=5)
T0 = datetime(2026, 1, 13, 23, 0, tzinfo=UTC)


@pytest.fixture
def doubles() -> Iterator[dict[str, Any]]:
    started = {"stripe": StripeDouble(), "paypal": PayPalDouble(), "square": SquareDouble(), "plaid": PlaidDouble(),
               "xero": XeroDouble(), "quickbooks": QuickBooksDouble()}
    for d in started.values():
        d.start()
    yield started
    for d in started.values():
        d.stop()


def configure(engine: Any, d: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    accounts = {"C-1": {"access_token": "access-sandbox-1", "account_id": "acc-1", "legal_name": "Jane Driver"}}
    for var, value in {"STRIPE_KEY": "sk_test_123", "PAYPAL_SECRET": "csecret", "SQUARE_TOKEN": "sq-token",
                       "PLAID_SECRET": "sandbox-secret", "PLAID_ACCOUNTS": json.dumps(accounts),
                       "XERO_SECRET": "csecret", "XERO_RT": "rt-0", "QBO_SECRET": "csecret", "QBO_RT": "rt-0",
                       oauth.TOKEN_KEY_ENV: Fernet.generate_key().decode()}.items():
        monkeypatch.setenv(var, value)
    configs = {
        "stripe": {"api_key": "env:STRIPE_KEY", "api_base": d["stripe"].url, "customer_map": {"C-1": "cus_1"}},
        "paypal": {"client_id": "cid", "client_secret": "env:PAYPAL_SECRET", "api_base": d["paypal"].url,
                   "invoicer_email": "billing@evcharge.example"},
        "square": {"access_token": "env:SQUARE_TOKEN", "location_id": "L1", "api_base": d["square"].url,
                   "customer_map": {"C-1": "SQ-C-1"}},
        "plaid": {"client_id": "cid", "secret": "env:PLAID_SECRET", "api_base": d["plaid"].url,
                  "accounts": "env:PLAID_ACCOUNTS"},
        "xero": {"client_id": "cid", "client_secret": "env:XERO_SECRET", "refresh_token": "env:XERO_RT",
                 "xero_tenant_id": TENANT, "token_url": d["xero"].url + "/connect/token",
                 "api_base": d["xero"].url + "/api.xro/2.0"},
        "quickbooks": {"realm_id": "9130350000000000", "client_id": "cid", "client_secret": "env:QBO_SECRET",
                       "refresh_token": "env:QBO_RT", "receivable_account": AR,
                       "token_url": d["quickbooks"].url + "/oauth2/v1/tokens/bearer", "api_base": d["quickbooks"].url},
    }
    mappings = {"xero": {"tax_types": {"State sales tax:6.25": "TAX001"}},
                "quickbooks": {"tax_accounts": {"State sales tax": "90"}, "customer_map": {"C-1": "58"}}}
    with Session(engine) as db:
        for name, config in configs.items():
            db.add(PlatformConfigRow(tenant_id="t1", platform=name, enabled=True, config=config,
                                     field_mapping=mappings.get(name, {})))
        db.commit()


def emit_sessions(engine: Any, sessions: range) -> list[dict[str, Any]]:
    """Per session: ``session.billed`` (its per-session invoice still a draft), then ``invoice.finalized``."""
    finalized = []
    with Session(engine) as db:
        for i in sessions:
            # 16 kWh steps: 6.24 USD of energy, whose 6.25 % tax is exact, so vendors that recompute the tax of
            # each item (PayPal, Square) agree with ours; where rounding differs they are refused, with the
            # reason (test_paypal, test_square): this test is about retries and duplicates
            billed = billed_event("USD", sid=f"S-{i}", energy=f"{16 * (i + 1)}", status="draft", number=None,
                                  x_taxes=TAX)
            emit(db, "t1", "session.billed", billed["data"], created_at=T0 + timedelta(minutes=i))
            inv = dict(billed["data"]["invoice"], status="finalized", number=f"INV-{i + 1:04d}")
            emit(db, "t1", "invoice.finalized", {"invoice": inv}, created_at=T0 + timedelta(minutes=i, seconds=30))
            finalized.append(inv)
        db.commit()
    return finalized


def test_a_day_through_the_worker_reaches_every_vendor_once(doubles: dict[str, Any], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    engine = create_engine(url)
    all_metadata().create_all(engine)
    configure(engine, doubles, monkeypatch)
    invoices = emit_sessions(engine, range(3))
    d = doubles
    d["stripe"].fail("/v1/invoiceitems", 429, 500, retry_after="1")
    d["stripe"].lose("/v1/invoices/")
    d["paypal"].fail("/v2/invoicing/invoices", 500, 429)
    d["paypal"].lose("/v2/invoicing/invoices")
    d["square"].fail("/v2/orders", 429, 429, 500, retry_after="2")
    d["square"].lose("/v2/orders")
    d["plaid"].fail("/transfer/create", 500)
    d["plaid"].lose("/transfer/create")
    d["xero"].fail("/api.xro/2.0/Invoices", 503, 429)
    d["xero"].lose("/api.xro/2.0/Invoices")
    d["quickbooks"].fail("/v3/company/", 429, 500, 500, retry_after="1")
    d["quickbooks"].lose("/v3/company/")

    now = T0 + timedelta(hours=1)
    for n in range(12):
        if n == 4:  # worker restart: new engine, no token cache, rotated refresh tokens only in the database;
            engine.dispose()  # the rest of the day's sessions arrive after it
            engine = create_engine(url)
            oauth._PROVIDERS.clear()
            invoices += emit_sessions(engine, range(3, SESSIONS))
        worker.run_once(engine, now, policy=POLICY)
        now += timedelta(minutes=10)

    with Session(engine) as db:
        rows = db.scalars(select(DeliveryRow)).all()
    assert {r.status for r in rows} == {"sent"}, [(r.target, r.status, r.last_error) for r in rows if r.status != "sent"]
    assert len(rows) == SESSIONS * (2 * 5 + 1)  # both events to five adapters; QuickBooks takes session.billed only
    due = [stripe.minor(inv["amount_due"], "USD", "amount_due") for inv in invoices]
    # Stripe: one invoice per invoice, items summing to amount_due, sent once
    assert len(d["stripe"].invoices) == SESSIONS
    assert sorted(inv["total"] for inv in d["stripe"].invoices.values()) == sorted(due)
    # ...and Stripe's revenue and tax are ours: tax reaches Stripe as tax, not as an item
    ours = sorted((stripe.minor(inv["net_total"], "USD", "n"), stripe.minor(inv["tax_total"], "USD", "t"))
                  for inv in invoices)
    assert sorted((d["stripe"].revenue(inv), d["stripe"].tax(inv)) for inv in d["stripe"].invoices.values()) == ours
    assert all(inv["sent"] == 1 for inv in d["stripe"].invoices.values())
    # PayPal: one invoice and one mail per number
    assert sorted(i["body"]["detail"]["invoice_number"] for i in d["paypal"].invoices.values()) == [
        f"EV-INV-{i + 1:04d}" for i in range(SESSIONS)]
    assert len(d["paypal"].mails) == SESSIONS
    assert sorted(i["total"] for i in d["paypal"].invoices.values()) == sorted(Decimal(x) / 100 for x in due)
    # Square: one order per invoice with total_money = amount_due, Square's tax = ours, one published invoice each
    assert sorted(o["total_money"]["amount"] for o in d["square"].orders.values()) == sorted(due)
    assert sorted(o["total_tax_money"]["amount"] for o in d["square"].orders.values()) == sorted(t for _, t in ours)
    assert [i["status"] for i in d["square"].invoices.values()] == ["UNPAID"] * SESSIONS
    # Plaid: one authorization and one transfer per invoice
    assert len(d["plaid"].authorizations) == SESSIONS
    assert sorted(Decimal(t["amount"]) for t in d["plaid"].transfers.values()) == sorted(Decimal(x) / 100 for x in due)
    # Xero: one invoice each; QuickBooks: one balanced entry per session
    assert sorted(i["total"] for i in d["xero"].invoices.values()) == sorted(Decimal(x) / 100 for x in due)
    assert sorted(e["total"] for e in d["quickbooks"].entries.values()) == sorted(Decimal(x) / 100 for x in due)
    # the restart did not lock Xero/QuickBooks out: the rotated refresh token came from the encrypted store
    for name in ("xero", "quickbooks"):
        presented = [c["body"]["refresh_token"] for c in d[name].calls(d[name].TOKEN_PATHS[0])]
        assert presented[0] == "rt-0" and "rt-0" not in presented[1:] and len(presented) == 2

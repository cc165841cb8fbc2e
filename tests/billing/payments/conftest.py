"""Payment tests: the real API app (temp SQLite, and PostgreSQL where marked), tenant A with finalized invoices,
payment platforms configured for A with secrets as ``file:`` references, and the vendors' read APIs on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.api.payments import SENDER_KEY
from tests.billing.invoicing.conftest import A, app, client, db_url, ingest, setup_tenant  # noqa: F401 - fixtures
from tests.billing.payments.vendors import PAYPAL_WEBHOOK_ID, PLAID, STRIPE_KEY, XERO_ORG, PaymentVendors
from tests.platforms.fakes.http import OneShotHttp

STRIPE_SECRET = "whsec_test_secret"
SQUARE_KEY = "square-signature-key"
XERO_KEY = "xero-webhook-key"
WEBHOOK_BASE = "http://localhost/v1/payments/webhooks"


@pytest.fixture
def vendors() -> Iterator[PaymentVendors]:
    with PaymentVendors() as fake:
        yield fake


@pytest.fixture
def http(app: Any) -> OneShotHttp:  # noqa: F811 - the fixture above
    sender = OneShotHttp()
    app.extensions[SENDER_KEY] = sender
    return sender


def secret_ref(tmp_path: Path, name: str, value: str) -> str:
    path = tmp_path / f"{name}.secret"
    path.write_text(value, encoding="utf-8")
    return f"file:{path}"


def configure(client: Any, tmp_path: Path, vendors: PaymentVendors, *names: str) -> None:  # noqa: F811
    """Enable the payment platforms for tenant A, pointed at the vendors double."""
    ref = lambda n, v: secret_ref(tmp_path, n, v)  # noqa: E731
    configs: dict[str, dict[str, Any]] = {
        "stripe": {"api_key": ref("stripe_key", STRIPE_KEY), "api_base": vendors.url,
                   "webhook_secret": ref("stripe_whsec", STRIPE_SECRET)},
        "square": {"access_token": ref("square_token", "sq-token"), "location_id": "L1", "api_base": vendors.url,
                   "webhook_signature_key": ref("square_key", SQUARE_KEY),
                   "webhook_url": f"{WEBHOOK_BASE}/square/A"},
        "xero": {"client_id": "cid", "client_secret": ref("xero_secret", "csecret"),
                 "refresh_token": ref("xero_rt", "rt-0"), "xero_tenant_id": XERO_ORG,
                 "token_url": f"{vendors.url}/connect/token", "api_base": f"{vendors.url}/api.xro/2.0",
                 "webhook_key": ref("xero_key", XERO_KEY)},
        "paypal": {"client_id": "cid", "client_secret": ref("paypal_secret", "csecret"), "api_base": vendors.url,
                   "invoicer_email": "billing@example.org", "webhook_id": PAYPAL_WEBHOOK_ID},
        "plaid": {"client_id": PLAID[0], "secret": ref("plaid_secret", PLAID[1]), "api_base": vendors.url},
    }
    for name in names:
        r = client.put(f"/v1/platforms/{name}", json={"enabled": True, "config": configs[name]}, headers=A)
        assert r.status_code == 200, r.get_data(as_text=True)


def finalized_invoice(client: Any, session_id: str, customer: str = "C-1", **kw: Any) -> dict[str, Any]:  # noqa: F811
    """Bill one session onto its own invoice and finalize it (3.57 EUR for the default 10 kWh)."""
    inv_id = ingest(client, session_id, customer=customer, **kw)["billing"]["invoice_id"]
    r = client.post(f"/v1/invoices/{inv_id}/finalize", headers=A)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def invoice(client: Any, invoice_id: str) -> dict[str, Any]:  # noqa: F811
    return client.get(f"/v1/invoices/{invoice_id}", headers=A).get_json()


def payments(client: Any, invoice_id: str) -> list[dict[str, Any]]:  # noqa: F811
    return client.get("/v1/payments", query_string={"invoice_id": invoice_id}, headers=A).get_json()["items"]


def cash_entries(client: Any, invoice_id: str) -> list[tuple[str, str, str]]:  # noqa: F811
    """(source, account, debit-credit) of the journal lines on the cash account for the invoice."""
    entries = client.get("/v1/ledger/entries", query_string={"reference": invoice_id}, headers=A).get_json()["items"]
    return sorted((e["source"], ln["debit"], ln["credit"]) for e in entries for ln in e["lines"]
                  if ln["account"] == "1000")


def anomalies(client: Any, rule: str) -> list[dict[str, Any]]:  # noqa: F811
    return client.get("/v1/anomalies", query_string={"rule": rule}, headers=A).get_json()["items"]


def emitted(app: Any, event_type: str) -> list[dict[str, Any]]:  # noqa: F811
    """The ``data`` of every event of ``event_type`` in tenant A's outbox."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from connector.storage.tables.outbox import EventRow

    with Session(app.extensions["evbill.engine"]) as s:
        return [dict(r.data) for r in s.scalars(select(EventRow).where(EventRow.tenant_id == "A",
                                                                       EventRow.type == event_type))]

"""The invoice's VAT policy (``EVBILL_INVOICE_VAT``): ``per_rate`` levies each rate once on the finalized invoice's
net, ``from_totals`` keeps the sum of the sessions' rated VAT (issue 14's invariant). Ledger, credit notes, void
and reconciliation follow the invoiced amounts; sessions stay as rated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from connector import config
from connector.billing.invoicing.vat import per_rate_shares
from connector.events.fanout import fan_out
from connector.storage.tables.billing import InvoiceLineRow
from connector.storage.tables.outbox import DeliveryRow, EventRow
from tests.billing.invoicing.conftest import KEY_A, A, ingest, setup_tenant
from tests.billing.payments.month_end_books import books  # noqa: F401 - a fixture

# 9.985 kWh at 0.30 EUR + 19 %: net 2.9955 -> 3.00, gross 3.564645 -> 3.56, so the session's VAT is 0.56 while
# 19 % of the 3.00 it bills is 0.57: the one-cent case of about a third of single-rate invoices
KWH = "9.985"


def _balances(client: Any) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for entry in client.get("/v1/ledger/entries", query_string={"limit": 1000}, headers=A).get_json()["items"]:
        for ln in entry["lines"]:
            out[ln["account"]] = out.get(ln["account"], Decimal(0)) + Decimal(ln["debit"]) - Decimal(ln["credit"])
    return {k: v for k, v in out.items() if v}


def _events(app: Any, type_: str) -> list[dict[str, Any]]:
    with DbSession(app.extensions["evbill.engine"]) as db:
        return [r.data for r in db.scalars(select(EventRow).where(EventRow.type == type_).order_by(EventRow.id))]


def _two_sessions(client: Any) -> str:
    setup_tenant(client)
    first = ingest(client, "S-1", kwh=KWH, customer="C-1")
    ingest(client, "S-2", kwh=KWH, customer="C-1", start="2026-01-13T16:00:00Z", end="2026-01-13T17:00:00Z")
    billed = first["billing"] if "billing" in first else first
    invoice_id = billed["invoice_id"] if "invoice_id" in billed else billed["billed"]["invoice_id"]
    draft = client.get(f"/v1/invoices/{invoice_id}", headers=A).get_json()
    # the draft is the sum of the sessions as rated
    assert (draft["net_total"], draft["tax_total"], draft["amount_due"]) == ("6.00", "1.12", "7.12")
    return str(invoice_id)


def test_per_rate_restates_the_vat_once_on_the_invoice_net(app, client):
    invoice_id = _two_sessions(client)
    r = client.post(f"/v1/invoices/{invoice_id}/finalize", headers=A)
    doc = r.get_json()
    assert (doc["net_total"], doc["tax_total"], doc["gross_total"], doc["amount_due"]) == \
        ("6.00", "1.14", "7.14", "7.14")
    assert doc["taxes"] == [{"name": "VAT", "rate": "19", "compound": False, "taxable_base": "6.00", "amount": "1.14"}]
    assert sum(Decimal(ln["tax"]) for ln in doc["lines"]) == Decimal("1.14")
    assert all(Decimal(ln["gross"]) == Decimal(ln["net"]) + Decimal(ln["tax"]) for ln in doc["lines"])
    # the ledger: receivable = the invoice, tax payable = its VAT, revenue = its net
    [restated] = [e for e in client.get("/v1/ledger/entries", query_string={"limit": 1000}, headers=A).get_json()[
        "items"] if e["source"] == "invoice.finalized"]
    assert restated["memo"] == f"invoice {doc['number']}: VAT per rate on its net"
    assert sorted((ln["account"], ln["debit"], ln["credit"]) for ln in restated["lines"]) == [
        ("1200", "0.02", "0.00"), ("2200", "0.00", "0.02")]
    # platforms that booked the two sessions as rated (SAP, QuickBooks) are told what moved, per rate
    [event] = _events(app, "invoice.vat_restated")
    assert event["restatement"] == {"receivable": "0.02", "taxes": [{"name": "VAT", "rate": "19", "amount": "0.02"}]}
    assert event["invoice"]["id"] == invoice_id and event["invoice"]["amount_due"] == "7.14"
    balances = _balances(client)
    assert (balances.pop("1200"), balances.pop("2200")) == (Decimal("7.14"), Decimal("-1.14"))
    assert sum(balances.values()) == Decimal("-6.00")  # revenue
    # reconciliation: billed = invoiced, and no session is a mismatch (each is billed as it was rated)
    report = client.post("/v1/reconciliations", json={"kind": "daily", "period": "2026-01-13", "mode": "stored"},
                         headers=A).get_json()
    summary = report["summary"]
    assert (summary["billed"], summary["expected"]) == ("7.14", "7.12")
    assert summary["exceptions"] == {}
    # a full credit note takes back exactly what was invoiced; the ledger is square again
    note = client.post(f"/v1/invoices/{invoice_id}/credit-notes", json={"reason": "goodwill"}, headers=A).get_json()
    assert (note["tax_total"], note["amount_due"]) == ("1.14", "7.14")
    assert _balances(client) == {}
    report = client.post("/v1/reconciliations", json={"kind": "daily", "period": "2026-01-13", "mode": "stored"},
                         headers=A).get_json()
    assert report["summary"]["billed"] == "0.00"


def test_webhooks_can_subscribe_to_the_restatement(app, client):
    """``invoice.vat_restated`` is a public event type: a subscriber's own books can post the same adjustment."""
    created = client.post("/v1/subscriptions", headers=A, json={"callback_url": "https://books.example.org/hook",
                                                               "event_types": ["invoice.vat_restated"]})
    assert created.status_code == 201, created.get_data(as_text=True)
    hook = f"webhook:{created.get_json()['id']}"
    invoice_id = _two_sessions(client)
    assert client.post(f"/v1/invoices/{invoice_id}/finalize", headers=A).status_code == 200
    with DbSession(app.extensions["evbill.engine"]) as db:
        fan_out(db, datetime(2026, 2, 1, tzinfo=UTC), {}, 1000)
        delivered = db.execute(select(EventRow.type, EventRow.data).join(
            DeliveryRow, DeliveryRow.event_id == EventRow.id).where(DeliveryRow.target == hook)).all()
    assert [(t, d["restatement"]["receivable"]) for t, d in delivered] == [("invoice.vat_restated", "0.02")]


def test_per_rate_void_reverses_what_was_invoiced(app, client):
    invoice_id = _two_sessions(client)
    assert client.post(f"/v1/invoices/{invoice_id}/finalize", headers=A).get_json()["amount_due"] == "7.14"
    assert client.post(f"/v1/invoices/{invoice_id}/void", json={"reason": "test"}, headers=A).status_code == 200
    assert _balances(client) == {}


@pytest.fixture
def from_totals_app(db_url):
    from connector.api import create_app

    application = create_app({"DATABASE_URL": db_url, "API_KEYS": {KEY_A: "A"}, "TESTING": True,
                              "CREATE_TABLES": True, "INVOICE_VAT": "from_totals"})
    yield application
    application.extensions["evbill.engine"].dispose()


def test_from_totals_keeps_the_rated_vat(from_totals_app):
    client = from_totals_app.test_client()
    invoice_id = _two_sessions(client)
    doc = client.post(f"/v1/invoices/{invoice_id}/finalize", headers=A).get_json()
    assert (doc["net_total"], doc["tax_total"], doc["amount_due"]) == ("6.00", "1.12", "7.12")
    assert _balances(client)["1200"] == Decimal("7.12")
    assert _events(from_totals_app, "invoice.vat_restated") == []  # nothing moved, nothing to tell


def test_the_setting_is_read_and_checked_in_config():
    assert config.BillingSettings.from_environ({}).invoice_vat == "per_rate"
    assert config.BillingSettings.from_environ({"EVBILL_INVOICE_VAT": "FROM_TOTALS"}).invoice_vat == "from_totals"
    with pytest.raises(config.ConfigError, match="^EVBILL_INVOICE_VAT: 'per_line' is not one of per_rate, from_totals"):
        config.BillingSettings.from_environ({"EVBILL_INVOICE_VAT": "per_line"})


def _line(line_id: str, net: int, *taxes: tuple[str, str, bool, int]) -> InvoiceLineRow:
    return InvoiceLineRow(line_id=line_id, net=net, tax=sum(t[3] for t in taxes), taxes=[
        {"name": n, "rate": r, "compound": c, "amount": a} for n, r, c, a in taxes])


def test_per_rate_shares_levy_plain_rates_then_compound_ones_on_the_new_amounts():
    # two lines of 0.05 and one of 3.33 under 5 % GST and a 9.975 % QST compounded on net + GST (minor units)
    lines = [_line("a", 5, ("GST", "5", False, 0), ("QST", "9.975", True, 1)),
             _line("b", 5, ("GST", "5", False, 0), ("QST", "9.975", True, 1)),
             _line("c", 333, ("GST", "5", False, 17), ("QST", "9.975", True, 35))]
    shares = per_rate_shares(lines, "CAD")
    # GST: 3.43 x 5 % = 0.1715 -> 0.17; QST on 3.43 + 0.17 = 3.60 x 9.975 % = 0.3591 -> 0.36
    assert sum(v for (_lid, j), v in shares.items() if j == 0) == 17
    assert sum(v for (_lid, j), v in shares.items() if j == 1) == 36
    assert shares[("c", 0)] == 17 and shares[("a", 0)] == shares[("b", 0)] == 0
    # ISK has no minor digits: 19 % of 1,153 kr is 219.07 -> 219
    isk = per_rate_shares([_line("x", 1000, ("VAT", "19", False, 190)), _line("y", 153, ("VAT", "19", False, 30))],
                          "ISK")
    assert isk[("x", 0)] + isk[("y", 0)] == 219


def test_worker_warns_once_at_start_when_a_recomputing_vendor_meets_from_totals(tmp_path, monkeypatch, capsys):
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from connector import cli
    from connector.storage.tables import all_metadata
    from connector.storage.tables.platforms import PlatformConfigRow

    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = create_engine(url)
    all_metadata().create_all(engine)
    with Session(engine) as db:
        db.add(PlatformConfigRow(tenant_id="t1", platform="square", enabled=True, config={}, field_mapping={}))
        db.add(PlatformConfigRow(tenant_id="t2", platform="paypal", enabled=True, config={}, field_mapping={}))
        db.add(PlatformConfigRow(tenant_id="t2", platform="zoho_books", enabled=False, config={}, field_mapping={}))
        db.commit()
    engine.dispose()
    monkeypatch.setenv("EVBILL_INVOICE_VAT", "from_totals")
    assert cli.main(["worker", "--once", "--url", url]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1
    assert "EVBILL_INVOICE_VAT=from_totals while paypal, square recompute tax" in warnings[0]
    monkeypatch.setenv("EVBILL_INVOICE_VAT", "per_rate")
    assert cli.main(["worker", "--once", "--url", url]) == 0
    assert "EVBILL_INVOICE_VAT" not in capsys.readouterr().err


@pytest.mark.parametrize("policy", ["per_rate", "from_totals"])
def test_recomputing_vendors_take_per_rate_and_refuse_from_totals(db_url, books, monkeypatch, policy):  # noqa: F811
    """Square (taxes summed, rounded once) and PayPal (tax per item) compute 19 % of each 3.00 line: 1.14 in all.
    Through the real worker, ``per_rate`` invoices reach both with our money; ``from_totals`` (1.12) is refused
    by both, with both totals in the reason, and nothing is published or mailed to the customer."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from connector.api import create_app
    from connector.events import worker
    from connector.events.deliveries import Policy
    from connector.storage.tables.outbox import DeliveryRow
    from tests.billing.payments.month_end_books import configure_books

    app = create_app({"DATABASE_URL": db_url, "API_KEYS": {KEY_A: "A"}, "TESTING": True, "CREATE_TABLES": True,
                      "INVOICE_VAT": policy})
    client = app.test_client()
    engine = app.extensions["evbill.engine"]
    try:
        configure_books(engine, books, monkeypatch, only=("square", "paypal"))
        invoice_id = _two_sessions(client)
        doc = client.post(f"/v1/invoices/{invoice_id}/finalize", headers=A).get_json()
        assert (doc["tax_total"], doc["amount_due"]) == (("1.14", "7.14") if policy == "per_rate" else ("1.12", "7.12"))
        now = datetime(2026, 2, 1, tzinfo=UTC)
        for _ in range(3):
            worker.run_once(engine, now, policy=Policy(max_attempts=3, base_delay=1, max_delay=2))
            now += timedelta(minutes=5)
        with Session(engine) as db:
            rows = db.scalars(select(DeliveryRow)).all()
            outcome = {(r.target, r.status, r.last_error) for r in rows if r.status != "sent"}
        square, paypal = books["square"], books["paypal"]
        if policy == "per_rate":
            assert outcome == set()
            assert [square.books(oid) for oid in square.orders] == [(714, 600, 114)]
            assert [i["status"] for i in square.invoices.values()] == ["UNPAID"]
            assert [(i["total"], i["tax"]) for i in paypal.invoices.values()] == [(Decimal("7.14"), Decimal("1.14"))]
            assert len(paypal.mails) == 1
        else:
            assert {(t, s) for t, s, _e in outcome} == {("platform:square", "failed"), ("platform:paypal", "failed")}
            reasons = " ".join(str(e) for *_x, e in outcome)
            assert "ours is 7.12 with tax 1.12" in reasons  # PayPal's refusal names both totals
            assert "114" in reasons and "712" in reasons  # so does Square's, in its minor units
            assert square.invoices == {} and paypal.mails == []
    finally:
        engine.dispose()

"""``evbill payments sync``: Plaid Transfer events polled from the stored cursor (settled books, returned reverses
and reopens), Stripe events missed by the webhook repaired from ``GET /v1/events``, and the scheduler's jobs."""

from __future__ import annotations

import json

from connector import cli
from tests.billing.invoicing.conftest import A, setup_tenant
from tests.billing.payments.conftest import (
    anomalies,
    cash_entries,
    configure,
    finalized_invoice,
    invoice,
    payments,
)
from tests.billing.payments.payloads import plaid_event, stripe_event

USD = {"id": "T-USD", "currency": "USD",
       "elements": [{"price_components": [{"type": "ENERGY", "price": "0.40", "step_size": 1}]}]}


def _sync(capsys, db_url, *extra):
    code = cli.main(["payments", "sync", "--url", db_url, *extra])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    return code, lines


def test_plaid_settled_then_returned(client, vendors, tmp_path, db_url, capsys):
    setup_tenant(client)
    assert client.post("/v1/tariffs", json=USD, headers=A).status_code == 201
    configure(client, tmp_path, vendors, "plaid")
    first = finalized_invoice(client, "S-1", tariff="T-USD")  # 10 kWh x 0.40 = 4.00 USD
    second = finalized_invoice(client, "S-2", tariff="T-USD", kwh="5")  # 2.00 USD
    for tid, inv in (("T-1", first), ("T-2", second)):
        vendors.plaid_transfers[tid] = {"id": tid, "amount": inv["amount_due"], "iso_currency_code": "USD",
                                        "network": "ach", "metadata": {"invoice_id": inv["id"], "tenant_id": "A"}}
    vendors.plaid_transfers["T-X"] = {"id": "T-X", "amount": "9.99", "iso_currency_code": "USD",
                                      "metadata": {"invoice_id": first["id"], "tenant_id": "B"}}  # another tenant's
    vendors.plaid_events += [plaid_event(1, "T-1", "pending", "4.00"), plaid_event(2, "T-1", "settled", "4.00"),
                             plaid_event(3, "T-2", "settled", "2.00"), plaid_event(4, "T-X", "settled", "9.99")]

    code, [result] = _sync(capsys, db_url)
    assert code == 0 and (result["platform"], result["events"], result["cursor"]) == ("plaid", 4, "4")
    assert invoice(client, first["id"])["status"] == "paid" and invoice(client, second["id"])["status"] == "paid"
    assert cash_entries(client, first["id"]) == [("payment.received", "4.00", "0.00")]
    assert [p["method"] for p in payments(client, first["id"])] == ["plaid:ach"]

    vendors.plaid_events.append(plaid_event(5, "T-1", "returned", "4.00",
                                            {"failure_code": "R01", "description": "insufficient funds"}))
    code, [result] = _sync(capsys, db_url, "--platform", "plaid", "--tenant", "A")
    assert code == 0 and result["cursor"] == "5"
    assert vendors.calls("/transfer/event/sync")[-1]["body"] == {"after_id": 4, "count": 500}
    assert invoice(client, first["id"])["status"] == "finalized"
    assert cash_entries(client, first["id"]) == [("payment.received", "4.00", "0.00"),
                                                 ("payment.reversed", "0.00", "4.00")]
    [anomaly] = anomalies(client, "payment_returned")
    assert anomaly["details"]["reason"] == "R01: insufficient funds" and anomaly["details"]["reopened"] is True

    code, [result] = _sync(capsys, db_url)  # nothing new: nothing changes
    assert result["events"] == 0 and len(cash_entries(client, first["id"])) == 2


def test_stripe_catch_up_repairs_a_missed_webhook(client, vendors, tmp_path, db_url, capsys):
    setup_tenant(client)
    configure(client, tmp_path, vendors, "stripe")
    inv = finalized_invoice(client, "S-1")
    vendors.stripe_events.append(stripe_event("evt_missed", "invoice.paid", inv["id"], amount_paid=357,
                                              status="paid", created=1769000000))
    vendors.stripe_events.append({"id": "evt_other", "type": "customer.created", "created": 1769000001,
                                  "data": {"object": {}}})
    code, [result] = _sync(capsys, db_url, "--platform", "stripe")
    assert code == 0 and result["booked"] == 1 and result["cursor"] == "1769000000"
    assert invoice(client, inv["id"])["status"] == "paid"
    assert vendors.calls("/v1/events")[0]["args"]["types[]"] in ("invoice.paid", "invoice.payment_succeeded",
                                                                  "invoice.payment_failed")
    code, [result] = _sync(capsys, db_url, "--platform", "stripe")  # same event again (created[gte]): deduped
    assert result["booked"] == 0 and cash_entries(client, inv["id"]) == [("payment.received", "3.57", "0.00")]


def test_sync_reports_a_failing_vendor_and_exits_1(client, vendors, tmp_path, db_url, capsys):
    setup_tenant(client)
    configure(client, tmp_path, vendors, "stripe")
    vendors.fail("/v1/events", 500)
    code, [result] = _sync(capsys, db_url)
    assert code == 1 and result["platform"] == "stripe" and "HTTP 500" in result["error"]


def test_square_and_paypal_catch_up(client, vendors, tmp_path, db_url, capsys):
    """Webhooks lost: the poll reads Square's invoice search (every page) and PayPal's invoice search and books."""
    from tests.billing.payments.payloads import paypal_invoice, square_payment_made

    setup_tenant(client)
    configure(client, tmp_path, vendors, "square", "paypal")
    sq = finalized_invoice(client, "S-1")
    pp = finalized_invoice(client, "S-2", start="2026-01-13T16:00:00Z", end="2026-01-13T17:00:00Z")
    vendors.square_orders["O-1"] = {"id": "O-1", "metadata": {"invoice_id": sq["id"]}}
    paid = square_payment_made("x", "O-1", completed=357, computed=357, status="PAID")["data"]["object"]["invoice"]
    paid["location_id"] = "L1"
    others = [{"id": f"inv:other-{i}", "location_id": "L1", "status": "UNPAID"} for i in range(250)]
    vendors.square_invoices += [*others, paid]  # two pages of 200
    vendors.paypal_invoices["INV2-2"] = paypal_invoice("INV2-2", f"EV-{pp['number']}", "PAID", [("TX-2", "3.57")])

    code, results = _sync(capsys, db_url)
    assert code == 0 and {r["platform"]: r["booked"] for r in results} == {"square": 1, "paypal": 1}
    assert invoice(client, sq["id"])["status"] == "paid" and invoice(client, pp["id"])["status"] == "paid"
    assert [c["body"].get("cursor") for c in vendors.calls("/v2/invoices/search")] == [None, "200"]
    code, results = _sync(capsys, db_url)  # again: the cursors hold, nothing is booked twice
    assert {r["platform"]: r["booked"] for r in results} == {"square": 0, "paypal": 0}
    assert vendors.calls("/v2/invoicing/search-invoices")[-1]["body"]["payment_date_range"]["start"]
    assert cash_entries(client, sq["id"]) == [("payment.received", "3.57", "0.00")]

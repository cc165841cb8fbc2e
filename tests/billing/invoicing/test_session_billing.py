"""Session end -> invoice lines on the customer's draft, journal entry, idempotent; through the API."""

from __future__ import annotations

from tests.billing.invoicing.conftest import A, B, ingest, setup_tenant


def test_end_event_becomes_invoice_lines_with_exact_money(client):
    setup_tenant(client)
    # 10 kWh + 30 min parked after the hour? no: parking needs idle; energy only here
    out = ingest(client, "S-1", customer="C-1")
    billing = out["billing"]
    assert billing["amount_due"] == "3.57" and billing["currency"] == "EUR"
    invoice = billing["invoice"]
    assert invoice["status"] == "draft" and invoice["number"] is None and invoice["kind"] == "invoice"
    assert invoice["customer"] == {"id": "C-1", "name": "Ada", "email": "ada@example.org",
                                   "customer_class": "member", "locale": "en_US", "tax_region": None}
    [line] = billing["lines"]  # the session's own lines; the invoice itself is a summary
    assert (line["session_id"], line["station_id"], line["kind"], line["category"]) == ("S-1", "ST-1", "charge",
                                                                                     "energy")
    assert (line["quantity"], line["unit"], line["unit_price"]) == ("10", "kWh", "0.30")
    assert (line["net"], line["tax"], line["gross"]) == ("3.00", "0.57", "3.57")
    # the line says when and where: the session's start/end on its own (Berlin) wall clock, and its station
    assert (line["session_start"], line["session_end"], line["time_zone"]) == (
        "2026-01-13T15:00:00+01:00", "2026-01-13T16:00:00+01:00", "Europe/Berlin")
    assert line["taxes"] == [{"name": "VAT", "rate": "19", "amount": "0.57"}]
    whole = client.get(f"/v1/invoices/{invoice['id']}", headers=A).get_json()
    assert whole["lines"] == [line] and whole["taxes"] == [{"name": "VAT", "rate": "19", "compound": False,
                                                            "taxable_base": "3.00", "amount": "0.57"}]
    assert (invoice["net_total"], invoice["tax_total"], invoice["gross_total"], invoice["amount_due"]) == (
        "3.00", "0.57", "3.57", "3.57")

    # a second session of the same customer lands on the same draft; totals add up
    second = ingest(client, "S-2", customer="C-1", kwh="5.5")["billing"]
    assert second["invoice_id"] == billing["invoice_id"]
    inv = client.get(f"/v1/invoices/{billing['invoice_id']}", headers=A).get_json()
    assert [ln["gross"] for ln in inv["lines"]] == ["3.57", "1.96"]  # 5.5 kWh * 0.30 = 1.65 + 0.31 VAT
    assert (inv["net_total"], inv["tax_total"], inv["gross_total"]) == ("4.65", "0.88", "5.53")
    assert inv["period_start"] == "2026-01-13T14:00:00+00:00"

    # the session carries its rating and is billed
    got = client.get("/v1/sessions/S-1", headers=A).get_json()
    assert got["status"] == "billed" and got["rating"]["invoice"]["gross_total"] == "3.57"
    # another tenant sees nothing
    assert client.get(f"/v1/invoices/{billing['invoice_id']}", headers=B).status_code == 404
    assert client.get("/v1/invoices", headers=B).get_json()["items"] == []


def test_duplicate_end_returns_the_same_bill_and_one_line(client):
    setup_tenant(client)
    first = ingest(client, "S-D", customer="C-1")
    again = ingest(client, "S-D", customer="C-1")
    assert again["status"] == "duplicate"
    assert again["billing"]["invoice_id"] == first["billing"]["invoice_id"]
    items = client.get("/v1/invoices", query_string={"session_id": "S-D"}, headers=A).get_json()["items"]
    assert [len(i["lines"]) for i in items] == [1]


def test_journal_entry_per_session_is_balanced(client):
    setup_tenant(client)
    ingest(client, "S-J", customer="C-1")
    [entry] = client.get("/v1/ledger/entries", query_string={"reference": "S-J"}, headers=A).get_json()["items"]
    assert entry["currency"] == "EUR" and entry["source"] == "session.billed"
    lines = {(ln["account"], ln["debit"], ln["credit"]) for ln in entry["lines"]}
    assert lines == {("1200", "3.57", "0.00"), ("4000", "0.00", "3.00"), ("2200", "0.00", "0.57")}


def test_parking_line_and_revenue_per_category(client):
    setup_tenant(client)
    event = {"event_id": "S-P:end", "type": "end", "session_id": "S-P", "timestamp": "2026-01-13T15:00:00Z",
             "session": {"start": "2026-01-13T14:00:00Z", "end": "2026-01-13T15:00:00Z", "energy_kwh": "10",
                         "charging_ended_at": "2026-01-13T14:30:00Z", "tariff_id": "T-EUR", "customer_id": "C-1",
                         "time_zone": "Europe/Berlin"}}
    billing = client.post("/v1/sessions/events", json=event, headers=A).get_json()["billing"]
    invoice = client.get(f"/v1/invoices/{billing['invoice_id']}", headers=A).get_json()  # one GET away
    assert billing["lines"] == [ln for ln in invoice["lines"] if ln["session_id"] == "S-P"]
    # energy 10 kWh * 0.30 = 3.00 (+0.57 VAT); idle 0.5 h * 1.20 = 0.60 (+0.11 VAT)
    assert sorted((ln["category"], ln["quantity"], ln["unit"], ln["unit_price"], ln["net"], ln["tax"], ln["gross"])
                  for ln in invoice["lines"]) == [("energy", "10", "kWh", "0.30", "3.00", "0.57", "3.57"),
                                                  ("parking", "0.5", "h", "1.20", "0.60", "0.11", "0.71")]
    assert invoice["taxes"] == [{"name": "VAT", "rate": "19", "compound": False, "taxable_base": "3.60",
                                 "amount": "0.68"}]
    [entry] = client.get("/v1/ledger/entries", query_string={"reference": "S-P"}, headers=A).get_json()["items"]
    assert {(ln["account"], ln["debit"], ln["credit"]) for ln in entry["lines"]} == {
        ("1200", "4.28", "0.00"), ("4000", "0.00", "3.00"), ("4020", "0.00", "0.60"), ("2200", "0.00", "0.68")}
    # tenant B sees neither the entry nor the audit rows of A
    assert client.get("/v1/ledger/entries", headers=B).get_json()["items"] == []
    assert client.get("/v1/audit-log", headers=B).get_json()["items"] == []


def test_unbillable_end_is_refused_with_the_field(client):
    setup_tenant(client)
    event = {"event_id": "S-U:end", "type": "end", "session_id": "S-U", "timestamp": "2026-01-13T15:00:00Z",
             "session": {"start": "2026-01-13T14:00:00Z", "end": "2026-01-13T15:00:00Z", "energy_kwh": "1",
                         "tariff_id": "NOPE"}}
    r = client.post("/v1/sessions/events", json=event, headers=A)
    body = r.get_json()
    problem = body.get("billing_error") or (body.get("errors") or [{}])[0]
    assert problem["field"] == "session.tariff_id", body
    assert client.get("/v1/invoices", query_string={"session_id": "S-U"}, headers=A).get_json()["items"] == []


def test_compound_taxes_per_rate_on_the_invoice(client):
    tariff = {"id": "T-CAD", "currency": "CAD",
              "x_taxes": [{"name": "GST", "rate": "5"}, {"name": "QST", "rate": "7", "compound": True}],
              "elements": [{"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]}]}
    assert client.post("/v1/tariffs", json=tariff, headers=A).status_code == 201
    invoice_id = ingest(client, "S-CAD", tariff="T-CAD")["billing"]["invoice_id"]
    invoice = client.get(f"/v1/invoices/{invoice_id}", headers=A).get_json()
    # 3.00 net; GST 5 % = 0.15; QST 7 % compound on 3.15 = 0.2205 -> 0.22
    assert invoice["taxes"] == [
        {"name": "GST", "rate": "5", "compound": False, "taxable_base": "3.00", "amount": "0.15"},
        {"name": "QST", "rate": "7", "compound": True, "taxable_base": "3.15", "amount": "0.22"}]
    assert (invoice["currency"], invoice["tax_total"], invoice["gross_total"]) == ("CAD", "0.37", "3.37")
    [entry] = client.get("/v1/ledger/entries", query_string={"reference": "S-CAD"}, headers=A).get_json()["items"]
    assert {(ln["description"], ln["credit"]) for ln in entry["lines"] if ln["account"] == "2200"} == {
        ("tax payable GST 5%", "0.15"), ("tax payable QST 7%", "0.22")}


def test_start_then_end_events_bill_once_the_session_ends(client):
    setup_tenant(client)
    start = {"event_id": "S-SE:start", "type": "start", "session_id": "S-SE", "timestamp": "2026-01-13T14:00:00Z",
             "session": {"start": "2026-01-13T14:00:00Z", "tariff_id": "T-CHF", "customer_id": "C-1",
                         "station_id": "ST-9", "time_zone": "Europe/Zurich"}}
    r = client.post("/v1/sessions/events", json=start, headers=A)
    assert r.status_code == 202 and "billing" not in r.get_json()
    assert client.get("/v1/invoices", query_string={"session_id": "S-SE"}, headers=A).get_json()["items"] == []
    end = {"event_id": "S-SE:end", "type": "end", "session_id": "S-SE", "timestamp": "2026-01-13T15:00:00Z",
           "session": {"end": "2026-01-13T15:00:00Z", "energy_kwh": "20"}}
    billed = client.post("/v1/sessions/events", json=end, headers=A).get_json()["billing"]
    # 20 kWh * 0.45 = 9.00 + 1.00 fee = 10.00 CHF net, 8.1 % VAT = 0.81
    assert (billed["currency"], billed["amount_due"]) == ("CHF", "10.81")
    inv = billed["invoice"]
    assert sorted((ln["category"], ln["net"], ln["tax"]) for ln in billed["lines"]) == [
        ("energy", "9.00", "0.73"), ("fixed", "1.00", "0.08")]
    assert {ln["station_id"] for ln in billed["lines"]} == {"ST-9"}
    assert (inv["net_total"], inv["tax_total"], inv["gross_total"]) == ("10.00", "0.81", "10.81")

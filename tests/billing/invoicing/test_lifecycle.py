"""Invoice lifecycle through the API: finalize (gapless, also under concurrency), void, credit notes, paid,
per-session and multi-currency customers, balanced ledger, audit rows. Money as decimal strings, pinned."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from tests.billing.invoicing.conftest import A, ingest, setup_tenant


def _post(client, path, body=None, status=200):
    r = client.post(path, json=body, headers=A) if body is not None else client.post(path, headers=A)
    assert r.status_code == status, r.get_data(as_text=True)
    return r.get_json()


def _entries(client, reference):
    return client.get("/v1/ledger/entries", query_string={"reference": reference}, headers=A).get_json()["items"]


def cents(text: str) -> int:
    return int(Decimal(text) * 100)


def _balances(client):
    """Net debit per account over the whole journal (in cents); every entry must balance."""
    out: dict[str, int] = {}
    for entry in client.get("/v1/ledger/entries", query_string={"limit": 1000}, headers=A).get_json()["items"]:
        debits = sum(cents(ln["debit"]) for ln in entry["lines"])
        assert debits == sum(cents(ln["credit"]) for ln in entry["lines"]) and debits > 0, entry
        for ln in entry["lines"]:
            out[ln["account"]] = out.get(ln["account"], 0) + cents(ln["debit"]) - cents(ln["credit"])
    return {k: v for k, v in out.items() if v}


def test_finalize_credit_note_and_payment(client):
    setup_tenant(client)
    inv_id = ingest(client, "S-1", customer="C-1")["billing"]["invoice_id"]
    ingest(client, "S-2", customer="C-1", kwh="20")  # 6.00 net + 1.14 VAT = 7.14
    done = _post(client, f"/v1/invoices/{inv_id}/finalize")
    assert (done["number"], done["status"], done["gross_total"]) == ("INV-000001", "finalized", "10.71")
    assert done["issued_at"]
    problem = client.post(f"/v1/invoices/{inv_id}/finalize", headers=A)
    assert problem.status_code == 409 and problem.mimetype == "application/problem+json"

    # a later session starts a new draft: the finalized one is closed
    assert ingest(client, "S-3", customer="C-1")["billing"]["invoice_id"] != inv_id

    # partial credit note: one line (S-2's), numbered in the CN series
    line_s2 = next(ln["id"] for ln in done["lines"] if ln["session_id"] == "S-2")
    cn = _post(client, f"/v1/invoices/{inv_id}/credit-notes", {"lines": [line_s2], "reason": "wrong meter"}, 201)
    assert (cn["number"], cn["kind"], cn["credit_note_of"], cn["status"]) == ("CN-000001", "credit_note", inv_id,
                                                                              "finalized")
    assert (cn["net_total"], cn["tax_total"], cn["gross_total"], cn["amount_due"]) == ("6.00", "1.14", "7.14", "7.14")
    assert cn["taxes"] == [{"name": "VAT", "rate": "19", "compound": False, "taxable_base": "6.00", "amount": "1.14"}]
    # the credited line keeps the session's station, start and end
    [credited] = cn["lines"]
    original = next(ln for ln in done["lines"] if ln["id"] == line_s2)
    assert [credited[k] for k in ("station_id", "session_start", "session_end", "time_zone")] == [
        original[k] for k in ("station_id", "session_start", "session_end", "time_zone")]
    assert credited["session_start"] == "2026-01-13T15:00:00+01:00"
    again = client.post(f"/v1/invoices/{inv_id}/credit-notes", json={"lines": [line_s2]}, headers=A)
    assert again.status_code == 422 and again.get_json()["errors"][0]["field"] == "lines[0]"
    # by amount: 1.19 gross of the rest (3.57) -> 1.00 net + 0.19 VAT
    cn2 = _post(client, f"/v1/invoices/{inv_id}/credit-notes", {"amount": "1.19"}, 201)
    assert (cn2["number"], cn2["net_total"], cn2["tax_total"], cn2["gross_total"]) == ("CN-000002", "1.00", "0.19", "1.19")
    too_much = client.post(f"/v1/invoices/{inv_id}/credit-notes", json={"amount": "2.39"}, headers=A)
    assert too_much.status_code == 422 and too_much.get_json()["errors"][0]["field"] == "amount"

    # pay what is left: 10.71 - 7.14 - 1.19 = 2.38
    wrong = client.post(f"/v1/invoices/{inv_id}/mark-paid", json={"amount": "3.57"}, headers=A)
    assert wrong.status_code == 422 and wrong.get_json()["errors"][0]["field"] == "amount"
    paid = _post(client, f"/v1/invoices/{inv_id}/mark-paid", {"amount": "2.38", "reference": "SEPA-1",
                                                                "paid_at": "2026-02-01T09:00:00Z"})
    assert (paid["status"], paid["paid_at"]) == ("paid", "2026-02-01T09:00:00+00:00")
    assert client.post(f"/v1/invoices/{inv_id}/void", headers=A).status_code == 409
    assert client.post(f"/v1/invoices/{inv_id}/mark-paid", headers=A).status_code == 409
    [pay] = [e for e in _entries(client, inv_id) if e["source"] == "invoice.paid"]
    assert {(ln["account"], ln["debit"], ln["credit"]) for ln in pay["lines"]} == {("1000", "2.38", "0.00"),
                                                                                   ("1200", "0.00", "2.38")}
    # the ledger: S-3 (3.57) still receivable; revenue = 9.00 + 3.00 - 6.00 (CN) - 1.00 (CN by amount)
    assert _balances(client) == {"1000": 238, "1200": 357, "4000": -900 + 600 - 300, "4090": 100,
                                 "2200": -171 + 114 + 19 - 57}

    csv_text = client.get(f"/v1/invoices/{inv_id}?format=csv", headers=A).get_data(as_text=True)
    assert csv_text.splitlines()[0].startswith("invoice_id,number,status") and "INV-000001" in csv_text
    assert "gross_total" in csv_text and ",10.71," in csv_text


def test_void_reverses_the_journal_and_keeps_the_number(client):
    setup_tenant(client)
    inv_id = ingest(client, "S-V", customer="C-1")["billing"]["invoice_id"]
    voided = _post(client, f"/v1/invoices/{inv_id}/void", {"reason": "test session"})
    assert (voided["status"], voided["reason"]) == ("void", "test session")
    assert client.post(f"/v1/invoices/{inv_id}/finalize", headers=A).status_code == 409
    assert client.post(f"/v1/invoices/{inv_id}/credit-notes", headers=A).status_code == 409
    assert sorted(e["source"] for e in _entries(client, "S-V") + _entries(client, inv_id)) == [
        "invoice.voided", "session.billed"]
    assert _balances(client) == {}
    # numbers: a finalized then voided invoice keeps its number; the next one continues the sequence
    first = ingest(client, "S-W", customer="C-1")["billing"]["invoice_id"]
    assert _post(client, f"/v1/invoices/{first}/finalize")["number"] == "INV-000001"
    assert _post(client, f"/v1/invoices/{first}/void")["number"] == "INV-000001"
    second = ingest(client, "S-X", customer="C-1")["billing"]["invoice_id"]
    assert _post(client, f"/v1/invoices/{second}/finalize")["number"] == "INV-000002"
    assert client.get("/v1/invoices", query_string={"status": "void"}, headers=A).get_json()["items"][0]["id"] in (
        inv_id, first)
    bad = client.get("/v1/invoices", query_string={"status": "open"}, headers=A)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "status"


def test_fully_credited_invoice_cannot_be_marked_paid(client):
    setup_tenant(client)
    inv_id = ingest(client, "S-F", customer="C-1")["billing"]["invoice_id"]
    client.post(f"/v1/invoices/{inv_id}/finalize", headers=A)
    full = client.post(f"/v1/invoices/{inv_id}/credit-notes", json={"reason": "goodwill"}, headers=A)
    assert full.status_code == 201 and full.get_json()["gross_total"] == "3.57"
    assert client.post(f"/v1/invoices/{inv_id}/credit-notes", headers=A).status_code == 409
    assert client.post(f"/v1/invoices/{inv_id}/mark-paid", headers=A).status_code == 409


def test_per_session_customer_and_multi_currency(client):
    setup_tenant(client)
    a_billed = ingest(client, "S-P1", customer="C-PS")["billing"]
    b_billed = ingest(client, "S-P2", customer="C-PS")["billing"]
    a, b = a_billed["invoice"], b_billed["invoice"]
    assert a["id"] != b["id"] and [len(a_billed["lines"]), len(b_billed["lines"])] == [1, 1] and a["status"] == "draft"
    # the same customer in two currencies: one open draft per currency
    eur = ingest(client, "S-E", customer="C-1")["billing"]["invoice"]
    chf = ingest(client, "S-C", customer="C-1", tariff="T-CHF")["billing"]["invoice"]
    chf2 = ingest(client, "S-C2", customer="C-1", tariff="T-CHF", kwh="2")["billing"]["invoice"]
    assert eur["id"] != chf["id"] == chf2["id"]
    assert (chf["currency"], chf2["currency"]) == ("CHF", "CHF")
    # 10 kWh * 0.45 + 1.00 fee = 5.50 net, 8.1 % VAT = 0.45; then 2 kWh * 0.45 + 1.00 = 1.90 + 0.15
    assert (chf2["net_total"], chf2["tax_total"], chf2["gross_total"]) == ("7.40", "0.60", "8.00")
    assert client.get(f"/v1/invoices/{chf2['id']}", headers=A).get_json()["taxes"] == [{"name": "VAT", "rate": "8.1", "compound": False, "taxable_base": "7.40", "amount": "0.60"}]
    # anonymous sessions get an invoice of their own
    anon_billed = ingest(client, "S-ANON")["billing"]
    anon = anon_billed["invoice"]
    assert anon["customer"] is None and [ln["session_id"] for ln in anon_billed["lines"]] == ["S-ANON"]
    listed = client.get("/v1/invoices", query_string={"customer_id": "C-1"}, headers=A).get_json()["items"]
    assert sorted(i["currency"] for i in listed) == ["CHF", "EUR"]


def test_concurrent_finalize_gives_gapless_numbers(client, app):
    setup_tenant(client)
    ids = [ingest(client, f"S-N{i}", customer="C-PS")["billing"]["invoice_id"] for i in range(12)]

    def finalize(invoice_id):
        with app.test_client() as c:
            return c.post(f"/v1/invoices/{invoice_id}/finalize", headers=A)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(finalize, ids + ids))  # each twice: one wins, one is refused
    assert sorted(r.status_code for r in responses) == [200] * 12 + [409] * 12
    numbers = sorted(r.get_json()["number"] for r in responses if r.status_code == 200)
    assert numbers == [f"INV-{i:06d}" for i in range(1, 13)]


def test_audit_log_and_account_mapping(client):
    setup_tenant(client)
    before = client.get("/v1/ledger/accounts", headers=A).get_json()
    assert before["revenue"]["energy"] == "4000" and before["tax_payable"] == {"default": "2200"}
    r = client.put("/v1/ledger/accounts", json={"revenue": {"energy": "8400"}, "tax_payable": {"VAT": "1776"}},
                   headers=A)
    assert r.status_code == 200 and r.get_json()["revenue"]["energy"] == "8400"
    bad = client.put("/v1/ledger/accounts", json={"revenue": {"fuel": "1"}}, headers=A)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "revenue.fuel"
    inv_id = ingest(client, "S-M", customer="C-1")["billing"]["invoice_id"]
    [entry] = _entries(client, "S-M")
    assert {(ln["account"], ln["debit"], ln["credit"]) for ln in entry["lines"]} == {
        ("1200", "3.57", "0.00"), ("8400", "0.00", "3.00"), ("1776", "0.00", "0.57")}
    _post(client, f"/v1/invoices/{inv_id}/finalize")
    log = client.get("/v1/audit-log", headers=A).get_json()["items"]
    actions = [(e["entity"], e["action"]) for e in log]
    assert ("invoice", "finalize") in actions and ("account_mapping", "update") in actions
    fin = next(e for e in log if e["action"] == "finalize")
    assert fin["before"]["status"] == "draft" and fin["after"]["number"] == "INV-000001"
    assert fin["actor"].startswith("api_key:") and "billing-key-a" not in fin["actor"]
    mapping = next(e for e in log if e["entity"] == "account_mapping")
    assert mapping["before"]["revenue"]["energy"] == "4000" and mapping["after"]["revenue"]["energy"] == "8400"


def test_audit_log_records_tariff_and_customer_changes(client):
    setup_tenant(client)
    published = client.post("/v1/tariffs/T-EUR/versions", headers=A, json={
        "effective_at": "2026-03-01T00:00:00Z", "tariff": {"currency": "EUR", "elements": [
            {"price_components": [{"type": "ENERGY", "price": "0.35", "vat": "19", "step_size": 1}]}]}})
    assert published.status_code == 201, published.get_data(as_text=True)
    assert client.patch("/v1/customers/C-1", json={"invoice_per_session": True}, headers=A).status_code == 200
    log = client.get("/v1/audit-log", query_string={"entity": "tariff", "entity_id": "T-EUR"},
                     headers=A).get_json()["items"]
    assert [e["action"] for e in log] == ["publish", "create"]  # newest first
    assert log[0]["before"] == {"current_version": 1} and log[0]["after"]["current_version"] == 2
    assert log[0]["after"]["tariff"]["elements"][0]["price_components"][0]["price"] == "0.35"
    [update] = client.get("/v1/audit-log", query_string={"entity": "customer", "action": "update"},
                          headers=A).get_json()["items"]
    assert (update["before"]["invoice_per_session"], update["after"]["invoice_per_session"]) == (False, True)
    assert client.get("/v1/audit-log", query_string={"since": "yesterday"}, headers=A).status_code == 400


@pytest.mark.parametrize("customer", ["C-1", "C-NEW"])
def test_concurrent_sessions_of_one_customer_share_one_draft(client, app, customer):
    """C-1 has a customer row to lock; C-NEW has none, and the unique open-draft index makes the losers join
    the winner's draft."""
    setup_tenant(client)

    def bill(i):
        with app.test_client() as c:
            return ingest(c, f"S-CC{i}", customer=customer, kwh=str(i + 1))["billing"]["invoice_id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(bill, range(16)))
    assert len(ids) == 1
    inv = client.get(f"/v1/invoices/{ids.pop()}", headers=A).get_json()
    # 1 + 2 + ... + 16 = 136 kWh at 0.30 = 40.80 net; VAT rounded per session (0.06, 0.11, 0.17, ...) = 7.76
    assert len(inv["lines"]) == 16 and (inv["net_total"], inv["tax_total"], inv["gross_total"]) == (
        "40.80", "7.76", "48.56")
    assert inv["taxes"] == [{"name": "VAT", "rate": "19", "compound": False, "taxable_base": "40.80",
                             "amount": "7.76"}]
    assert inv["customer"]["id"] == customer
    if customer == "C-NEW":  # no customer row: the invoice names the id only
        assert inv["customer"] == {"id": "C-NEW"}

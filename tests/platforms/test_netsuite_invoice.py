"""NetSuite books our invoice: ``document="invoice"`` (the default) posts one NetSuite Invoice per finalized invoice,
its VAT levied per rate as NetSuite levies it, so the one-cent case of per-session posting matches; journal
entries take the invoice's VAT restatement as one adjusting entry, so sessions + adjustment + credit note net to
0. Real billing API → real outbox worker → the finance double on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from connector.platforms.adapters import netsuite
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError
from tests.billing.invoicing.books import Books
from tests.billing.invoicing.conftest import ingest
from tests.platforms.fakes.finance_vendors import FinanceVendors
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.finance_events import billed_event, credit_note_of, invoice_event, vat_restated_event
from tests.platforms.test_netsuite_freshbooks_worker import netsuite_books

D = Decimal
# 9.985 kWh at 0.30 EUR + 19 %: each session is rated 3.00 + 0.56, while 19 % of 3.00 is 0.57 (test_invoice_vat.py)
KWH = "9.985"
INVOICES = {"item_ids": {"energy": "1201"}, "tax_codes": {"19": "8"}}
JOURNAL = {"record": "journalEntry", "subsidiary": "1", "receivable_account": "1100",
           "revenue_accounts": {"energy": "4000"}, "tax_accounts": {"19": "2200"}}


def _two_sessions(books: Books) -> str:
    invoice_id = str(ingest(books.client, "S-1", customer="C-1", kwh=KWH)["billing"]["invoice_id"])
    ingest(books.client, "S-2", customer="C-1", kwh=KWH, start="2026-01-13T16:00:00Z", end="2026-01-13T17:00:00Z")
    return invoice_id


@pytest.fixture
def invoices(tmp_path: Path, vendors: FinanceVendors, monkeypatch: pytest.MonkeyPatch) -> Iterator[Books]:
    b = netsuite_books(tmp_path, vendors, monkeypatch, **INVOICES)
    yield b
    b.close()


@pytest.fixture
def journal(tmp_path: Path, vendors: FinanceVendors, monkeypatch: pytest.MonkeyPatch) -> Iterator[Books]:
    b = netsuite_books(tmp_path, vendors, monkeypatch, **JOURNAL)
    yield b
    b.close()


def test_the_cent_case_matches_as_one_invoice(invoices: Books, vendors: FinanceVendors) -> None:
    invoice_id = _two_sessions(invoices)
    invoices.run(2)  # the sessions of the draft are not NetSuite's yet
    assert vendors.ns_invoices == {} and {(r.result or {}).get("status") for r in invoices.rows("session.billed")} == {
        "skipped"}
    final = invoices.post(f"/v1/invoices/{invoice_id}/finalize")
    assert (final["tax_total"], final["amount_due"]) == ("1.14", "7.14")  # 0.56 + 0.56 restated to 19 % of 6.00
    vendors.fail("/services/rest/record/v1/invoice/", 429, retry_after="1")
    vendors.lose("/services/rest/record/v1/invoice/", method="PUT")
    invoices.run(4)
    assert {r.status for r in invoices.rows("invoice.finalized")} == {"sent"}
    assert {(r.result or {}).get("status") for r in invoices.rows("invoice.vat_restated")} == {"skipped"}
    [(ref, inv)] = vendors.ns_invoices.items()
    assert ref == f"eid:EV-{final['number']}" and inv["entity"] == {"id": "77"}
    assert (inv["subtotal"], inv["taxTotal"], inv["total"]) == (D("6.00"), D("1.14"), D("7.14"))  # to the cent
    assert [(i["amount"], i["taxCode"]["id"]) for i in inv["item"]["items"]] == [(D("3.00"), "8"), (D("3.00"), "8")]
    assert len({key for ref, key in vendors.ns_applied if ref == f"eid:EV-{final['number']}"}) == 1
    # a full credit note: a Credit Memo of the invoice's amounts, NetSuite's A/R for the customer back to 0
    note = invoices.post(f"/v1/invoices/{invoice_id}/credit-notes", {"reason": "charger fault"}, 201)
    invoices.run(2)
    [memo] = vendors.ns_credit_memos.values()
    assert (memo["externalId"], memo["taxTotal"], memo["total"]) == (f"EVCM-{note['number']}", D("1.14"), D("7.14"))
    assert f"of invoice {invoice_id}" in memo["memo"] and vendors.ns_receivable("77") == D(0)


def test_per_session_invoices_refuse_the_cent_case(tmp_path: Path, vendors: FinanceVendors,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The option ``document="session"`` as it was: NetSuite levies 0.57 on a session rated 0.56."""
    books = netsuite_books(tmp_path, vendors, monkeypatch, document="session", **INVOICES)
    try:
        _two_sessions(books)
        books.run(1)
        errors = {r.last_error for r in books.rows("session.billed")}
        assert {r.status for r in books.rows("session.billed")} == {"failed"}
        assert all("NetSuite computes tax 0.57 (total 3.57)" in str(e) and "ours is 0.56" in str(e) for e in errors)
    finally:
        books.close()


def test_journal_entries_take_the_restatement_and_net_to_zero(journal: Books, vendors: FinanceVendors) -> None:
    invoice_id = _two_sessions(journal)
    journal.run(1)
    assert vendors.ns_balances() == {"1100": D("7.12"), "4000": D("-6.00"), "2200": D("-1.12")}  # as rated
    final = journal.post(f"/v1/invoices/{invoice_id}/finalize")
    vendors.fail("/services/rest/record/v1/journalEntry/", 500)
    vendors.lose("/services/rest/record/v1/journalEntry/", method="PUT")
    journal.run(4)
    assert {r.status for r in journal.rows("invoice.vat_restated")} == {"sent"}
    adjusting = vendors.ns_journals[f"eid:EVJE-{final['number']}~VAT"]
    assert [(i["account"]["id"], i.get("debit"), i.get("credit"), (i.get("entity") or {}).get("id"))
            for i in adjusting["line"]["items"]] == [("1100", D("0.02"), None, "77"), ("2200", None, D("0.02"), None)]
    assert vendors.ns_balances() == {"1100": D("7.14"), "4000": D("-6.00"), "2200": D("-1.14")}  # the invoice
    assert len({key for ref, key in vendors.ns_applied if ref.endswith("~VAT")}) == 1  # posted once
    journal.post(f"/v1/invoices/{invoice_id}/credit-notes", {"reason": "charger fault"}, 201)
    journal.run(2)
    assert {r.status for r in journal.rows()} == {"sent"}
    assert vendors.ns_balances() == {"1100": D(0), "4000": D(0), "2200": D(0)}


def test_restatement_entry_unit_rules(vendors: FinanceVendors) -> None:
    cfg = netsuite.NetSuiteConfig.model_validate({"account_id": "1234567_SB1", "base_url": vendors.url,
                                                  "consumer_key": "ns-ck", "consumer_secret": "ns-cs",
                                                  "token_id": "ns-token", "token_secret": "ns-ts",
                                                  "customer_ids": {"C-1": "77"}, **JOURNAL})
    lower = vat_restated_event("-0.01")
    body = netsuite.build_journal(lower, cfg)
    assert [(i["account"]["id"], i.get("debit"), i.get("credit")) for i in body["line"]["items"]] == [
        ("1100", None, D("0.01")), ("2200", D("0.01"), None)]  # a lower VAT swaps the sides
    assert body["externalId"] == "EVJE-INV-0001~VAT" and body["memo"].startswith("EV VAT per rate of INV-0001~VAT")
    # nothing moved: nothing sent (no HTTP call at all)
    assert netsuite.deliver(vat_restated_event("0.00"), cfg, DeliveryContext(None))["status"] == "skipped"
    skewed = vat_restated_event("0.01")
    skewed["data"]["restatement"]["receivable"] = "0.02"
    with pytest.raises(PermanentError, match="debits 0.02 != credits 0.01"):
        netsuite.deliver(skewed, cfg, DeliveryContext(OneShotHttp()))
    broken = vat_restated_event()
    del broken["data"]["restatement"]
    with pytest.raises(PermanentError, match="data.restatement: required"):
        netsuite.deliver(broken, cfg, DeliveryContext(OneShotHttp()))
    # Invoices: the restatement is not posted (an Invoice's tax is NetSuite's), nor are sessions by default
    default = cfg.model_copy(update={"record": "invoice"})
    assert "journalEntry" in str(netsuite.skip_reason(vat_restated_event(), default))
    assert "when finalized" in str(netsuite.skip_reason(billed_event(), default))
    assert netsuite.skip_reason(invoice_event(), default) is None
    assert "document='invoice' only" in str(netsuite.skip_reason(invoice_event(), cfg))
    draft = invoice_event()
    draft["data"]["invoice"]["status"] = "draft"
    assert "when finalized" in str(netsuite.skip_reason(draft, default))
    assert netsuite.skip_reason(credit_note_of(invoice_event()), default) is None

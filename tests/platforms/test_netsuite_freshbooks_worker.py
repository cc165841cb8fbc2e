"""NetSuite journal entries and Credit Memos, and FreshBooks credit notes, from the real billing API's events
through the real outbox worker (``worker.run_once``) to the finance double on 127.0.0.1: after a correction the
vendor's receivable, revenue and tax equal ours to the cent, with 429s and a lost answer on the way."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

from connector.events.deliveries import Policy
from connector.platforms import oauth
from tests.billing.invoicing.books import Books
from tests.billing.invoicing.conftest import ingest
from tests.platforms.fakes.finance_vendors import FinanceVendors

POLICY = Policy(max_attempts=6, base_delay=1, max_delay=60)
D = Decimal
NETSUITE = {"account_id": "1234567_SB1", "consumer_key": "ns-ck", "consumer_secret": "env:NS_T_CS",
            "token_id": "ns-token", "token_secret": "env:NS_T_TS", "customer_ids": {"C-1": "77", "C-PS": "78"}}


def netsuite_books(tmp_path: Path, vendors: FinanceVendors, monkeypatch: pytest.MonkeyPatch,
                   **config: Any) -> Books:
    monkeypatch.delenv("EVBILL_PLATFORMS_FILE", raising=False)
    monkeypatch.delenv("EVBILL_DRY_RUN_FILE", raising=False)
    monkeypatch.setenv("NS_T_CS", "ns-cs")
    monkeypatch.setenv("NS_T_TS", "ns-ts")
    return Books(tmp_path, "netsuite", {**NETSUITE, "base_url": vendors.url, **config}, {}, POLICY)


@pytest.fixture
def journal(tmp_path: Path, vendors: FinanceVendors, monkeypatch: pytest.MonkeyPatch) -> Iterator[Books]:
    b = netsuite_books(tmp_path, vendors, monkeypatch, record="journalEntry", subsidiary="1",
                       receivable_account="1100", revenue_accounts={"energy": "4000"}, tax_accounts={"19": "2200"})
    yield b
    b.close()


def correct(books: Books, session_id: str, kwh: str) -> dict[str, Any]:
    """``correct_session`` after the meter was read again: a credit note and the re-billed session."""
    from connector.billing.invoicing import sessions as service

    with Session(books.engine) as db:
        row = service._lock_session(db, "A", session_id)
        row.document = {**row.document, "energy_kwh": kwh}
        out = service.correct_session(db, "A", session_id, service.rate_session(db, "A", row, None), "meter re-read")
        db.commit()
    return dict(out)


def test_netsuite_journal_entries_follow_a_correction_to_the_cent(journal: Books, vendors: FinanceVendors) -> None:
    inv = ingest(journal.client, "S-1", customer="C-1")["billing"]["invoice_id"]  # 3.00 + 0.57 VAT
    journal.post(f"/v1/invoices/{inv}/finalize")
    vendors.fail("/services/rest/record/v1/journalEntry/", 429, retry_after="1")
    vendors.lose("/services/rest/record/v1/journalEntry/", method="PUT")
    journal.run(3)
    assert vendors.ns_balances() == {"1100": D("3.57"), "4000": D("-3.00"), "2200": D("-0.57")}
    out = correct(journal, "S-1", "12")
    assert (out["credit_note"]["number"], out["invoice"]["amount_due"]) == ("CN-000001", "4.28")
    journal.run(4)
    assert {r.status for r in journal.rows()} == {"sent"}
    assert sorted(vendors.ns_journals) == ["eid:EVJE-CN-000001", "eid:EVJE-S-1", "eid:EVJE-S-1~CN-000001"]
    new = out["invoice"]
    assert vendors.ns_balances() == {"1100": D(new["amount_due"]), "4000": -D(new["net_total"]),
                                     "2200": -D(new["tax_total"])}
    assert len({key for _, key in vendors.ns_applied}) == len(vendors.ns_applied) == 3  # each posted once


def test_netsuite_void_of_a_monthly_draft_reverses_every_session(journal: Books, vendors: FinanceVendors) -> None:
    draft = ingest(journal.client, "S-1", customer="C-1")["billing"]["invoice_id"]
    ingest(journal.client, "S-2", customer="C-1", kwh="20")  # 6.00 + 1.14 VAT, the same monthly draft
    journal.run(2)
    assert vendors.ns_balances()["1100"] == D("10.71")
    journal.post(f"/v1/invoices/{draft}/void")
    journal.run(2)
    assert {r.status for r in journal.rows()} == {"sent"}
    assert vendors.ns_balances() == {"1100": D(0), "4000": D(0), "2200": D(0)}
    assert f"eid:EVJE-{draft}~VOID" in vendors.ns_journals  # a draft has no number: its id names the reversal


def test_netsuite_credit_memo_for_a_credit_note_of_a_per_session_invoice(
        tmp_path: Path, vendors: FinanceVendors, monkeypatch: pytest.MonkeyPatch) -> None:
    books = netsuite_books(tmp_path, vendors, monkeypatch, item_ids={"energy": "1201"}, tax_codes={"19": "8"})
    try:
        inv = ingest(books.client, "S-5", customer="C-PS", kwh="20")["billing"]["invoice_id"]  # 6.00 + 1.14 VAT
        final = books.post(f"/v1/invoices/{inv}/finalize")
        books.run(1)
        assert list(vendors.ns_invoices) == [f"eid:EV-{final['number']}"]  # the default: one per finalized invoice
        note = books.post(f"/v1/invoices/{inv}/credit-notes", {"reason": "charger fault"}, 201)
        books.run(2)
        assert {r.status for r in books.rows()} == {"sent"}
        [memo] = vendors.ns_credit_memos.values()
        assert (memo["externalId"], memo["total"], memo["taxTotal"]) == (
            f"EVCM-{note['number']}", D(note["amount_due"]), D(note["tax_total"]))
        assert vendors.ns_receivable("78") == D(0)  # the invoice credited in full, in NetSuite as here
    finally:
        books.close()


def test_freshbooks_credit_note_through_the_worker(tmp_path: Path, vendors: FinanceVendors,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVBILL_PLATFORMS_FILE", raising=False)
    monkeypatch.delenv("EVBILL_DRY_RUN_FILE", raising=False)
    monkeypatch.setenv("FB_T_SECRET", "fb-secret")
    monkeypatch.setenv("FB_T_RT", "fb-refresh-0")
    monkeypatch.setenv(oauth.TOKEN_KEY_ENV, Fernet.generate_key().decode())
    books = Books(tmp_path, "freshbooks", {
        "api_base": vendors.url, "account_id": "AbC123", "token_url": vendors.url + "/auth/oauth/token",
        "client_id": "fb-client", "client_secret": "env:FB_T_SECRET", "refresh_token": "env:FB_T_RT",
        "customer_classes": ["member"], "client_ids": {"C-1": "4242"}}, {}, POLICY)
    try:
        inv = ingest(books.client, "S-1", customer="C-1")["billing"]["invoice_id"]  # 3.00 + 0.57
        ingest(books.client, "S-2", customer="C-1", kwh="20")  # 6.00 + 1.14
        final = books.post(f"/v1/invoices/{inv}/finalize")
        books.run(1)
        s2 = [ln["id"] for ln in final["lines"] if ln["session_id"] == "S-2"]
        note = books.post(f"/v1/invoices/{inv}/credit-notes", {"reason": "charger fault", "lines": s2}, 201)
        vendors.fail("/accounting/account/AbC123/credit_notes/credit_notes", 429, retry_after="1", method="POST")
        books.run(3)
        assert {r.status for r in books.rows()} == {"sent"}
        [invoice] = vendors.fb_invoices.values()
        [credit] = vendors.fb_credit_notes.values()
        assert (invoice["amount"]["amount"], credit["amount"]["amount"]) == (final["amount_due"], note["amount_due"])
        assert (credit["credit_number"], note["amount_due"]) == (note["number"], "7.14")
        owed = D(invoice["amount"]["amount"]) - D(credit["amount"]["amount"])
        assert owed == D(final["amount_due"]) - D(note["amount_due"]) == D("3.57")  # FreshBooks' A/R = ours
    finally:
        books.close()

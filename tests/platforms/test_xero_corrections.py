"""Xero voids and credit notes: exact mapping and schema checks, then the real billing API's events through
the real outbox worker (``worker.run_once``) to the Xero double on 127.0.0.1, with 429/500s and lost answers."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from connector.events.deliveries import Policy
from connector.platforms import oauth
from connector.platforms.adapters import xero
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError, RetryableError
from tests.billing.invoicing.books import Books as BillingBooks
from tests.billing.invoicing.conftest import ingest
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.fakes.xero import TENANT, XeroDouble, def_errors
from tests.platforms.finance_events import billed_event, incentive, invoice_event
from tests.platforms.schemas import schema_errors
from tests.platforms.worker_model import retrying

CFG = xero.XeroConfig(client_id="cid", client_secret="csecret", refresh_token="rt-0", xero_tenant_id=TENANT,
                      tax_types={"VAT:19": "OUTPUT2"}, account_codes={"energy": "4000", "fixed": "4030"},
                      default_account_code="4090")
POLICY = Policy(max_attempts=6, base_delay=1, max_delay=60)
API = "/api.xro/2.0"


def credit_note_event(**kw: Any) -> dict[str, Any]:
    """A credit note of the whole invoice, shaped as billing issues it (``create_credit_note``: the credited
    lines copied with their positive amounts, numbered in the CN series, ``credit_note_of`` = original id)."""
    inv = copy.deepcopy(billed_event(**kw)["data"]["invoice"])
    inv.update(id=f"cn_{inv['id']}", kind="credit_note", credit_note_of=inv["id"], number="CN-000001",
               status="finalized", issued_at="2026-01-20T09:00:00Z")
    return {"id": "evt_cn_1", "type": "credit_note.issued", "tenant_id": "t1", "created_at": "2026-01-20T09:00:00Z",
            "data": {"invoice": inv}}


def void_event(**kw: Any) -> dict[str, Any]:
    event = invoice_event("invoice.voided", **kw)
    event["data"]["invoice"]["status"] = "void"
    return event


# ---- pure mapping -----------------------------------------------------------------------------------------


def test_void_body_is_a_status_change_by_number_that_validates() -> None:
    event = void_event()
    body = xero.build_void(event, CFG)
    assert body == {"Invoices": [{"InvoiceNumber": "INV-0001", "Status": "VOIDED"}]}
    assert schema_errors("xero/invoices_post.schema.json", body) == []
    assert xero.dumps_exact(body) == b'{"Invoices": [{"InvoiceNumber": "INV-0001", "Status": "VOIDED"}]}'
    for status in ("DRAFT", "SUBMITTED"):  # Xero deletes what was never approved
        deleted = xero.build_void(event, CFG.model_copy(update={"status": status}))
        assert deleted == {"Invoices": [{"InvoiceNumber": "INV-0001", "Status": "DELETED"}]}
        assert schema_errors("xero/invoices_post.schema.json", deleted) == []
    assert schema_errors("xero/invoices_post.schema.json", {"Invoices": [{"InvoiceNumber": "INV-0001", "Status": "CANCELLED"}]})
    assert schema_errors("xero/invoices_post.schema.json", {"Invoices": [{"InvoiceNumber": "x" * 256, "Status": "VOIDED"}]})
    assert xero.skip_reason(event) is None and "invoice.voided" in xero.EVENTS


def test_keys_differ_per_operation_and_skips_are_explained() -> None:
    create, void, note = invoice_event(), void_event(), credit_note_event()
    keys = [xero.idempotency_key(e, CFG) for e in (create, void, note)]
    assert keys == ["evbill:t1:inv_S-100:invoice", "evbill:t1:inv_S-100:void", "evbill:t1:cn_inv_S-100:credit_note"]
    assert xero.idempotency_key(billed_event(), CFG) == keys[0]  # session.billed and invoice.finalized: one invoice
    long_keys = []
    for event in (invoice_event(), void_event()):  # ids too long for Xero's 128 characters: prefix + digest
        event["data"]["invoice"]["id"] = "inv_" + "9" * 200
        long_keys.append(xero.idempotency_key(event, CFG))
    assert [len(k) for k in long_keys] == [128, 128] and long_keys[0] != long_keys[1]
    assert long_keys[0][:63] == long_keys[1][:63] == "evbill:t1:inv_" + "9" * 49  # only the digests differ
    draft_void = void_event(status="draft", number=None)
    draft_void["data"]["invoice"]["status"] = "void"
    reason = xero.skip_reason(draft_void)
    assert reason == ("invoice inv_S-100 was voided while a draft (no number): it was never sent to Xero, "
                      "so there is nothing to void")
    assert xero.idempotency_key(draft_void, CFG) == "xero:skip:t1:evt_fin_inv_S-100"  # never the void's key
    assert xero.deliver(
        draft_void, CFG, DeliveryContext(OneShotHttp())) == {"status": "skipped", "reason": reason}
    # a credit note is never sent as an invoice, only on credit_note.issued
    as_invoice = dict(note, type="invoice.finalized")
    assert "credit_note.issued" in (xero.skip_reason(as_invoice) or "")
    assert xero.skip_reason(note) is None


def lines(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(li["LineAmount"], li["TaxAmount"], li["AccountCode"], li["TaxType"])
            for li in body["CreditNotes"][0]["LineItems"]]


def test_credit_note_maps_our_lines_exactly() -> None:
    event = credit_note_event()
    body = xero.build_credit_notes(event, CFG)
    assert def_errors("CreditNote", "CreditNotes", body) == []
    [note] = body["CreditNotes"]
    assert {k: v for k, v in note.items() if k not in ("LineItems", "Contact")} == {
        "Type": "ACCRECCREDIT", "Date": "2026-01-20", "LineAmountTypes": "Exclusive", "CreditNoteNumber": "CN-000001",
        "Reference": "inv_S-100", "CurrencyCode": "EUR", "Status": "AUTHORISED"}
    assert note["Contact"] == xero.build_invoices(invoice_event(), CFG)["Invoices"][0]["Contact"]
    assert lines(body) == [(Decimal("1.00"), Decimal("0.19"), "4030", "OUTPUT2"),
                           (Decimal("9.13"), Decimal("1.73"), "4000", "OUTPUT2")]
    assert note["LineItems"] == xero.build_invoices(invoice_event(), CFG)["Invoices"][0]["LineItems"]
    total = sum(a + t for a, t, _, _ in lines(body))
    assert total == Decimal(event["data"]["invoice"]["amount_due"]) == Decimal("12.05")
    assert '"LineAmount": 9.13, "AccountCode": "4000", "TaxType": "OUTPUT2", "TaxAmount": 1.73' in \
        xero.dumps_exact(body).decode()
    alloc = xero.build_allocation(event, "00000000-0000-4000-8000-000000000007")
    assert alloc == {"Allocations": [{"Invoice": {"InvoiceID": "00000000-0000-4000-8000-000000000007"},
                                      "Amount": Decimal("12.05"), "Date": "2026-01-20"}]}
    assert def_errors("Allocation", "Allocations", alloc) == []
    broken = copy.deepcopy(body)
    broken["CreditNotes"][0]["SentToContact"] = True  # readOnly in the vendor's CreditNote model
    assert def_errors("CreditNote", "CreditNotes", broken)
    broken["CreditNotes"][0] = dict(note, Type="ACCREC")
    assert def_errors("CreditNote", "CreditNotes", broken)
    assert def_errors("Allocation", "Allocations", {"Allocations": [{"Invoice": {"InvoiceID": "x"}, "Amount": 1}]})


def test_credit_note_discounts_jpy_and_refusals() -> None:
    adj = credit_note_event(adjustments=incentive())
    body = xero.build_credit_notes(adj, CFG)
    assert lines(body) == [(Decimal("1.00"), Decimal("0.19"), "4030", "OUTPUT2"),
                           (Decimal("9.13"), Decimal("1.73"), "4000", "OUTPUT2"),
                           (Decimal("-1.01"), Decimal("-0.19"), "4090", "OUTPUT2"),
                           (Decimal("-1.17"), Decimal("0.00"), "4090", "NONE")]
    assert sum(a + t for a, t, _, _ in lines(body)) == Decimal(adj["data"]["invoice"]["amount_due"]) == Decimal("9.68")
    jpy = credit_note_event(currency="JPY", flat="100", energy_price="45")
    assert [(a, t) for a, t, _, _ in lines(xero.build_credit_notes(jpy, CFG))] == [
        (Decimal(100), Decimal(19)), (Decimal(1053), Decimal(200))]
    assert xero.build_allocation(jpy, "i")["Allocations"][0]["Amount"] == Decimal(1372)
    with pytest.raises(ValueError, match="invoice.currency: KWD has 3 decimals; Xero amounts have 2"):
        xero.build_credit_notes(credit_note_event(currency="KWD", energy="0.125", flat=None), CFG)
    negative = credit_note_event()
    negative["data"]["invoice"]["amount_due"] = "-12.05"
    with pytest.raises(ValueError, match="invoice.amount_due: a credit note's amounts are positive"):
        xero.build_credit_notes(negative, CFG)
    orphan = credit_note_event()
    orphan["data"]["invoice"]["credit_note_of"] = None
    with pytest.raises(PermanentError, match="invoice.credit_note_of: required"):
        xero.deliver(orphan, CFG, DeliveryContext(OneShotHttp()))


# ---- deliver() against the double (no worker) -------------------------------------------------------------


@pytest.fixture
def double() -> Iterator[XeroDouble]:
    d = XeroDouble().start()
    yield d
    d.stop()


def local(d: XeroDouble, **update: Any) -> xero.XeroConfig:
    return CFG.model_copy(update={"token_url": d.url + "/connect/token", "api_base": d.url + API, **update})


class Refs:
    """Stands in for the worker's SentRefs: the InvoiceID recorded for the original's delivery."""

    def __init__(self, found: dict[str, str]) -> None:
        self.found = found

    def result_of(self, tenant_id: str, platform: str, key: str) -> dict[str, Any] | None:
        assert (tenant_id, platform) == ("t1", "xero")
        return None if key not in self.found else {"status": "sent", "ref": self.found[key]}


def test_void_deliver_retries_then_voids_once_and_refuses_paid(double: XeroDouble) -> None:
    cfg = local(double)
    created = xero.deliver(invoice_event(), cfg, DeliveryContext(OneShotHttp()))
    double.fail(f"{API}/Invoices/INV-0001", 429, 500, retry_after="3")
    double.lose(f"{API}/Invoices/INV-0001")
    result, waits = retrying(lambda: xero.deliver(void_event(), cfg, DeliveryContext(OneShotHttp())))
    assert waits == [3.0, None, None]
    assert result == {"status": "sent", "ref": created["ref"], "number": "INV-0001", "xero_status": "VOIDED"}
    assert double.status_changes == [(created["ref"], "VOIDED")]
    calls = double.calls(f"{API}/Invoices/INV-0001", "POST")
    assert len(calls) == 4 and {c["headers"]["Idempotency-Key"] for c in calls} == {"evbill:t1:inv_S-100:void"}
    assert all(c["headers"]["Xero-Tenant-Id"] == TENANT and c["headers"]["Authorization"].startswith("Bearer ")
               for c in calls)
    assert json.loads(calls[-1]["raw"]) == {"Invoices": [{"InvoiceNumber": "INV-0001", "Status": "VOIDED"}]}
    # already voided in Xero under a key Xero forgot: the 400 is checked against the invoice's status
    double.replies.clear()
    assert xero.deliver(void_event(), cfg, DeliveryContext(OneShotHttp()))["note"] == "already VOIDED in Xero"
    assert len(double.status_changes) == 1
    # a payment recorded in Xero: Xero refuses, the refusal is permanent and names the reason
    xero.deliver(invoice_event(sid="S-101", number="INV-0002"), cfg, DeliveryContext(OneShotHttp()))
    double.pay("INV-0002", "5.00")
    with pytest.raises(PermanentError, match="HTTP 400.*payments"):
        xero.deliver(void_event(sid="S-101", number="INV-0002"), cfg, DeliveryContext(OneShotHttp()))
    # unknown to Xero (not delivered yet): retryable
    with pytest.raises(RetryableError, match="Xero has no invoice INV-0404 yet"):
        xero.deliver(void_event(sid="S-404", number="INV-0404"), cfg, DeliveryContext(OneShotHttp()))


def test_draft_status_deletes_and_credit_note_without_refs_is_not_allocated(double: XeroDouble) -> None:
    cfg = local(double, status="DRAFT")
    created = xero.deliver(invoice_event(), cfg, DeliveryContext(OneShotHttp()))
    assert xero.deliver(void_event(), cfg, DeliveryContext(OneShotHttp()))["xero_status"] == "DELETED"
    assert double.status_changes == [(created["ref"], "DELETED")]
    note = xero.deliver(credit_note_event(), cfg, DeliveryContext(OneShotHttp(), refs=Refs({})))  # type: ignore[arg-type]
    assert note["allocated"] is None and "AUTHORISED ones only" in note["allocation_skipped"]
    assert double.allocations == [] and len(double.credit_notes) == 1


def test_credit_note_waits_for_its_original_then_is_created_and_allocated_once(double: XeroDouble) -> None:
    cfg = local(double)
    refs = Refs({})
    with pytest.raises(RetryableError, match="original invoice inv_S-100 has not been delivered to Xero yet"):
        xero.deliver(credit_note_event(), cfg, DeliveryContext(OneShotHttp(), refs=refs))  # type: ignore[arg-type]
    assert double.calls(f"{API}/CreditNotes") == []  # nothing created before the original is there
    created = xero.deliver(invoice_event(), cfg, DeliveryContext(OneShotHttp()))
    refs.found["evbill:t1:inv_S-100:invoice"] = created["ref"]
    double.fail(f"{API}/CreditNotes", 500)
    double.lose(f"{API}/CreditNotes/")  # the allocation is made, its answer lost
    result, waits = retrying(lambda: xero.deliver(
        credit_note_event(), cfg, DeliveryContext(OneShotHttp(), refs=refs)))  # type: ignore[arg-type]
    assert waits == [None, None]
    [(cid, stored)] = double.credit_notes.items()
    assert result == {"status": "sent", "ref": cid, "number": "CN-000001", "total": 12.05,
                      "credit_note_of": "inv_S-100", "allocated": "12.05", "allocated_to": created["ref"]}
    assert stored["total"] == Decimal("12.05") and stored["remaining"] == 0
    assert [(a["InvoiceID"], a["Amount"]) for a in double.allocations] == [(created["ref"], Decimal("12.05"))]
    keys = [c["headers"]["Idempotency-Key"] for c in double.calls(f"{API}/CreditNotes", "PUT")]
    assert set(keys) == {"evbill:t1:cn_inv_S-100:credit_note", "evbill:t1:cn_inv_S-100:allocation"}
    # allocation off: created, not allocated
    other = credit_note_event(sid="S-102", number="INV-0003")
    other["data"]["invoice"]["number"] = "CN-000002"
    off = xero.deliver(other, local(double, allocate_credit_notes=False),
                       DeliveryContext(OneShotHttp(), refs=refs))  # type: ignore[arg-type]
    assert off["allocated"] is None and off["allocation_skipped"] == "allocate_credit_notes is off"
    assert len(double.allocations) == 1
    # the original went out in a dry run (no InvoiceID recorded): created without allocation, no waiting
    third = credit_note_event(sid="S-103", number="INV-0004")
    third["data"]["invoice"]["number"] = "CN-000003"
    refs.found["evbill:t1:inv_S-103:invoice"] = ""
    dry = xero.deliver(third, cfg, DeliveryContext(OneShotHttp(), refs=refs))  # type: ignore[arg-type]
    assert dry["allocation_skipped"] == ("the delivery of original invoice inv_S-103 recorded no Xero InvoiceID "
                                         "(dry run?)") and dry["allocated"] is None
    assert len(double.credit_notes) == 3 and len(double.allocations) == 1


# ---- the real billing API's events through the real outbox worker ------------------------------------------


class Books(BillingBooks):
    """The billing API (tenant A, SQLite), Xero configured for it, and the worker run in passes."""

    def __init__(self, tmp_path: Path, d: XeroDouble, monkeypatch: pytest.MonkeyPatch, **config: Any) -> None:
        monkeypatch.delenv("EVBILL_PLATFORMS_FILE", raising=False)
        monkeypatch.setenv("XERO_T_SECRET", "csecret")
        monkeypatch.setenv("XERO_T_RT", "rt-0")
        monkeypatch.setenv(oauth.TOKEN_KEY_ENV, Fernet.generate_key().decode())
        monkeypatch.setattr(oauth, "_PROVIDERS", {})
        self.d = d
        super().__init__(tmp_path, "xero", {
            "client_id": "cid", "client_secret": "env:XERO_T_SECRET", "refresh_token": "env:XERO_T_RT",
            "xero_tenant_id": TENANT, "token_url": d.url + "/connect/token", "api_base": d.url + API, **config},
            {"tax_types": {"VAT:19": "OUTPUT2"}, "account_codes": {"energy": "4000"}}, POLICY)


@pytest.fixture
def books(tmp_path: Path, double: XeroDouble, monkeypatch: pytest.MonkeyPatch) -> Iterator[Books]:
    b = Books(tmp_path, double, monkeypatch)
    yield b
    b.close()


def test_worker_voids_a_sent_invoice_exactly_once_despite_429_500_and_a_lost_answer(books: Books,
                                                                                    double: XeroDouble) -> None:
    inv = ingest(books.client, "S-1", customer="C-1")["billing"]["invoice_id"]  # 3.00 + 0.57 VAT
    final = books.post(f"/v1/invoices/{inv}/finalize")
    double.fail(f"{API}/Invoices", 429, 500, retry_after="1")
    books.run(4)
    [(iid, stored)] = double.invoices.items()
    assert (stored["body"]["InvoiceNumber"], stored["total"], stored["status"]) == (final["number"], Decimal("3.57"),
                                                                                    "AUTHORISED")
    books.post(f"/v1/invoices/{inv}/void", {"reason": "wrong customer"})
    double.fail(f"{API}/Invoices/{final['number']}", 429, 500, retry_after="1")
    double.lose(f"{API}/Invoices/{final['number']}")
    books.run(6)
    assert double.status_changes == [(iid, "VOIDED")] and stored["status"] == "VOIDED"
    [void_row] = books.rows("invoice.voided")
    assert void_row.status == "sent" and void_row.attempts == 4
    assert void_row.result == {"status": "sent", "ref": iid, "number": final["number"], "xero_status": "VOIDED"}
    assert void_row.idempotency_key == f"evbill:A:{inv}:void"
    assert {r.idempotency_key for r in books.rows("invoice.finalized")} == {f"evbill:A:{inv}:invoice"}
    posts = double.calls(f"{API}/Invoices/{final['number']}", "POST")
    assert len(posts) == 4 and {p["headers"]["Idempotency-Key"] for p in posts} == {void_row.idempotency_key}
    assert len(double.invoices) == 1 and double.credit_notes == {}


def test_worker_credits_a_paid_invoice_to_the_cent_and_allocates_it(books: Books, double: XeroDouble) -> None:
    inv = ingest(books.client, "S-1", customer="C-1")["billing"]["invoice_id"]  # 3.00 + 0.57 VAT
    ingest(books.client, "S-2", customer="C-1", kwh="20")  # 6.00 + 1.14 VAT
    final = books.post(f"/v1/invoices/{inv}/finalize")
    books.post(f"/v1/invoices/{inv}/mark-paid")
    line_s2 = next(ln["id"] for ln in final["lines"] if ln["session_id"] == "S-2")
    note = books.post(f"/v1/invoices/{inv}/credit-notes", {"lines": [line_s2], "reason": "charger fault"}, 201)
    double.fail(f"{API}/CreditNotes", 503, 429, retry_after="1")
    double.lose(f"{API}/CreditNotes/")
    books.run(8)
    assert sorted((kind, r.status, (r.result or {}).get("status")) for kind in (
        "session.billed", "invoice.finalized", "credit_note.issued") for r in books.rows(kind)) == [
        ("credit_note.issued", "sent", "sent"), ("invoice.finalized", "sent", "sent"),
        ("session.billed", "sent", "skipped"), ("session.billed", "sent", "skipped")]  # the drafts
    [(iid, invoice)] = double.invoices.items()
    [(cid, credit)] = double.credit_notes.items()
    assert invoice["total"] == Decimal(final["amount_due"]) == Decimal("10.71")
    assert credit["total"] == Decimal(note["gross_total"]) == Decimal(note["amount_due"]) == Decimal("7.14")
    body = credit["body"]
    assert (body["Type"], body["CreditNoteNumber"], body["Reference"], body["CurrencyCode"], body["Status"]) == (
        "ACCRECCREDIT", note["number"], inv, "EUR", "AUTHORISED")
    assert [(li["LineAmount"], li["TaxAmount"], li["AccountCode"], li["TaxType"]) for li in body["LineItems"]] == [
        (Decimal("6.00"), Decimal("1.14"), "4000", "OUTPUT2")]
    assert body["Contact"] == invoice["body"]["Contact"] == {"Name": "Ada", "EmailAddress": "ada@example.org"}
    assert [(a["CreditNoteID"], a["InvoiceID"], a["Amount"]) for a in double.allocations] == [
        (cid, iid, Decimal("7.14"))]
    assert invoice["total"] - invoice["credited"] == Decimal("3.57")  # Xero's amount due after the credit
    [row] = books.rows("credit_note.issued")
    assert row.result == {"status": "sent", "ref": cid, "number": note["number"], "total": 7.14,
                          "credit_note_of": inv, "allocated": "7.14", "allocated_to": iid}
    assert row.idempotency_key == f"evbill:A:{note['id']}:credit_note"


def test_credit_note_on_an_invoice_paid_in_xero_stays_unallocated(books: Books, double: XeroDouble) -> None:
    inv = ingest(books.client, "S-1", customer="C-1")["billing"]["invoice_id"]
    final = books.post(f"/v1/invoices/{inv}/finalize")
    books.run(1)
    double.pay(final["number"], "3.57")  # the bank feed reconciled the payment in Xero
    books.post(f"/v1/invoices/{inv}/credit-notes", {"amount": "1.19"}, 201)
    books.run(1)
    [row] = books.rows("credit_note.issued")
    assert row.status == "sent" and row.result["allocated"] is None
    assert row.result["allocation_skipped"].startswith("Xero refused the allocation: HTTP 400")
    [credit] = double.credit_notes.values()
    assert credit["total"] == credit["remaining"] == Decimal("1.19") and double.allocations == []


def test_void_queued_before_the_invoice_reached_xero_is_retried_until_it_has(books: Books,
                                                                           double: XeroDouble) -> None:
    inv = ingest(books.client, "S-1", customer="C-1")["billing"]["invoice_id"]
    final = books.post(f"/v1/invoices/{inv}/finalize")
    patient = POLICY.model_copy(update={"max_delay": 900, "max_attempts": 10})
    double.fail(f"{API}/Invoices", 429, retry_after="600")  # Xero busy: the creation waits ten minutes
    books.run(1, step=timedelta(minutes=1), policy=patient)
    books.post(f"/v1/invoices/{inv}/void")
    books.run(1, step=timedelta(minutes=1), policy=patient)  # the void comes first and finds nothing
    [void_row] = books.rows("invoice.voided")
    assert void_row.status == "pending" and void_row.attempts == 1
    assert f"Xero has no invoice {final['number']} yet" in (void_row.last_error or "")
    assert double.invoices == {} and double.status_changes == []
    books.run(6, step=timedelta(minutes=5), policy=patient)
    [(iid, stored)] = double.invoices.items()
    assert double.status_changes == [(iid, "VOIDED")] and stored["status"] == "VOIDED"
    assert {r.status for r in books.rows()} == {"sent"}
    [void_row] = books.rows("invoice.voided")
    assert void_row.result["xero_status"] == "VOIDED" and 2 <= void_row.attempts < patient.max_attempts
    # every earlier attempt found no invoice (404, retried with backoff); the last one voided it
    assert len(double.calls(f"{API}/Invoices/{final['number']}", "POST")) == void_row.attempts


def test_draft_voided_is_skipped_with_its_reason(books: Books, double: XeroDouble) -> None:
    draft = ingest(books.client, "S-3", customer="C-1", kwh="5")["billing"]["invoice_id"]
    books.post(f"/v1/invoices/{draft}/void")
    books.run(2)
    [row] = books.rows("invoice.voided")
    assert row.status == "sent" and row.result == {"status": "skipped", "reason": (
        f"invoice {draft} was voided while a draft (no number): it was never sent to Xero, so there is nothing to "
        "void")}
    assert [r.result["status"] for r in books.rows("session.billed")] == ["skipped"]
    assert double.calls(API) == []

"""Zoho Books voids and credit notes: exact mapping, deliver() against the Zoho double, then the real billing
API's events through the real outbox worker (``worker.run_once``) to the double on 127.0.0.1, with 429/500s,
lost answers and a void that overtakes its invoice's creation.

No Zoho Books schema exists in ../shared/vendor-specs (platform-contracts §8): bodies are checked field by
field, amounts as exact Decimals, and the double computes Zoho's totals from the tax ids' percentages.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from connector.events.deliveries import Policy
from connector.platforms import oauth
from connector.platforms.adapters import zoho_books
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError, RetryableError
from tests.billing.invoicing.books import Books as BillingBooks
from tests.billing.invoicing.conftest import ingest
from tests.platforms.events import billed_event, incentive_event
from tests.platforms.fakes.finance_vendors import FinanceVendors
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.worker_model import retrying

CFG = zoho_books.ZohoBooksConfig(organization_id="60001", customer_ids={"C-1": "460000000026049"},
                                 tax_ids={"19": "460000000040001", "8": "460000000040002"},
                                 item_ids={"energy": "460000000050001"}, access_token="static",
                                 document="session")
POLICY = Policy(max_attempts=6, base_delay=1, max_delay=60)
INV = "/books/v3/invoices"
CN = "/books/v3/creditnotes"


def void_event(sid: str = "S-100", **kw: Any) -> dict[str, Any]:
    """``invoice.voided`` of the invoice that carried ``sid`` (as billing emits it: status void)."""
    inv = copy.deepcopy(billed_event(sid=sid, **kw)["data"]["invoice"])
    inv["status"] = "void"
    return {"id": f"evt_void_{sid}", "type": "invoice.voided", "tenant_id": "t1",
            "created_at": "2026-01-14T08:00:00Z", "data": {"invoice": inv}}


def credit_note_event(event: dict[str, Any] | None = None, number: str = "CN-000001") -> dict[str, Any]:
    """A credit note of the whole invoice, shaped as ``lifecycle.create_credit_note`` issues it (lines copied
    with their positive amounts and session ids, numbered in the CN series, ``credit_note_of`` = original id)."""
    inv = copy.deepcopy((event or billed_event())["data"]["invoice"])
    inv.update(id=f"cn_{inv['id']}", kind="credit_note", credit_note_of=inv["id"], number=number,
               status="finalized", issued_at="2026-01-20T09:00:00Z")
    for ln in inv["lines"]:
        ln["description"] = f"Credit: {ln['description']}"
    return {"id": f"evt_{inv['id']}", "type": "credit_note.issued", "tenant_id": "t1",
            "created_at": "2026-01-20T09:00:00Z", "data": {"invoice": inv}}


def two_session_void() -> dict[str, Any]:
    """A voided monthly invoice holding sessions S-100 and S-101."""
    event = void_event()
    other = copy.deepcopy(billed_event(sid="S-101")["data"]["invoice"]["lines"])
    for i, ln in enumerate(other):
        ln["id"] = f"L{i + 3}"
    event["data"]["invoice"]["lines"] += other
    return event


# ---- pure mapping ------------------------------------------------------------------------------------------


def test_keys_differ_per_operation_and_skips_are_explained() -> None:
    assert zoho_books.EVENTS == ("session.billed", "invoice.finalized", "invoice.voided", "credit_note.issued")
    keys = [zoho_books.idempotency_key(e, CFG) for e in (billed_event(), void_event(), credit_note_event())]
    assert keys == ["zoho_books:t1:S-100", "zoho_books:t1:inv_S-100:void", "zoho_books:t1:cn_inv_S-100:credit_note"]
    long_keys = []
    for event in (void_event(), credit_note_event()):  # over the outbox's 300 characters: prefix + digest
        event["data"]["invoice"]["id"] = "inv_" + "9" * 400
        long_keys.append(zoho_books.idempotency_key(event, CFG))
    assert [len(k) for k in long_keys] == [300, 300] and long_keys[0] != long_keys[1]
    assert zoho_books.operation_key("t1", "inv_" + "9" * 400, "void") == long_keys[0]

    unvoided = void_event()
    unvoided["data"]["invoice"]["status"] = "finalized"
    assert zoho_books.skip_reason(unvoided, CFG) == "invoice inv_S-100 is finalized, not void"
    no_sessions = void_event()
    for ln in no_sessions["data"]["invoice"]["lines"]:
        ln["session_id"] = None
    assert zoho_books.skip_reason(no_sessions, CFG) == (
        "invoice inv_S-100 has no session lines; Zoho Books invoices are per billed session, so none of it is "
        "there to void")
    not_a_note = credit_note_event()
    not_a_note["data"]["invoice"]["kind"] = "invoice"
    assert zoho_books.skip_reason(not_a_note, CFG) == (
        "credit_note.issued carries cn_inv_S-100 of kind 'invoice', not a credit note")
    voided_note = void_event()
    voided_note["data"]["invoice"]["kind"] = "credit_note"
    assert zoho_books.skip_reason(voided_note, CFG) == "inv_S-100 is a credit note; Zoho Books voids invoices only"
    for skipped in (unvoided, no_sessions, not_a_note):
        key = zoho_books.idempotency_key(skipped, CFG)
        assert key.startswith("zoho_books:skip:t1:") and key not in keys
        assert zoho_books.deliver(skipped, CFG, DeliveryContext(None))["status"] == "skipped"  # nothing sent (no sender needed)
    assert zoho_books.skip_reason(void_event(), CFG) is None and zoho_books.skip_reason(credit_note_event(), CFG) is None
    assert zoho_books.voided_sessions(two_session_void()["data"]["invoice"]) == ["S-100", "S-101"]


def test_credit_note_maps_our_lines_exactly() -> None:
    event = credit_note_event()
    body = zoho_books.build_credit_note(event, CFG)
    assert {k: v for k, v in body.items() if k != "line_items"} == {
        "customer_id": "460000000026049", "creditnote_number": "EV-CN-000001", "reference_number": "inv_S-100",
        "date": "2026-01-20", "is_inclusive_tax": False, "notes": "Credit note CN-000001 for invoice inv_S-100"}
    assert [(li["quantity"], li["rate"], li.get("tax_id"), li.get("item_id")) for li in body["line_items"]] == [
        (Decimal(1), Decimal("1.00"), "460000000040001", None),
        (Decimal(1), Decimal("9.13"), "460000000040001", "460000000050001")]
    # the same lines the invoice carried (only the name says "Credit:")
    invoice_lines = zoho_books.build_invoice(billed_event(), CFG)["line_items"]
    assert [(li["rate"], li["description"]) for li in body["line_items"]] == [
        (li["rate"], li["description"]) for li in invoice_lines]
    assert body["line_items"][1]["name"] == "Credit: Energy @ 0.39 EUR/kWh"
    assert sum(li["rate"] for li in body["line_items"]) == Decimal(event["data"]["invoice"]["net_total"])
    assert "invoice_id" not in body  # the link is a query parameter of the create call
    text = zoho_books.dumps_exact(body).decode()
    assert '"rate": 9.13' in text and '"creditnote_number": "EV-CN-000001"' in text
    assert zoho_books.credited_session(event["data"]["invoice"]) == "S-100"
    prefixed = zoho_books.build_credit_note(event, CFG.model_copy(update={"credit_note_number_prefix": "ZB-"}))
    assert prefixed["creditnote_number"] == "ZB-CN-000001"


def test_credit_note_incentives_jpy_and_refusals() -> None:
    incentive = zoho_books.build_credit_note(credit_note_event(incentive_event()), CFG)
    assert [li["rate"] for li in incentive["line_items"]] == [Decimal("1.00"), Decimal("9.13")]
    assert incentive["adjustment"] == Decimal("-1.17")  # as on the invoice: outside Zoho's tax base
    jpy = credit_note_event(billed_event("JPY", "ja_JP", energy_price="45", flat="100", vat="10"))
    assert [li["rate"] for li in zoho_books.build_credit_note(jpy, CFG.model_copy(
        update={"tax_ids": {"10": "TX10"}}))["line_items"]] == [Decimal("100"), Decimal("1053")]
    by_amount = credit_note_event()  # a credit by amount: one line without a session, no invoice to link
    by_amount["data"]["invoice"]["lines"] = [dict(by_amount["data"]["invoice"]["lines"][0], session_id=None)]
    assert zoho_books.credited_session(by_amount["data"]["invoice"]) is None
    assert zoho_books.credited_session(credit_note_event(
        {"data": {"invoice": two_session_void()["data"]["invoice"]}})["data"]["invoice"]) is None
    cases = [({"number": None}, "data.invoice.number: a credit note is numbered when issued"),
             ({"credit_note_of": None}, "data.invoice.credit_note_of: required"),
             ({"amount_due": "-12.05"}, "data.invoice.amount_due: a credit note's amounts are positive"),
             ({"customer": {"id": "C-404"}}, "customer_ids: no Zoho customer_id for customer C-404"),
             ({"lines": []}, "data.invoice.lines: the credit note has no line with an amount")]
    for update, message in cases:
        event = credit_note_event()
        event["data"]["invoice"].update(update)
        with pytest.raises(PermanentError, match=message.replace("(", r"\(")):
            zoho_books.deliver(event, CFG, DeliveryContext(None))
    with pytest.raises(PermanentError, match="tax_ids: no Zoho tax_id configured for tax rate 19"):
        zoho_books.deliver(credit_note_event(), CFG.model_copy(update={"tax_ids": {}}), DeliveryContext(None))


# ---- deliver() against the double (no worker) ----------------------------------------------------------------


def local(vendors: FinanceVendors, **update: Any) -> zoho_books.ZohoBooksConfig:
    return CFG.model_copy(update={"api_base": vendors.url, "access_token": None, "client_id": "zb-client",
                                  "client_secret": "zb-secret", "refresh_token": "1000.refresh",
                                  "token_url": vendors.url + "/oauth/v2/token", **update})


@pytest.fixture(autouse=True)
def fresh_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oauth, "_PROVIDERS", {})  # each test's double issues its own tokens


def test_void_retries_then_voids_once_already_void_is_a_no_op(vendors: FinanceVendors) -> None:
    cfg = local(vendors)
    created = zoho_books.deliver(billed_event(), cfg, DeliveryContext(OneShotHttp()))
    iid = created["ref"]
    void_path = f"{INV}/{iid}/status/void"
    vendors.fail(void_path, 429, 500, retry_after="2")
    vendors.lose(void_path, method="POST")  # voided at Zoho, the answer lost
    result, waits = retrying(lambda: zoho_books.deliver(void_event(), cfg, DeliveryContext(OneShotHttp())))
    assert waits == [2.0, None, None]
    assert vendors.zoho_voids == [iid] and vendors.zoho_invoices["EV-S-100"]["status"] == "void"
    assert result == {"status": "duplicate", "ref": iid, "voided": [], "already_void": ["EV-S-100"],
                      "note": "already void in Zoho Books"}  # the last attempt found the lost one done
    posts = vendors.calls(void_path, "POST")
    assert len(posts) == 3 and all(p["args"] == {"organization_id": "60001"} and p["body"] is None for p in posts)
    assert all(p["headers"]["Authorization"].startswith("Zoho-oauthtoken zb-token-") for p in posts)
    # delivered again: looked up, already void, nothing sent
    again = zoho_books.deliver(void_event(), cfg, DeliveryContext(OneShotHttp()))
    assert again["status"] == "duplicate" and len(vendors.calls(void_path, "POST")) == 3
    # not in Zoho yet (its session.billed still queued): retryable, nothing voided
    with pytest.raises(RetryableError, match="Zoho Books has no invoice EV-S-404 yet"):
        zoho_books.deliver(void_event(sid="S-404"), cfg, DeliveryContext(OneShotHttp()))
    assert vendors.zoho_voids == [iid]


def test_void_of_several_sessions_refuses_paid_before_voiding_any(vendors: FinanceVendors) -> None:
    cfg = local(vendors)
    first = zoho_books.deliver(billed_event(), cfg, DeliveryContext(OneShotHttp()))["ref"]
    second = zoho_books.deliver(billed_event(sid="S-101"), cfg, DeliveryContext(OneShotHttp()))["ref"]
    vendors.zoho_pay("EV-S-101", "partially_paid")
    with pytest.raises(PermanentError, match=r"does not void invoices with payments: EV-S-101 \(partially_paid\)"):
        zoho_books.deliver(two_session_void(), cfg, DeliveryContext(OneShotHttp()))
    assert vendors.zoho_voids == [] and [c for c in vendors.calls(f"{INV}/", "POST")
                                         if not c["path"].endswith("/status/sent")] == []
    vendors.zoho_pay("EV-S-101", "sent")  # the payment was deleted in Zoho: redelivery voids both
    result = zoho_books.deliver(two_session_void(), cfg, DeliveryContext(OneShotHttp()))
    assert result == {"status": "sent", "ref": f"{first},{second}", "voided": ["EV-S-100", "EV-S-101"],
                      "already_void": []}
    assert vendors.zoho_voids == [first, second]
    # paid after our lookup (a race): Zoho's refusal is permanent with the reason
    zoho_books.deliver(billed_event(sid="S-102"), cfg, DeliveryContext(OneShotHttp()))
    real_find = zoho_books._find
    calls = {"n": 0}

    def stale_first_lookup(*args: Any) -> Any:
        hit, dry = real_find(*args)
        calls["n"] += 1
        if calls["n"] == 1 and hit:
            vendors.zoho_pay("EV-S-102")
            hit = dict(hit, status="sent")
        return hit, dry

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(zoho_books, "_find", stale_first_lookup)
        with pytest.raises(PermanentError, match="refused to void EV-S-102: it is paid"):
            zoho_books.deliver(void_event(sid="S-102"), cfg, DeliveryContext(OneShotHttp()))
    assert vendors.zoho_invoices["EV-S-102"]["status"] == "paid"
    # voided by hand in Zoho after our lookup: Zoho's "already voided" refusal is checked, the void is done
    third = zoho_books.deliver(billed_event(sid="S-103"), cfg, DeliveryContext(OneShotHttp()))["ref"]
    calls["n"] = 0
    with pytest.MonkeyPatch.context() as mp:
        def voided_meanwhile(*args: Any) -> Any:
            hit, dry = real_find(*args)
            calls["n"] += 1
            if calls["n"] == 1 and hit:
                vendors.zoho_invoices["EV-S-103"]["status"] = "void"
                hit = dict(hit, status="draft")
            return hit, dry

        mp.setattr(zoho_books, "_find", voided_meanwhile)
        done = zoho_books.deliver(void_event(sid="S-103"), cfg, DeliveryContext(OneShotHttp()))
    assert done == {"status": "duplicate", "ref": third, "voided": [], "already_void": ["EV-S-103"],
                    "note": "already void in Zoho Books"}
    assert len(vendors.calls(f"{INV}/{third}/status/void", "POST")) == 1 and third not in vendors.zoho_voids


def test_credit_note_waits_for_its_invoice_then_is_created_once_linked_exact(vendors: FinanceVendors) -> None:
    cfg = local(vendors)
    with pytest.raises(RetryableError, match="Zoho Books has no invoice EV-S-100 yet"):
        zoho_books.deliver(credit_note_event(), cfg, DeliveryContext(OneShotHttp()))
    assert vendors.calls(CN, "POST") == []  # nothing created before the invoice it credits is there
    iid = zoho_books.deliver(billed_event(), cfg, DeliveryContext(OneShotHttp()))["ref"]
    vendors.fail(CN, 500, method="POST")
    vendors.lose(CN, method="POST")
    result, waits = retrying(lambda: zoho_books.deliver(
        credit_note_event(), cfg, DeliveryContext(OneShotHttp())))
    assert waits == [None, None]
    [(number, note)] = vendors.zoho_credit_notes.items()
    assert number == "EV-CN-000001" and note["invoice_id"] == iid
    assert note["total"] == Decimal("12.05") == Decimal(credit_note_event()["data"]["invoice"]["amount_due"])
    assert (note["sub_total"], note["tax_total"]) == (Decimal("10.13"), Decimal("1.92"))
    assert result == {"status": "duplicate", "ref": note["creditnote_id"], "creditnote_number": "EV-CN-000001"}
    creates = vendors.calls(CN, "POST")
    assert len(creates) == 2 and creates[-1]["args"] == {
        "organization_id": "60001", "ignore_auto_number_generation": "true", "invoice_id": iid}
    assert creates[-1]["headers"]["Content-Type"].startswith("application/json")
    # a second credit note, answered normally: the result carries Zoho's total and ours
    second = credit_note_event(number="CN-000002")
    second["data"]["invoice"]["lines"] = second["data"]["invoice"]["lines"][:1]
    second["data"]["invoice"].update(amount_due="1.19", gross_total="1.19", net_total="1.00", tax_total="0.19")
    done = zoho_books.deliver(second, cfg, DeliveryContext(OneShotHttp()))
    assert done == {"status": "sent", "ref": vendors.zoho_credit_notes["EV-CN-000002"]["creditnote_id"],
                    "creditnote_number": "EV-CN-000002", "credit_note_of": "inv_S-100", "invoice_id": iid,
                    "expected_total": "1.19", "total": "1.19"}


def test_credit_note_links_only_to_one_live_session_invoice(vendors: FinanceVendors) -> None:
    cfg = local(vendors)
    zoho_books.deliver(billed_event(), cfg, DeliveryContext(OneShotHttp()))
    zoho_books.deliver(billed_event(sid="S-101"), cfg, DeliveryContext(OneShotHttp()))
    both = credit_note_event({"data": {"invoice": two_session_void()["data"]["invoice"]}}, number="CN-000003")
    both["data"]["invoice"].update(status="finalized", amount_due="24.10")
    result = zoho_books.deliver(both, cfg, DeliveryContext(OneShotHttp()))
    assert result["invoice_id"] is None and result["total"] == "24.10" == result["expected_total"]
    assert result["link_skipped"] == ("the credited lines are not all of one session, so no single Zoho invoice "
                                      "matches")
    zoho_books.deliver(void_event(), cfg, DeliveryContext(OneShotHttp()))
    voided = zoho_books.deliver(credit_note_event(number="CN-000004"), cfg, DeliveryContext(OneShotHttp()))
    assert voided["status"] == "sent" and voided["invoice_id"] is None
    assert voided["link_skipped"] == "Zoho invoice EV-S-100 is void; Zoho links no credit note to it"
    assert [n["invoice_id"] for n in vendors.zoho_credit_notes.values()] == [None, None]
    # a mismatching tax setup in Zoho fails the delivery; the credit note Zoho computed is not kept
    vendors.zoho_tax_rates["460000000040001"] = Decimal("20")
    with pytest.raises(PermanentError, match=r"Zoho Books computes 12.16 for credit note EV-CN-000005, ours is "
                                             "12.05: the credit note was deleted"):
        zoho_books.deliver(credit_note_event(billed_event(sid="S-101"), number="CN-000005"), cfg,
                           DeliveryContext(OneShotHttp()))
    assert "EV-CN-000005" not in vendors.zoho_credit_notes and [d["creditnote_number"] for d in vendors.zoho_deleted
                                                                if "creditnote_number" in d] == ["EV-CN-000005"]


def test_dry_run_writes_the_lookups_and_the_credit_note(tmp_path: Path) -> None:
    from connector.platforms.dryrun import DryRunSender

    out = tmp_path / "requests.jsonl"
    http = DryRunSender(out)
    assert zoho_books.deliver(void_event(), CFG, DeliveryContext(http)) == {
        "status": "sent", "ref": None, "dry_run": True, "invoice_numbers": ["EV-S-100"]}
    note = zoho_books.deliver(credit_note_event(), CFG, DeliveryContext(http))
    assert note["link_skipped"] == "dry run: no Zoho invoice id to link" and note["invoice_id"] is None
    import json

    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(r["method"], r["url"].split("/books/v3")[1].split("?")[0]) for r in lines] == [
        ("GET", "/invoices"), ("GET", "/creditnotes"), ("POST", "/creditnotes")]
    assert lines[-1]["headers"]["Authorization"] == "***"


# ---- the real billing API's events through the real outbox worker ------------------------------------------


class Books(BillingBooks):
    """The billing API (tenant A, SQLite), Zoho Books configured for it, and the worker run in passes."""

    def __init__(self, tmp_path: Path, vendors: FinanceVendors, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("EVBILL_PLATFORMS_FILE", raising=False)
        monkeypatch.delenv("EVBILL_DRY_RUN_FILE", raising=False)
        monkeypatch.setenv("ZB_T_SECRET", "zb-secret")
        monkeypatch.setenv("ZB_T_RT", "1000.refresh")
        monkeypatch.setenv(oauth.TOKEN_KEY_ENV, Fernet.generate_key().decode())
        super().__init__(tmp_path, "zoho_books", {
            "api_base": vendors.url, "organization_id": "60001", "token_url": vendors.url + "/oauth/v2/token",
            "client_id": "zb-client", "client_secret": "env:ZB_T_SECRET", "refresh_token": "env:ZB_T_RT",
            "customer_ids": {"C-1": "460000000026049", "C-PS": "460000000026050"}, "document": "session"},
            {"tax_ids": {"19": "460000000040001"}, "item_ids": {"energy": "460000000050001"}}, POLICY)


@pytest.fixture
def books(tmp_path: Path, vendors: FinanceVendors, monkeypatch: pytest.MonkeyPatch) -> Iterator[Books]:
    b = Books(tmp_path, vendors, monkeypatch)
    yield b
    b.engine.dispose()


def test_worker_voids_a_finalized_invoice_exactly_once_despite_429_500_and_a_lost_answer(
        books: Books, vendors: FinanceVendors) -> None:
    inv = ingest(books.client, "S-1", customer="C-1")["billing"]["invoice_id"]  # 3.00 + 0.57 VAT
    ingest(books.client, "S-2", customer="C-1", kwh="20")  # 6.00 + 1.14 VAT, the same monthly draft
    books.post(f"/v1/invoices/{inv}/finalize")
    books.run(2)
    first, second = (vendors.zoho_invoices[n]["invoice_id"] for n in ("EV-S-1", "EV-S-2"))
    assert [sum(li["rate"] for li in vendors.zoho_invoices[n]["line_items"]) for n in ("EV-S-1", "EV-S-2")] == [
        Decimal("3.00"), Decimal("6.00")]
    books.post(f"/v1/invoices/{inv}/void", {"reason": "wrong customer"})
    vendors.fail(f"{INV}/", 429, 500, retry_after="1", method="POST")  # the void calls (not the create)
    vendors.lose(f"{INV}/{first}/status/void", method="POST")
    books.run(6)
    assert vendors.zoho_voids == [first, second]  # each exactly once
    assert {vendors.zoho_invoices[n]["status"] for n in ("EV-S-1", "EV-S-2")} == {"void"}
    [row] = books.rows("invoice.voided")
    assert (row.status, row.attempts, row.idempotency_key) == ("sent", 4, f"zoho_books:A:{inv}:void")
    assert row.result == {"status": "sent", "ref": f"{first},{second}", "voided": ["EV-S-2"],
                          "already_void": ["EV-S-1"]}  # the last attempt found the lost one done
    assert {r.idempotency_key for r in books.rows("session.billed")} == {"zoho_books:A:S-1", "zoho_books:A:S-2"}
    assert len(vendors.zoho_invoices) == 2 and vendors.zoho_credit_notes == {}
    assert {r.status for r in books.rows()} == {"sent"}


def test_worker_voids_the_sessions_of_a_voided_draft(books: Books, vendors: FinanceVendors) -> None:
    draft = ingest(books.client, "S-3", customer="C-1", kwh="5")["billing"]["invoice_id"]
    books.run(1)
    assert vendors.zoho_invoices["EV-S-3"]["status"] == "sent"  # Zoho invoices are per billed session
    books.post(f"/v1/invoices/{draft}/void")
    books.run(1)
    [row] = books.rows("invoice.voided")
    assert row.status == "sent" and row.result["voided"] == ["EV-S-3"]
    assert vendors.zoho_voids == [vendors.zoho_invoices["EV-S-3"]["invoice_id"]]


def test_worker_credits_a_session_invoice_exactly_once_to_the_cent(books: Books, vendors: FinanceVendors) -> None:
    inv = ingest(books.client, "S-5", customer="C-PS", kwh="20")["billing"]["invoice_id"]  # per-session invoice
    final = books.post(f"/v1/invoices/{inv}/finalize")
    books.run(1)
    note = books.post(f"/v1/invoices/{inv}/credit-notes", {"reason": "charger fault"}, 201)
    vendors.fail(CN, 503, 429, retry_after="1", method="POST")
    vendors.lose(CN, method="POST")
    books.run(6)
    [(number, credit)] = vendors.zoho_credit_notes.items()
    iid = vendors.zoho_invoices["EV-S-5"]["invoice_id"]
    assert number == f"EV-{note['number']}" and credit["invoice_id"] == iid
    assert credit["total"] == Decimal(note["amount_due"]) == Decimal(final["amount_due"]) == Decimal("7.14")
    assert credit["reference_number"] == inv and credit["customer_id"] == "460000000026050"
    assert [(li["rate"], li.get("tax_id")) for li in credit["line_items"]] == [(Decimal("6.00"), "460000000040001")]
    [row] = books.rows("credit_note.issued")
    assert (row.status, row.attempts, row.idempotency_key) == ("sent", 4, f"zoho_books:A:{note['id']}:credit_note")
    assert row.result == {"status": "duplicate", "ref": credit["creditnote_id"], "creditnote_number": number}
    assert len(vendors.calls(CN, "POST")) == 3  # 503, 429, the one that created it (answer lost)
    assert {r.status for r in books.rows()} == {"sent"}


def test_void_queued_before_the_invoice_reached_zoho_is_retried_until_it_has(books: Books,
                                                                            vendors: FinanceVendors) -> None:
    inv = ingest(books.client, "S-1", customer="C-1")["billing"]["invoice_id"]
    patient = POLICY.model_copy(update={"max_delay": 900, "max_attempts": 10})
    vendors.fail(INV, 429, retry_after="600", method="GET")  # Zoho busy: the creation waits ten minutes
    books.run(1, step=timedelta(minutes=1), policy=patient)
    books.post(f"/v1/invoices/{inv}/void")
    books.run(1, step=timedelta(minutes=1), policy=patient)  # the void comes first and finds nothing
    [void_row] = books.rows("invoice.voided")
    assert void_row.status == "pending" and void_row.attempts == 1
    assert "Zoho Books has no invoice EV-S-1 yet" in (void_row.last_error or "")
    assert vendors.zoho_invoices == {} and vendors.zoho_voids == []
    books.run(6, step=timedelta(minutes=5), policy=patient)
    assert {r.status for r in books.rows()} == {"sent"}
    iid = vendors.zoho_invoices["EV-S-1"]["invoice_id"]
    assert vendors.zoho_voids == [iid] and vendors.zoho_invoices["EV-S-1"]["status"] == "void"
    [void_row] = books.rows("invoice.voided")
    assert void_row.result["voided"] == ["EV-S-1"] and 2 <= void_row.attempts < patient.max_attempts
    assert len(vendors.calls(f"{INV}/{iid}/status/void", "POST")) == 1


def test_a_corrected_session_reaches_zoho_as_credit_and_new_charge(books: Books, vendors: FinanceVendors) -> None:
    """correct_session on a finalized invoice: the credit note credits EV-S-1 and the re-billed amount is a
    session.billed of its own (EV-S-1~CN-000001), so Zoho's receivable for the session is the new amount."""
    from sqlalchemy.orm import Session

    from connector.billing.invoicing import sessions as service

    inv = ingest(books.client, "S-1", customer="C-1")["billing"]["invoice_id"]  # 3.00 + 0.57 VAT
    books.post(f"/v1/invoices/{inv}/finalize")
    books.run(2)
    with Session(books.engine) as db:
        row = service._lock_session(db, "A", "S-1")
        row.document = {**row.document, "energy_kwh": "12"}  # the meter was read again
        out = service.correct_session(db, "A", "S-1", service.rate_session(db, "A", row, None), "meter re-read")
        db.commit()
    assert (out["credit_note"]["number"], out["invoice"]["amount_due"]) == ("CN-000001", "4.28")
    books.run(3)
    rebilled = [r for r in books.rows("session.billed") if r.idempotency_key.endswith("~CN-000001")]
    assert [(r.status, r.idempotency_key) for r in rebilled] == [("sent", "zoho_books:A:S-1~CN-000001")]
    assert {r.status for r in books.rows()} == {"sent"}
    new = vendors.zoho_invoices["EV-S-1~CN-000001"]
    assert (new["status"], new["total"]) == ("sent", Decimal("4.28"))
    [note] = vendors.zoho_credit_notes.values()
    assert (note["total"], note["invoice_id"]) == (Decimal("3.57"), vendors.zoho_invoices["EV-S-1"]["invoice_id"])
    receivable = sum(i["total"] for i in vendors.zoho_invoices.values()) - note["total"]
    assert receivable == Decimal("4.28")  # Zoho's books for the session: ours after the correction

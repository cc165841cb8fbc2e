"""PayPal follows our voids and credit notes: pure mappings (exact amounts, vendor schemas), the status rules
against the double, and end to end from the real billing API through the real outbox worker."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.events import worker
from connector.events.deliveries import Policy
from connector.platforms import oauth
from connector.platforms.adapters import paypal
from connector.platforms.context import DeliveryContext
from connector.platforms.dryrun import DryRunSender
from connector.platforms.errors import PermanentError, RetryableError
from connector.platforms.sent_refs import SentRefs
from connector.storage.tables.outbox import DeliveryRow, EventRow
from connector.storage.tables.platforms import PlatformConfigRow
from tests.billing.invoicing.conftest import A, ingest, make_app, setup_tenant
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.fakes.paypal import PayPalDouble, refund_errors
from tests.platforms.finance_events import invoice_event
from tests.platforms.schemas import schema_errors

CFG = paypal.PayPalConfig(client_id="cid", client_secret="csecret", invoicer_email="billing@evcharge.example")
POLICY = Policy(max_attempts=8, base_delay=1, max_delay=5)


def voided(**kw: Any) -> dict[str, Any]:
    event = invoice_event("invoice.voided", **kw)
    event["id"] = f"evt_void_{event['data']['invoice']['id']}"
    event["data"]["invoice"].update(status="void", reason="duplicate session")
    return event


def credit_note(original: dict[str, Any], amount_due: str, number: str = "CN-000001") -> dict[str, Any]:
    """A ``credit_note.issued`` of ``original`` (an invoice event) crediting ``amount_due``."""
    inv = copy.deepcopy(original["data"]["invoice"])
    inv.update(id=f"cn_{number}", number=number, kind="credit_note", credit_note_of=inv["id"],
               status="finalized", amount_due=amount_due, issued_at="2026-01-20T09:00:00Z")
    return {"id": f"evt_{number}", "type": "credit_note.issued", "tenant_id": original["tenant_id"],
            "created_at": "2026-01-20T09:00:00Z", "data": {"invoice": inv}}


# ---------------------------------------------------------------- pure mapping

def test_keys_of_corrections_never_equal_the_creation_key() -> None:
    created = invoice_event()
    key = paypal.idempotency_key(created, CFG)
    assert key == "paypal:t1:inv_S-100"
    assert paypal.idempotency_key(voided(), CFG) == "paypal:t1:inv_S-100:void"
    assert paypal.idempotency_key(credit_note(created, "12.05"), CFG) == "paypal:t1:cn_CN-000001:credit_note"
    draft_void = voided(status="draft", number=None)
    assert paypal.skip_reason(draft_void) == (
        "invoice inv_S-100 was voided while a draft (no number): it was never sent to PayPal, so there is nothing "
        "to void")
    assert paypal.idempotency_key(draft_void, CFG) == "paypal:skip:t1:evt_void_inv_S-100"
    not_a_note = credit_note(created, "1.00")
    not_a_note["data"]["invoice"]["credit_note_of"] = None
    assert paypal.skip_reason(not_a_note) == "invoice cn_CN-000001 is not a credit note of another invoice"
    assert set(paypal.EVENTS) == {"session.billed", "invoice.finalized", "invoice.voided", "credit_note.issued"}


def test_cancel_body_is_a_notification_and_refund_body_has_exact_amounts() -> None:
    body = paypal.build_cancel(voided(), CFG)
    assert schema_errors("paypal/invoices_send.schema.json", body) == []  # the spec's cancel body is ``notification``
    assert body == {"subject": "Invoice INV-0001 has been cancelled",
                    "note": "This invoice was cancelled; please do not pay it. Reason: duplicate session.",
                    "send_to_recipient": True, "send_to_invoicer": False}
    full = paypal.build_cancel(credit_note(invoice_event(), "12.05"), CFG)
    assert schema_errors("paypal/invoices_send.schema.json", full) == []
    assert full["subject"] == "Invoice inv_S-100 has been cancelled"
    assert full["note"] == "This invoice was cancelled; please do not pay it. Credited in full by credit note CN-000001."
    cases = [(invoice_event(), "7.14", {"currency_code": "EUR", "value": "7.14"}),
             (invoice_event(currency="JPY", flat="100", energy_price="45"), "1372",
              {"currency_code": "JPY", "value": "1372"}),
             (invoice_event(currency="KWD", flat="0.100", energy_price="0.035", vat=None), "0.049",
              {"currency_code": "KWD", "value": "0.049"})]
    for original, amount, money in cases:
        refund = paypal.build_refund(credit_note(original, amount), CFG)
        assert refund == {"method": "BANK_TRANSFER", "refund_date": "2026-01-20", "amount": money}
        assert refund_errors(refund) == []
    other = paypal.build_refund(credit_note(invoice_event(), "7.14"), CFG.model_copy(update={"refund_method": "OTHER"}))
    assert other["method"] == "OTHER"
    assert refund_errors({**other, "amount": {"currency_code": "EUR", "value": 7.14}})  # a float is refused
    assert refund_errors({"amount": other["amount"]})  # method is required
    with pytest.raises(ValueError, match=r"invoice.amount_due: 7.145 has more decimals than EUR allows"):
        paypal.build_refund(credit_note(invoice_event(), "7.145"), CFG)
    with pytest.raises(ValueError, match="credits nothing"):
        paypal.build_refund(credit_note(invoice_event(), "0.00"), CFG)
    bad = CFG.model_copy(update={"cancel_note": "Cancelled {invoice}"})
    with pytest.raises(ValueError, match=r"config.cancel_note: only \{number\} and \{reason\} can be filled in"):
        paypal.build_cancel(voided(), bad)


# ---------------------------------------------------------------- status rules against the double

@pytest.fixture
def double() -> Iterator[PayPalDouble]:
    d = PayPalDouble().start()
    yield d
    d.stop()


def sent(double: PayPalDouble, **kw: Any) -> tuple[dict[str, Any], paypal.PayPalConfig, dict[str, Any]]:
    """Our finalized invoice, created and sent at the double: (event, config, PayPal's invoice)."""
    cfg = CFG.model_copy(update={"api_base": double.url})
    event = invoice_event(**kw)
    result = paypal.deliver(event, cfg, DeliveryContext(OneShotHttp()))
    return event, cfg, double.invoices[result["ref"]]


def test_void_rules_by_paypal_status(double: PayPalDouble) -> None:
    event, cfg, inv = sent(double)
    double.honour_request_id = False  # nothing may depend on PayPal-Request-Id replays
    void = voided()
    double.lose("/v2/invoicing/invoices/", 1)  # PayPal cancels, our side sees a 500
    with pytest.raises(RetryableError):
        paypal.deliver(void, cfg, DeliveryContext(OneShotHttp()))
    assert inv["status"] == "CANCELLED"
    again = paypal.deliver(void, cfg, DeliveryContext(OneShotHttp()))
    assert again == {"status": "sent", "ref": inv["id"], "invoice_number": "EV-INV-0001",
                     "paypal_status_before": "CANCELLED", "action": "none", "result": "already cancelled",
                     "paypal_status": "CANCELLED"}
    assert len(double.cancel_mails) == 1 and len(double.calls("/v2/invoicing/invoices/", "POST")) == 2  # send, cancel
    # a scheduled (or draft) invoice cannot be cancelled: it is deleted
    event2, _, inv2 = sent(double, sid="S-101", number="INV-0002")
    inv2["status"] = "SCHEDULED"
    res = paypal.deliver(voided(sid="S-101", number="INV-0002"), cfg, DeliveryContext(OneShotHttp()))
    assert (res["action"], res["paypal_status"]) == ("delete", "DELETED") and inv2["id"] in double.deleted
    [delete] = double.calls(f"/v2/invoicing/invoices/{inv2['id']}", "DELETE")
    assert delete["headers"]["Paypal-Request-Id"] == "paypal:t1:inv_S-101:void:delete"
    # paid at PayPal but voided as unpaid by us: the books disagree
    _, _, inv3 = sent(double, sid="S-102", number="INV-0003")
    double.pay(inv3["id"])
    with pytest.raises(PermanentError, match="is PAID but our invoice inv_S-102 was voided as unpaid: the books "
                                             "disagree"):
        paypal.deliver(voided(sid="S-102", number="INV-0003"), cfg, DeliveryContext(OneShotHttp()))
    assert inv3["status"] == "PAID"
    _, _, inv4 = sent(double, sid="S-103", number="INV-0004")
    double.pay(inv4["id"], "MARKED_AS_PAID")  # a payment the merchant recorded by hand counts as paid
    with pytest.raises(PermanentError, match="is MARKED_AS_PAID but our invoice inv_S-103 was voided"):
        paypal.deliver(voided(sid="S-103", number="INV-0004"), cfg, DeliveryContext(OneShotHttp()))
    inv4["status"] = "PAYMENT_PENDING"  # a payment in flight: wait until it settles (or fails)
    with pytest.raises(RetryableError, match=r"\(EV-INV-0004\) has a payment pending; the void waits for it"):
        paypal.deliver(voided(sid="S-103", number="INV-0004"), cfg, DeliveryContext(OneShotHttp()))
    # never delivered: retry later; the double would 404 a cancel of an unknown id anyway
    with pytest.raises(RetryableError, match="original invoice EV-INV-0009 not yet delivered to PayPal"):
        paypal.deliver(voided(sid="S-109", number="INV-0009"), cfg, DeliveryContext(OneShotHttp()))


class Refs(SentRefs):
    """What the worker would have recorded: ``sent`` holds the keys of finished deliveries."""

    def __init__(self, sent: set[str]) -> None:
        self.sent = sent

    def result_of(self, tenant_id: str, platform: str, key: str) -> dict[str, Any] | None:
        return {"status": "sent"} if key in self.sent else None


def test_a_draft_is_deleted_only_once_its_creating_delivery_is_finished(double: PayPalDouble) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url})
    double.fail("/v2/invoicing/invoices/", 500)  # created, but the send failed: the creation will retry
    with pytest.raises(RetryableError):
        paypal.deliver(invoice_event(), cfg, DeliveryContext(OneShotHttp()))
    [inv] = double.invoices.values()
    assert inv["status"] == "DRAFT"
    with pytest.raises(RetryableError, match="is a draft whose delivery is still in progress"):
        paypal.deliver(voided(), cfg, DeliveryContext(OneShotHttp(), refs=Refs(set())))
    assert inv["status"] == "DRAFT" and double.calls("/v2/invoicing/invoices/", "DELETE") == []
    res = paypal.deliver(voided(), cfg, DeliveryContext(OneShotHttp(), refs=Refs({"paypal:t1:inv_S-100"})))
    assert res["action"] == "delete" and double.invoices == {} and double.mails == []


def test_credit_notes_cancel_skip_or_refund(double: PayPalDouble) -> None:
    event, cfg, inv = sent(double)
    assert inv["total"] == Decimal("12.05")
    partial = paypal.deliver(credit_note(event, "7.14"), cfg, DeliveryContext(OneShotHttp()))
    assert partial["status"] == "skipped" and inv["status"] == "UNPAID"
    assert partial["reason"] == (
        "PayPal has no credit notes and this adapter does not rewrite a sent invoice: credit note CN-000001 "
        "credits 7.14 EUR of PayPal invoice EV-INV-0001 (12.05 EUR, UNPAID), which stays payable in full; cancel "
        "it and re-invoice the rest by hand, or refund the difference once it is paid")
    full = paypal.deliver(credit_note(event, "12.05", "CN-000002"), cfg, DeliveryContext(OneShotHttp()))
    assert (full["action"], full["paypal_status"], full["amount"]) == ("cancel", "CANCELLED", "12.05")
    assert inv["status"] == "CANCELLED" and double.cancel_mails[0][1] == {
        "subject": "Invoice INV-0001 has been cancelled", "send_to_recipient": True, "send_to_invoicer": False,
        "note": "This invoice was cancelled; please do not pay it. Credited in full by credit note CN-000002."}
    [cancel] = double.calls("/v2/invoicing/invoices/", "POST")[-1:]
    assert cancel["headers"]["Paypal-Request-Id"] == "paypal:t1:cn_CN-000002:credit_note:cancel"
    # paid: the credit note's amount is recorded as a refund, exactly, and once even after a lost answer
    paid_event, _, paid = sent(double, sid="S-200", number="INV-0200")
    double.pay(paid["id"])
    double.honour_request_id = False
    double.lose(f"/v2/invoicing/invoices/{paid['id']}/refunds", 1)  # recorded, answer lost
    note = credit_note(paid_event, "1.19", "CN-000003")
    with pytest.raises(RetryableError):
        paypal.deliver(note, cfg, DeliveryContext(OneShotHttp()))
    again = paypal.deliver(note, cfg, DeliveryContext(OneShotHttp()))
    assert (again["action"], again["result"]) == ("none", "refund already recorded")
    rest = paypal.deliver(credit_note(paid_event, "10.86", "CN-000004"), cfg, DeliveryContext(OneShotHttp()))
    assert rest["action"] == "refund" and rest["refund"]["amount"] == {"currency_code": "EUR", "value": "10.86"}
    assert [r["amount"]["value"] for r in paid["refunds"]] == ["1.19", "10.86"]
    assert paid["refunded"] == paid["paid"] == Decimal("12.05") and paid["status"] == "REFUNDED"
    refund_ids = [c["headers"]["Paypal-Request-Id"] for c in double.calls(f"/v2/invoicing/invoices/{paid['id']}/refunds")]
    assert refund_ids == ["paypal:t1:cn_CN-000003:credit_note:refund", "paypal:t1:cn_CN-000004:credit_note:refund"]
    marked_event, _, marked = sent(double, sid="S-201", number="INV-0201")
    double.pay(marked["id"], "MARKED_AS_PAID")
    res = paypal.deliver(credit_note(marked_event, "12.05", "CN-000006"), cfg, DeliveryContext(OneShotHttp()))
    assert res["action"] == "refund" and marked["status"] == "REFUNDED" and marked["refunded"] == Decimal("12.05")
    # more than was paid: PayPal refuses, permanently
    with pytest.raises(PermanentError, match="REFUND_AMOUNT_EXCEEDED"):
        paypal.deliver(credit_note(paid_event, "0.01", "CN-000005"), cfg, DeliveryContext(OneShotHttp()))
    # the original never reached PayPal: wait for it
    with pytest.raises(RetryableError, match="original invoice inv_S-300 not yet delivered to PayPal"):
        paypal.deliver(credit_note(invoice_event(sid="S-300", number="INV-0300"), "1.00"), cfg,
                       DeliveryContext(OneShotHttp()))


def test_corrections_need_a_valid_token_and_a_known_invoice(double: PayPalDouble) -> None:
    _, cfg, inv = sent(double)
    for method, path in (("POST", f"/v2/invoicing/invoices/{inv['id']}/cancel"),
                         ("DELETE", f"/v2/invoicing/invoices/{inv['id']}"),
                         ("POST", f"/v2/invoicing/invoices/{inv['id']}/refunds"),
                         ("GET", f"/v2/invoicing/invoices/{inv['id']}")):
        r = requests.request(method, double.url + path, json={}, headers={"Authorization": "Bearer stolen"}, timeout=5)
        assert r.status_code == 401, (method, path)
    token = double.calls("/v2/invoicing/search-invoices")[-1]["headers"]["Authorization"]
    r = requests.post(f"{double.url}/v2/invoicing/invoices/INV2-NOPE/cancel", json={}, timeout=5,
                      headers={"Authorization": token})
    assert r.status_code == 404 and inv["status"] == "UNPAID"
    # a repeated PayPal-Request-Id replays the first answer (when honoured) without acting again
    headers = {"Authorization": token, "PayPal-Request-Id": "rid-1"}
    first = requests.post(f"{double.url}/v2/invoicing/invoices/{inv['id']}/cancel", json={}, headers=headers, timeout=5)
    second = requests.post(f"{double.url}/v2/invoicing/invoices/{inv['id']}/cancel", json={}, headers=headers, timeout=5)
    assert (first.status_code, second.status_code, len(double.cancel_mails)) == (204, 204, 1)
    third = requests.post(f"{double.url}/v2/invoicing/invoices/{inv['id']}/cancel", json={}, timeout=5,
                          headers={**headers, "PayPal-Request-Id": "rid-2"})
    assert third.status_code == 422 and "INVOICE_ALREADY_CANCELLED" in third.text


# ---------------------------------------------------------------- real billing -> outbox -> worker -> PayPal

class Day:
    """The billing API on a temp SQLite with PayPal configured for tenant "A", and a worker clock."""

    def __init__(self, tmp_path: Any, double: PayPalDouble, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PAYPAL_SECRET", "csecret")
        self.app = make_app(f"sqlite:///{tmp_path / 'day.db'}")
        self.client = self.app.test_client()
        self.engine = self.app.extensions["evbill.engine"]
        self.double = double
        setup_tenant(self.client)
        with Session(self.engine) as db:
            db.add(PlatformConfigRow(tenant_id="A", platform="paypal", enabled=True, field_mapping={}, config={
                "client_id": "cid", "client_secret": "env:PAYPAL_SECRET", "api_base": double.url,
                "invoicer_email": "billing@evcharge.example"}))
            db.commit()
        self.now = datetime.now(UTC)

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = self.client.post(path, json=body or {}, headers=A)
        assert r.status_code in (200, 201), r.get_data(as_text=True)
        return r.get_json()

    def invoice(self, *sessions: tuple[str, str]) -> dict[str, Any]:
        """C-1's finalized invoice of these (session, kWh)."""
        inv_id = ""
        for sid, kwh in sessions:
            inv_id = ingest(self.client, sid, customer="C-1", kwh=kwh)["billing"]["invoice_id"]
        return self.post(f"/v1/invoices/{inv_id}/finalize")

    def drain(self, passes: int = 10) -> None:
        for _ in range(passes):
            worker.run_once(self.engine, self.now, policy=POLICY)
            self.now += timedelta(minutes=10)

    def rows(self, event_type: str) -> list[DeliveryRow]:
        with Session(self.engine) as db:
            ids = list(db.scalars(select(EventRow.id).where(EventRow.type == event_type)))
            return list(db.scalars(select(DeliveryRow).where(DeliveryRow.event_id.in_(ids))))


@pytest.fixture
def day(tmp_path: Any, double: PayPalDouble, monkeypatch: pytest.MonkeyPatch) -> Iterator[Day]:
    d = Day(tmp_path, double, monkeypatch)
    yield d
    d.engine.dispose()


def test_void_of_a_sent_invoice_cancels_it_exactly_once_through_the_worker(day: Day) -> None:
    inv = day.invoice(("S-1", "10"))
    assert (inv["number"], inv["amount_due"]) == ("INV-000001", "3.57")
    day.drain(2)
    pp = day.double.by_number("EV-INV-000001")
    assert (pp["status"], pp["total"]) == ("UNPAID", Decimal("3.57"))
    day.double.honour_request_id = False
    day.double.fail("/v2/invoicing/invoices/", 429, 500, retry_after="1")
    day.double.lose("/v2/invoicing/invoices/", 1)  # the cancel is done, its answer lost
    day.post(f"/v1/invoices/{inv['id']}/void", {"reason": "duplicate session"})
    day.drain()
    [row] = day.rows("invoice.voided")
    assert (row.status, row.attempts, row.idempotency_key) == ("sent", 4, f"paypal:A:{inv['id']}:void")
    assert row.result["action"] == "none" and row.result["result"] == "already cancelled"
    assert pp["status"] == "CANCELLED" and len(day.double.cancel_mails) == 1 and len(day.double.mails) == 1
    assert day.double.cancel_mails[0][1]["note"].endswith("Reason: duplicate session.")
    cancels = day.double.calls(f"/v2/invoicing/invoices/{pp['id']}/cancel")
    assert len(cancels) == 3  # 429, 500, done (answer lost); the 4th attempt found it CANCELLED
    assert {c["headers"]["Paypal-Request-Id"] for c in cancels} == {f"paypal:A:{inv['id']}:void:cancel"}
    [create] = day.double.calls("/v2/invoicing/invoices", "POST")[:1]
    assert create["headers"]["Paypal-Request-Id"] == f"paypal:A:{inv['id']}:create"


def test_void_before_the_original_was_delivered_waits_for_it(day: Day) -> None:
    day.double.fail("/v2/invoicing/search-invoices", 500, 500)  # the creation's first tries fail
    day.double.fail("/v2/invoicing/invoices", 500, 500)
    inv = day.invoice(("S-1", "10"))
    day.post(f"/v1/invoices/{inv['id']}/void")
    day.drain()
    [void_row] = day.rows("invoice.voided")
    [created] = day.rows("invoice.finalized")
    assert (created.status, void_row.status) == ("sent", "sent")
    assert void_row.attempts >= 2 and void_row.result["action"] == "cancel"
    assert void_row.idempotency_key != created.idempotency_key
    [pp] = day.double.invoices.values()
    assert pp["status"] == "CANCELLED" and len(day.double.mails) == 1 and len(day.double.cancel_mails) == 1
    assert day.double.deleted == {}


def test_a_draft_voided_at_home_is_skipped(day: Day) -> None:
    draft = ingest(day.client, "S-3", customer="C-1", kwh="5")["billing"]["invoice_id"]
    day.post(f"/v1/invoices/{draft}/void")
    day.drain(2)
    [row] = day.rows("invoice.voided")
    assert row.status == "sent" and row.result == {
        "status": "skipped",
        "reason": f"invoice {draft} was voided while a draft (no number): it was never sent to PayPal, so there is "
                  "nothing to void"}
    assert day.double.calls("/v2/") == []


def test_credit_notes_through_the_worker(day: Day) -> None:
    # unpaid, credited in full -> cancelled
    first = day.invoice(("S-1", "10"))
    day.drain(2)
    note = day.post(f"/v1/invoices/{first['id']}/credit-notes", {"reason": "charger fault"})
    day.drain(2)
    assert note["amount_due"] == "3.57"
    assert day.double.by_number("EV-INV-000001")["status"] == "CANCELLED"
    assert day.double.cancel_mails[0][1]["subject"] == "Invoice INV-000001 has been cancelled"
    assert day.double.cancel_mails[0][1]["note"].endswith(f"Credited in full by credit note {note['number']}.")
    # 3.00 + 0.57 and 6.00 + 1.14: 10.71 EUR; a partial credit of the unpaid invoice is skipped with the reason
    second = day.invoice(("S-2", "10"), ("S-3", "20"))
    assert second["amount_due"] == "10.71"
    day.drain(2)
    pp = day.double.by_number(f"EV-{second['number']}")
    line = next(ln["id"] for ln in second["lines"] if ln["session_id"] == "S-3")
    day.post(f"/v1/invoices/{second['id']}/credit-notes", {"lines": [line]})
    day.drain(2)
    skipped = [r for r in day.rows("credit_note.issued") if r.result.get("status") == "skipped"]
    assert [r.result["reason"].split(":")[1].strip()[:48] for r in skipped] == [
        "credit note CN-000002 credits 7.14 EUR of PayPal"]
    assert "(10.71 EUR, UNPAID)" in skipped[0].result["reason"] and pp["status"] == "UNPAID"
    # paid in PayPal and in billing: a credit by amount is recorded as a refund of exactly that amount
    third = day.invoice(("S-4", "10"), ("S-5", "20"))
    day.drain(2)
    paid = day.double.by_number(f"EV-{third['number']}")
    day.double.pay(paid["id"])
    day.post(f"/v1/invoices/{third['id']}/mark-paid")
    day.double.fail("/v2/invoicing/invoices/", 500, 429, retry_after="1")
    day.post(f"/v1/invoices/{third['id']}/credit-notes", {"amount": "1.19"})
    day.drain()
    assert [(r["method"], r["amount"]) for r in paid["refunds"]] == [
        ("BANK_TRANSFER", {"currency_code": "EUR", "value": "1.19"})]
    assert paid["status"] == "PARTIALLY_REFUNDED" and paid["refunded"] == Decimal("1.19")
    rows = day.rows("credit_note.issued")
    assert {r.status for r in rows} == {"sent"} and len({r.idempotency_key for r in rows}) == 3
    assert sorted(r.result.get("action", "skip") for r in rows) == ["cancel", "refund", "skip"]
    assert len(day.double.invoices) == 3 and len(day.double.mails) == 3 and len(day.double.cancel_mails) == 1


def test_void_of_an_invoice_paid_at_paypal_fails_loudly(day: Day) -> None:
    inv = day.invoice(("S-1", "10"))
    day.drain(2)
    pp = day.double.by_number("EV-INV-000001")
    day.double.pay(pp["id"])  # paid at PayPal, but nobody told billing
    day.post(f"/v1/invoices/{inv['id']}/void")
    day.drain(2)
    [row] = day.rows("invoice.voided")
    assert row.status == "failed" and "the books disagree" in (row.last_error or "")
    assert pp["status"] == "PAID" and day.double.calls(f"/v2/invoicing/invoices/{pp['id']}/cancel") == []


def test_void_of_a_draft_whose_send_is_still_retrying_waits_instead_of_deleting(day: Day) -> None:
    """The creation made the draft but its send keeps failing; the void arrives meanwhile. Deleting the draft
    would let the creation's retry create and send it again; the worker-injected refs make the void wait."""
    inv = day.invoice(("S-1", "10"))
    day.double.fail("/v2/invoicing/invoices/", 500, 500, 500)  # the send (and whatever else) fails 3 times
    day.drain(1)  # the creation: draft made, send failed
    [pp] = day.double.invoices.values()
    assert pp["status"] == "DRAFT"
    day.post(f"/v1/invoices/{inv['id']}/void")
    day.drain()
    [void_row] = day.rows("invoice.voided")
    assert void_row.status == "sent" and void_row.result["action"] == "cancel" and void_row.attempts >= 2
    assert day.double.calls("/v2/invoicing/invoices/", "DELETE") == [] and day.double.deleted == {}
    assert list(day.double.invoices.values()) == [pp] and pp["status"] == "CANCELLED"
    assert len(day.double.mails) == 1 and len(day.double.cancel_mails) == 1


def test_dry_run_writes_the_cancellation_and_leaves_credit_notes_alone(tmp_path: Any) -> None:
    oauth._PROVIDERS.clear()
    out = tmp_path / "dry.jsonl"
    http = DryRunSender(out)
    cfg = CFG.model_copy(update={"client_secret": "pp-hidden42"})
    res = paypal.deliver(voided(), cfg, DeliveryContext(http))
    assert res == {"status": "sent", "ref": "INV2-DRY-RUN", "invoice_number": "EV-INV-0001", "action": "cancel"}
    note = paypal.deliver(credit_note(invoice_event(), "12.05"), cfg, DeliveryContext(http))
    assert note["status"] == "skipped" and note["reason"].startswith("dry run")
    calls = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [(c["method"], c["url"].rsplit("paypal.com", 1)[1]) for c in calls] == [
        ("POST", "/v1/oauth2/token"), ("POST", "/v2/invoicing/search-invoices"),
        ("POST", "/v2/invoicing/invoices/INV2-DRY-RUN/cancel"), ("POST", "/v2/invoicing/search-invoices")]
    assert schema_errors("paypal/invoices_send.schema.json", calls[2]["json"]) == []
    assert calls[3]["json"] == {"reference": "inv_S-100"} and "hidden42" not in out.read_text(encoding="utf-8")

"""Stripe corrections: ``invoice.voided`` voids the Stripe invoice, ``credit_note.issued`` creates a Stripe
credit note equal to ours to the minor unit. Pure mapping with exact amounts, the double's Stripe rules, and
end to end through the real outbox worker (``SentRefs`` in the worker's delivery context) against the double."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from connector.events import worker
from connector.events.deliveries import Policy
from connector.events.outbox import emit
from connector.platforms import context
from connector.platforms.adapters import stripe
from connector.platforms.context import DeliveryContext
from connector.platforms.dryrun import DryRunSender
from connector.platforms.errors import PermanentError, RetryableError
from connector.platforms.sent_refs import SentRefs
from connector.storage.tables import all_metadata
from connector.storage.tables.outbox import DeliveryRow
from connector.storage.tables.platforms import PlatformConfigRow
from tests.billing.invoicing.conftest import A, ingest, make_app, setup_tenant
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.fakes.stripe import StripeDouble
from tests.platforms.finance_events import billed_event, incentive, invoice_event
from tests.platforms.worker_model import retrying

CFG = stripe.StripeConfig(api_key="sk_test_123", customer_map={"C-1": "cus_EVdriver001"}, tax_mode="items")
POLICY = Policy(max_attempts=8, base_delay=1, max_delay=5)
T0 = datetime(2026, 1, 14, 8, 0, tzinfo=UTC)


def credit_note_of(event: dict[str, Any], cn_id: str = "cn_1", number: str = "CN-000001",
                   reason: str | None = None) -> dict[str, Any]:
    """A full credit note of ``event``'s invoice, shaped like ``lifecycle.create_credit_note`` makes it
    (its lines copied with "Credit: " descriptions, numbered in the CN series, status finalized)."""
    original = event["data"]["invoice"]
    note = copy.deepcopy(original)
    note.update(id=cn_id, number=number, kind="credit_note", credit_note_of=original["id"], status="finalized",
                reason=reason)
    for ln in note["lines"]:
        ln["id"] = f"{cn_id}-{ln['id']}"
        ln["description"] = f"Credit: {ln['description']}"
    return {"id": f"evt_{cn_id}", "type": "credit_note.issued", "tenant_id": event["tenant_id"],
            "created_at": "2026-01-14T09:00:00Z", "data": {"invoice": note}}


def voided(event: dict[str, Any]) -> dict[str, Any]:
    inv = dict(event["data"]["invoice"], status="void")
    return {"id": f"evt_void_{inv['id']}", "type": "invoice.voided", "tenant_id": event["tenant_id"],
            "created_at": "2026-01-14T09:00:00Z", "data": {"invoice": inv}}


class Refs:
    """Stand-in for the worker's ``SentRefs`` in direct ``deliver`` calls: what it would have recorded."""

    def __init__(self, known: dict[str, str]) -> None:
        self.known = known
        self.asked: list[tuple[str, str, str]] = []

    def ref_of(self, tenant_id: str, platform: str, key: str) -> str | None:
        self.asked.append((tenant_id, platform, key))
        return self.known.get(key)


@pytest.fixture
def double() -> Iterator[StripeDouble]:
    d = StripeDouble().start()
    yield d
    d.stop()


# ---------------------------------------------------------------- pure mapping


def test_credit_note_lines_are_our_nets_and_taxes_in_minor_units() -> None:
    note = credit_note_of(billed_event(), reason="charger fault")
    body = stripe.build_credit_note(note, CFG, "in_9")
    assert [(ln["type"], ln["quantity"], ln["unit_amount"], ln["description"]) for ln in body["lines"]] == [
        ("custom_line_item", 1, 100, "Credit: Session fee @ 1.00 EUR/session - session S-100"),
        ("custom_line_item", 1, 913, "Credit: Energy @ 0.39 EUR/kWh (23.4 kWh) - session S-100"),
        ("custom_line_item", 1, 192, "Credit: VAT 19%")]
    assert stripe.credit_note_total(body) == 1205  # our amount_due "12.05"
    assert body["invoice"] == "in_9" and body["memo"] == "Credit note CN-000001: charger fault"
    assert body["metadata"] == {"credit_note_id": "cn_1", "credit_note_number": "CN-000001",
                                "invoice_id": "inv_S-100", "tenant_id": "t1"}
    pairs = stripe.form_encode(body)
    assert ("lines[2][unit_amount]", "192") in pairs and ("metadata[credit_note_id]", "cn_1") in pairs
    # JPY (0 decimals) and KWD (3 decimals)
    jpy = stripe.build_credit_note(credit_note_of(billed_event("JPY", flat="100", energy_price="45")), CFG, "in_9")
    assert [ln["unit_amount"] for ln in jpy["lines"]] == [100, 1053, 219] and stripe.credit_note_total(jpy) == 1372
    kwd = stripe.build_credit_note(credit_note_of(billed_event("KWD", energy="2.5", flat=None, energy_price="0.400",
                                                               vat="10")), CFG, "in_9")
    assert [ln["unit_amount"] for ln in kwd["lines"]] == [1000, 100] and stripe.credit_note_total(kwd) == 1100
    isk = stripe.build_credit_note(credit_note_of(billed_event("ISK", flat="100", energy_price="45", vat=None)),
                                   CFG, "in_9")
    assert [ln["unit_amount"] for ln in isk["lines"]] == [10000, 105300]  # Stripe's ISK is two-decimal


def test_tax_rates_mode_carries_our_tax_amounts_and_negative_lines_collapse() -> None:
    cfg = CFG.model_copy(update={"tax_mode": "tax_rates", "tax_rate_ids": {"VAT:19": "txr_vat19"}})
    body = stripe.build_credit_note(credit_note_of(billed_event()), cfg, "in_9")
    assert [(ln["unit_amount"], ln["tax_amounts"]) for ln in body["lines"]] == [
        (100, [{"amount": 19, "taxable_amount": 100, "tax_rate": "txr_vat19"}]),
        (913, [{"amount": 173, "taxable_amount": 913, "tax_rate": "txr_vat19"}])]
    assert stripe.credit_note_total(body) == 1205  # Stripe is told our tax, it does not compute it
    # discount and incentive lines are negative: one custom line of the whole amount_due "9.68"
    adj = stripe.build_credit_note(credit_note_of(billed_event(adjustments=incentive()), number="CN-000007"),
                                   CFG, "in_9")
    assert adj["lines"] == [{"type": "custom_line_item", "quantity": 1, "unit_amount": 968,
                             "description": "Credit note CN-000007 (lines net of discounts and incentives)"}]


def test_credit_note_mapping_refuses_disagreeing_or_bad_figures() -> None:
    note = credit_note_of(billed_event())
    note["data"]["invoice"]["amount_due"] = "12.06"
    with pytest.raises(ValueError, match=r"invoice.amount_due: 12.06 is not the sum .* \(1205 minor units\)"):
        stripe.build_credit_note(note, CFG, "in_9")
    note = credit_note_of(billed_event())
    note["data"]["invoice"]["lines"][1]["net"] = 9.13
    with pytest.raises(ValueError, match=r"invoice.lines\[1\].net: expected a decimal amount, got 9.13"):
        stripe.build_credit_note(note, CFG, "in_9")
    cfg = CFG.model_copy(update={"tax_mode": "tax_rates"})
    with pytest.raises(ValueError, match=r"invoice.lines\[0\].taxes: no Stripe tax rate configured for 'VAT:19'"):
        stripe.build_credit_note(credit_note_of(billed_event()), cfg, "in_9")


def test_keys_of_corrections_never_equal_the_creation_key() -> None:
    event = invoice_event()
    creation = stripe.idempotency_key(event, CFG)
    assert creation == stripe.invoice_key("t1", "inv_S-100") == "stripe:evbill:t1:inv_S-100"
    assert stripe.idempotency_key(voided(event), CFG) == "stripe:evbill:t1:inv_S-100:void"
    assert stripe.idempotency_key(credit_note_of(event), CFG) == "stripe:evbill:t1:inv_S-100:credit_note:cn_1"
    assert stripe.idempotency_key(credit_note_of(event, "cn_2"), CFG) != stripe.idempotency_key(credit_note_of(event),
                                                                                                  CFG)
    # long ids: bounded to 200 by a hash, never truncated into the creation key
    long = copy.deepcopy(event)
    long["data"]["invoice"]["id"] = "inv_" + "x" * 250
    keys = {stripe.idempotency_key(long, CFG), stripe.idempotency_key(voided(long), CFG),
            stripe.idempotency_key(credit_note_of(long), CFG)}
    assert len(keys) == 3 and all(len(k) <= 200 for k in keys)
    assert stripe.idempotency_key(long, CFG) == stripe.invoice_key("t1", long["data"]["invoice"]["id"])


def test_skip_reasons_for_corrections() -> None:
    draft = voided(billed_event(status="draft", number=None))
    assert "voided while a draft (no number): it was never sent to Stripe" in str(stripe.skip_reason(draft))
    assert stripe.idempotency_key(draft, CFG) == "stripe:skip:t1:evt_void_inv_S-100"
    assert stripe.skip_reason(voided(invoice_event())) is None
    not_a_note = invoice_event("credit_note.issued")
    assert stripe.skip_reason(not_a_note) == "credit_note.issued carries inv_S-100 of kind 'invoice', not a credit note"
    assert stripe.deliver(draft, CFG, DeliveryContext(OneShotHttp()))["status"] == "skipped"


def test_the_workers_context_reads_sent_refs_on_its_engine(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'r.db'}")
    refs = context.for_worker(OneShotHttp(), engine).refs
    assert isinstance(refs, SentRefs) and refs.engine is engine
    engine.dispose()


# ---------------------------------------------------------------- directly against the double


def sent_invoice(double: StripeDouble, cfg: stripe.StripeConfig, event: dict[str, Any]) -> str:
    result, _ = retrying(lambda: stripe.deliver(event, cfg, DeliveryContext(OneShotHttp())))
    return str(result["ref"])


def test_credit_note_on_an_open_invoice_reduces_what_is_due(double: StripeDouble) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url})
    event = invoice_event()
    ref = sent_invoice(double, cfg, event)
    refs = Refs({"stripe:evbill:t1:inv_S-100": ref})
    note = credit_note_of(event)
    note["data"]["invoice"]["lines"] = note["data"]["invoice"]["lines"][1:]  # credit the energy line only
    note["data"]["invoice"].update(taxes=[{"name": "VAT", "rate": "19", "compound": False, "taxable_base": "9.13",
                                           "amount": "1.73"}], amount_due="10.86")
    double.fail("/v1/credit_notes", 500)
    result, waits = retrying(lambda: stripe.deliver(note, cfg, DeliveryContext(OneShotHttp(), refs=refs)))
    assert waits == [None] and result["status"] == "sent" and result["total"] == 1086
    [cn] = double.credit_notes.values()
    assert (cn["total"], cn["pre_payment_amount"], cn["post_payment_amount"], cn["out_of_band_amount"]) == (
        1086, 1086, 0, 0)
    assert double.invoices[ref]["amount_remaining"] == 1205 - 1086 and double.invoices[ref]["status"] == "open"
    posts = double.calls("/v1/credit_notes", "POST")
    assert {p["headers"]["Idempotency-Key"] for p in posts} == {"evbill:t1:inv_S-100:credit_note:cn_1"}
    assert "out_of_band_amount" not in posts[-1]["body"]  # nothing beyond what was still open
    assert refs.asked == [("t1", "stripe", "stripe:evbill:t1:inv_S-100")] * 2
    # the answer is lost after Stripe created it: the retry finds it by metadata and creates nothing
    small = credit_note_of(event, "cn_2", "CN-000002")
    small["data"]["invoice"].update(lines=small["data"]["invoice"]["lines"][:1], amount_due="1.19",
                                    taxes=[{"name": "VAT", "rate": "19", "compound": False, "taxable_base": "1.00",
                                            "amount": "0.19"}])
    double.lost_posts["/v1/credit_notes"] = 1
    with pytest.raises(RetryableError):
        stripe.deliver(small, cfg, DeliveryContext(OneShotHttp(), refs=refs))
    again = stripe.deliver(small, cfg, DeliveryContext(OneShotHttp(), refs=refs))
    assert again["note"] == "already in Stripe" and again["total"] == 119 and len(double.credit_notes) == 2
    assert double.invoices[ref]["amount_remaining"] == 0 and double.invoices[ref]["status"] == "paid"
    # a third credit note of the whole invoice would exceed what is left: Stripe refuses (permanent)
    with pytest.raises(PermanentError, match=r"exceeds the invoice's remaining creditable amount \(0\)"):
        stripe.deliver(
            credit_note_of(event, "cn_3", "CN-000003"), cfg, DeliveryContext(OneShotHttp(), refs=refs))


def test_the_double_plays_stripes_rules(double: StripeDouble) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url})
    ref = sent_invoice(double, cfg, invoice_event())
    s = requests.Session()
    auth = {"Authorization": "Bearer sk_test_123"}
    assert s.post(f"{double.url}/v1/invoices/in_404/void", headers=auth).status_code == 404
    assert s.post(f"{double.url}/v1/credit_notes", data={"invoice": "in_404"}, headers=auth).status_code == 404
    assert s.post(f"{double.url}/v1/invoices/{ref}/void", headers={"Authorization": "Bearer x"}).status_code == 401
    one = {**auth, "Idempotency-Key": "k-void"}
    first = s.post(f"{double.url}/v1/invoices/{ref}/void", headers=one)
    replay = s.post(f"{double.url}/v1/invoices/{ref}/void", headers=one)
    assert first.json()["status"] == "void" and replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert s.post(f"{double.url}/v1/invoices/{ref}/void", headers={**auth, "Idempotency-Key": "k-2"}).status_code == 400
    line = {"invoice": ref, "lines[0][type]": "custom_line_item", "lines[0][unit_amount]": "100"}
    assert s.post(f"{double.url}/v1/credit_notes", data=line, headers=auth).status_code == 400  # void
    paid = sent_invoice(double, cfg, invoice_event(sid="S-101"))
    double.pay(paid)
    assert s.post(f"{double.url}/v1/invoices/{paid}/void", headers=auth).status_code == 400  # paid: refused
    line["invoice"] = paid
    unallocated = s.post(f"{double.url}/v1/credit_notes", data=line, headers=auth)
    assert unallocated.status_code == 400 and "post-payment amount (100)" in unallocated.text
    ok = s.post(f"{double.url}/v1/credit_notes", data={**line, "out_of_band_amount": "100"}, headers=auth)
    assert ok.status_code == 200 and ok.json()["post_payment_amount"] == 100
    too_much = {**line, "lines[0][unit_amount]": "1106", "out_of_band_amount": "1106"}
    assert s.post(f"{double.url}/v1/credit_notes", data=too_much, headers=auth).status_code == 400  # 1205 - 100 left
    listed = s.get(f"{double.url}/v1/credit_notes", params={"invoice": paid}, headers=auth).json()
    assert [n["total"] for n in listed["data"]] == [100] and listed["has_more"] is False


def test_void_needs_the_original_and_is_permanent_without_the_record(double: StripeDouble) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url})
    event = voided(invoice_event())
    with pytest.raises(RetryableError, match="original invoice not yet delivered to Stripe"):
        stripe.deliver(event, cfg, DeliveryContext(OneShotHttp(), refs=Refs({})))
    with pytest.raises(PermanentError, match="needs the record of sent deliveries"):
        stripe.deliver(event, cfg, DeliveryContext(OneShotHttp()))
    assert double.requests == []  # nothing was sent for either


def test_dry_run_writes_the_reads_and_the_correction(tmp_path: Path) -> None:
    out = tmp_path / "dry.jsonl"
    refs = Refs({"stripe:evbill:t1:inv_S-100": "in_dry_run"})
    cfg = CFG.model_copy(update={"api_key": "sk_live_hidden42"})
    assert stripe.deliver(
        voided(invoice_event()), cfg, DeliveryContext(DryRunSender(out), refs=refs))["ref"] == "in_dry_run"
    note = stripe.deliver(credit_note_of(invoice_event()), cfg, DeliveryContext(DryRunSender(out), refs=refs))
    assert (note["ref"], note["total"]) == ("cn_dry_run", 1205)
    written = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [(w["method"], w["url"]) for w in written] == [
        ("GET", "https://api.stripe.com/v1/invoices/in_dry_run"),
        ("POST", "https://api.stripe.com/v1/invoices/in_dry_run/void"),
        ("GET", "https://api.stripe.com/v1/credit_notes"), ("GET", "https://api.stripe.com/v1/invoices/in_dry_run"),
        ("POST", "https://api.stripe.com/v1/credit_notes")]
    assert written[1]["headers"]["Idempotency-Key"] == "evbill:t1:inv_S-100:void"
    assert "sk_live_hidden42" not in out.read_text(encoding="utf-8")


# ---------------------------------------------------------------- through the real outbox worker


def configure(engine: Any, tenant: str, double: StripeDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_KEY", "sk_test_123")
    monkeypatch.delenv("EVBILL_DRY_RUN_FILE", raising=False)
    with Session(engine) as db:
        db.add(PlatformConfigRow(tenant_id=tenant, platform="stripe", enabled=True, field_mapping={},
                                 config={"api_key": "env:STRIPE_KEY", "api_base": double.url,
                                         "customer_map": {"C-1": "cus_1"}}))
        db.commit()


def passes(engine: Any, now: datetime, n: int) -> datetime:
    for _ in range(n):
        worker.run_once(engine, now, policy=POLICY)
        now += timedelta(minutes=10)
    return now


def rows(engine: Any) -> list[DeliveryRow]:
    """Delivery rows, the original invoice's first (rows of one pass share ``created_at``)."""
    with Session(engine) as db:
        found = db.scalars(select(DeliveryRow).order_by(DeliveryRow.created_at, DeliveryRow.id)).all()
    return sorted(found, key=lambda r: (r.created_at, str(r.idempotency_key).endswith(":void")))


@pytest.fixture
def outbox(tmp_path: Path, double: StripeDouble, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    engine = create_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    all_metadata().create_all(engine)
    configure(engine, "t1", double, monkeypatch)
    yield engine
    engine.dispose()


def test_sent_then_voided_is_void_once_despite_429_500_and_a_lost_answer(outbox: Any,
                                                                          double: StripeDouble) -> None:
    event = invoice_event()
    with Session(outbox) as db:
        emit(db, "t1", "invoice.finalized", event["data"], created_at=T0)
        db.commit()
    now = passes(outbox, T0, 1)
    [original] = rows(outbox)
    assert original.status == "sent" and original.result["ref"] == "in_1"
    with Session(outbox) as db:
        emit(db, "t1", "invoice.voided", voided(event)["data"], created_at=now)
        db.commit()
    double.fail("/v1/invoices/in_1", 429, 500, retry_after="1")
    double.lose("/v1/invoices/in_1/void")  # Stripe voids it, the answer never arrives
    passes(outbox, now, 6)
    original, void = rows(outbox)
    assert (void.status, void.idempotency_key, void.attempts) == ("sent", "stripe:evbill:t1:inv_S-100:void", 4)
    assert void.result == {"status": "sent", "ref": "in_1", "stripe_status": "void", "note": "already void in Stripe"}
    assert double.invoices["in_1"]["status"] == "void"
    voids = double.calls("/v1/invoices/in_1/void", "POST")
    assert len(voids) == 1 and voids[0]["headers"]["Idempotency-Key"] == "evbill:t1:inv_S-100:void"
    assert len(double.invoices) == 1  # the creation was not repeated either
    # the void emitted again (a replayed event, new event id): the worker's dedupe on the void key keeps it
    with Session(outbox) as db:
        emit(db, "t1", "invoice.voided", voided(event)["data"], created_at=now + timedelta(hours=2))
        db.commit()
    passes(outbox, now + timedelta(hours=2), 1)
    replayed = [r for r in rows(outbox) if r.id not in (original.id, void.id)]
    assert [(r.status, r.result["status"], r.result["of"]) for r in replayed] == [("sent", "duplicate", void.id)]
    assert len(double.calls("/v1/invoices/in_1/void", "POST")) == 1


def test_void_before_the_original_was_delivered_retries_then_voids(outbox: Any, double: StripeDouble) -> None:
    event = invoice_event()
    with Session(outbox) as db:
        emit(db, "t1", "invoice.finalized", event["data"], created_at=T0)
        emit(db, "t1", "invoice.voided", voided(event)["data"], created_at=T0 + timedelta(seconds=1))
        db.commit()
    double.fail("/v1/invoices", 500)  # the original's creation fails first
    now = passes(outbox, T0, 1)
    original, void = rows(outbox)
    assert (original.status, void.status) == ("pending", "pending")
    assert "original invoice not yet delivered to Stripe" in str(void.last_error)
    assert double.calls("/v1/invoices/in_", "POST") == []  # nothing voided while the original is unknown
    passes(outbox, now, 3)
    original, void = rows(outbox)
    assert (original.status, void.status, void.last_error) == ("sent", "sent", None)
    assert void.result["ref"] == original.result["ref"] == "in_1"
    assert double.invoices["in_1"]["status"] == "void" and len(double.calls("/v1/invoices/in_1/void")) == 1


def test_real_billing_day_paid_invoice_credit_notes_and_a_voided_draft(tmp_path: Path, double: StripeDouble,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Events from the billing service itself (API app on SQLite), delivered by the worker on the same DB."""
    url = f"sqlite:///{tmp_path / 'billing.db'}"
    app = make_app(url)
    client = app.test_client()
    setup_tenant(client)
    inv_id = ingest(client, "S-1", customer="C-1")["billing"]["invoice_id"]  # 3.00 + 0.57 VAT
    ingest(client, "S-2", customer="C-1", kwh="20")  # 6.00 + 1.14 VAT
    done = client.post(f"/v1/invoices/{inv_id}/finalize", headers=A).get_json()
    assert done["amount_due"] == "10.71"
    engine = create_engine(url)
    configure(engine, "A", double, monkeypatch)
    now = passes(engine, T0, 2)
    ref = next(r.result["ref"] for r in rows(engine) if r.result.get("status") == "sent")
    assert double.invoices[ref]["total"] == 1071
    assert client.post(f"/v1/invoices/{inv_id}/mark-paid", headers=A).status_code == 200
    double.pay(ref)  # the customer paid through Stripe: credits are post-payment there
    line_s2 = next(ln["id"] for ln in done["lines"] if ln["session_id"] == "S-2")
    by_line = client.post(f"/v1/invoices/{inv_id}/credit-notes", json={"lines": [line_s2], "reason": "faulty"},
                          headers=A).get_json()
    by_amount = client.post(f"/v1/invoices/{inv_id}/credit-notes", json={"amount": "1.19"}, headers=A).get_json()
    draft = ingest(client, "S-3", customer="C-1", kwh="5")["billing"]["invoice_id"]
    assert client.post(f"/v1/invoices/{draft}/void", headers=A).status_code == 200
    double.fail("/v1/credit_notes", 429, retry_after="1")
    passes(engine, now, 4)
    app.extensions["evbill.engine"].dispose()

    delivered = rows(engine)
    assert {r.status for r in delivered} == {"sent"}, [(r.idempotency_key, r.status, r.last_error) for r in delivered]
    notes = sorted(double.credit_notes.values(), key=lambda n: n["metadata"]["credit_note_number"])
    assert [(n["invoice"], n["total"], n["out_of_band_amount"], n["metadata"]["credit_note_id"], n["memo"])
            for n in notes] == [
        (ref, 714, 714, by_line["id"], f"Credit note {by_line['number']}: faulty"),  # ours: amount_due "7.14"
        (ref, 119, 119, by_amount["id"], f"Credit note {by_amount['number']}")]  # ours: amount_due "1.19"
    assert [by_line["amount_due"], by_amount["amount_due"]] == ["7.14", "1.19"]
    # tax credited as Stripe tax (our amounts on the VAT 19% rate the invoice used), not as revenue lines
    [rate] = double.tax_rates
    assert [[(ln["unit_amount"], ln["description"], [(t["amount"], t["taxable_amount"], t["tax_rate"])
                                                      for t in ln["tax_amounts"].values()])
             for ln in n["lines"]] for n in notes] == [
        [("600", "Credit: Energy @ 0.30 EUR/kWh (20 kWh) - session S-2", [("114", "600", rate)])],
        [("100", "Credit", [("19", "100", rate)])]]
    by_key = {r.idempotency_key: r.result for r in delivered}
    assert by_key[f"stripe:evbill:A:{inv_id}:credit_note:{by_line['id']}"]["ref"] == notes[0]["id"]
    skipped = [r.result["reason"] for r in delivered if r.result.get("status") == "skipped"]
    assert f"invoice {draft} was voided while a draft (no number): it was never sent to Stripe, so there is " \
           "nothing to void" in skipped
    assert len(double.invoices) == 1 and double.calls("/v1/invoices/", "POST")[-1]["path"].endswith("/send")
    engine.dispose()

"""Zoho Books with ``document="invoice"`` (the default): one Zoho invoice per finalized invoice of ours, created on
``invoice.finalized``, voided on ``invoice.voided``, credited (and the credit applied) on ``credit_note.issued``;
``session.billed`` sends nothing."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from connector.platforms import oauth
from connector.platforms.adapters import zoho_books
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError, RetryableError
from tests.platforms.fakes.finance_vendors import FinanceVendors
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.finance_events import billed_event, invoice_event
from tests.platforms.test_zoho_books_corrections import credit_note_event

INV = "/books/v3/invoices"


def cfg(vendors: FinanceVendors | None = None, **update: Any) -> zoho_books.ZohoBooksConfig:
    base: dict[str, Any] = {"organization_id": "60001", "access_token": "static",
                            "customer_ids": {"C-1": "460000000026049"}, "tax_ids": {"19": "460000000040001"}}
    if vendors is not None:
        vendors.tokens.add("static")
        base["api_base"] = vendors.url
    return zoho_books.ZohoBooksConfig.model_validate({**base, **update})


def two_session_invoice(status: str = "finalized") -> dict[str, Any]:
    """``invoice.finalized`` of INV-0001 holding S-100 and S-101, each line 3.00 net; the invoice states 19 % on
    its 6.00 (1.14), spread 0.57 + 0.57, while each session was rated 0.56 (9.985 kWh at 0.30 + 19 %)."""
    event = invoice_event(sid="S-100", energy="9.985", energy_price="0.30", flat=None)
    inv = event["data"]["invoice"]
    other = copy.deepcopy(billed_event(sid="S-101", energy="9.985", energy_price="0.30", flat=None)
                          ["data"]["invoice"]["lines"])
    for i, ln in enumerate(other):
        ln["id"] = f"L{i + 10}"
    inv["lines"] += other
    for ln in inv["lines"]:  # restated per rate at finalize
        assert (ln["net"], ln["tax"]) == ("3.00", "0.56")
        ln.update(tax="0.57", gross="3.57")
        ln["taxes"][0]["amount"] = "0.57"
    inv.update(status=status, net_total="6.00", tax_total="1.14", gross_total="7.14", amount_due="7.14",
               taxes=[{"name": "VAT", "rate": "19", "amount": "1.14"}])
    return event


@pytest.fixture(autouse=True)
def fresh_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oauth, "_PROVIDERS", {})


def test_the_default_books_the_invoice_and_skips_sessions() -> None:
    config = cfg()
    assert config.document == "invoice"
    billed = billed_event()
    assert zoho_books.skip_reason(billed, config) == (
        "document=invoice: the session reaches Zoho Books on its invoice's invoice.finalized")
    assert zoho_books.deliver(billed, config, DeliveryContext(None))["status"] == "skipped"
    assert zoho_books.idempotency_key(billed, config).startswith("zoho_books:skip:t1:")
    session_mode = config.model_copy(update={"document": "session"})
    assert zoho_books.skip_reason(invoice_event(), session_mode) == (
        "document=session: each session reached Zoho Books on session.billed")
    assert zoho_books.skip_reason(billed, session_mode) is None
    draft = invoice_event(status="draft", number=None)
    assert zoho_books.skip_reason(draft, config) == ("invoice inv_S-100 is draft; it goes to Zoho Books when "
                                                    "finalized")
    keys = {zoho_books.idempotency_key(e, config) for e in (
        two_session_invoice(), invoice_event("invoice.voided", status="void"), credit_note_event(invoice_event()))}
    assert keys == {"zoho_books:t1:inv_S-100:invoice", "zoho_books:t1:inv_S-100:void",
                    "zoho_books:t1:cn_inv_S-100:credit_note"}
    # a draft voided never reached Zoho Books in this mode
    assert zoho_books.skip_reason(invoice_event("invoice.voided", status="void", number=None), config) == (
        "invoice inv_S-100 was voided while a draft (no number): it was never sent to Zoho Books, so there is "
        "nothing to void")


def test_body_is_the_whole_invoice_as_finalized() -> None:
    body = zoho_books.build_finalized_invoice(two_session_invoice(), cfg())
    assert (body["invoice_number"], body["reference_number"], body["date"]) == ("EV-INV-0001", "inv_S-100",
                                                                                "2026-01-13")
    assert [(li["rate"], li["tax_id"]) for li in body["line_items"]] == [(Decimal("3.00"), "460000000040001")] * 2
    assert [li["description"].split(" - ")[1] for li in body["line_items"]] == ["session S-100, station ST-7",
                                                                                 "session S-101, station ST-7"]
    assert body["notes"] == "EV charging, invoice INV-0001, 2026-01-13 - 2026-01-13"


def test_the_cent_case_reaches_zoho_as_our_invoice(vendors: FinanceVendors) -> None:
    """Each session alone is refused (Zoho levies 0.57 on 3.00, the session was rated 0.56); the invoice, whose
    VAT is stated per rate, is Zoho's to the cent and marked sent, once."""
    config = cfg(vendors)
    session_mode = config.model_copy(update={"document": "session"})
    with pytest.raises(PermanentError, match=r"Zoho Books computes 3.57 for invoice EV-S-100, ours is 3.56"):
        zoho_books.deliver(billed_event(energy="9.985", energy_price="0.30", flat=None), session_mode,
                           DeliveryContext(OneShotHttp()))
    assert vendors.zoho_invoices == {}

    event = two_session_invoice()
    result = zoho_books.deliver(event, config, DeliveryContext(OneShotHttp()))
    assert (result["status"], result["invoice_number"], result["total"], result["zoho_status"]) == (
        "sent", "EV-INV-0001", "7.14", "sent")
    zoho = vendors.zoho_invoices["EV-INV-0001"]
    assert (zoho["sub_total"], zoho["tax_total"], zoho["total"], zoho["balance"], zoho["status"]) == (
        Decimal("6.00"), Decimal("1.14"), Decimal("7.14"), Decimal("7.14"), "sent")
    again = zoho_books.deliver(event, config, DeliveryContext(OneShotHttp()))
    assert (again["status"], again["ref"]) == ("duplicate", zoho["invoice_id"])
    creates = [c["body"]["invoice_number"] for c in vendors.calls(INV, "POST") if c["path"] == INV]
    assert creates == ["EV-S-100", "EV-INV-0001"] and list(vendors.zoho_invoices) == ["EV-INV-0001"]


def test_a_total_that_is_not_ours_is_deleted_and_refused(vendors: FinanceVendors) -> None:
    event = two_session_invoice()
    for ln in event["data"]["invoice"]["lines"]:  # the rated VAT, not restated: Zoho's 7.14 is not 7.12
        ln.update(tax="0.56", gross="3.56")
    with pytest.raises(PermanentError, match=r"Zoho Books computes 7.14 for invoice EV-INV-0001, ours is 7.12"):
        zoho_books.deliver(event, cfg(vendors), DeliveryContext(OneShotHttp()))
    assert vendors.zoho_invoices == {} and [d["invoice_number"] for d in vendors.zoho_deleted] == ["EV-INV-0001"]


def test_void_and_credit_note_go_to_the_one_invoice(vendors: FinanceVendors) -> None:
    config = cfg(vendors)
    event = two_session_invoice()
    note = credit_note_event(event)
    with pytest.raises(RetryableError, match="no invoice of ours inv_S-100 yet"):  # waits for its invoice
        zoho_books.deliver(note, config, DeliveryContext(OneShotHttp()))
    zoho_books.deliver(event, config, DeliveryContext(OneShotHttp()))
    zoho = vendors.zoho_invoices["EV-INV-0001"]

    credited = zoho_books.deliver(note, config, DeliveryContext(OneShotHttp()))
    assert (credited["status"], credited["total"], credited["invoice_id"], credited["applied_to"]) == (
        "sent", "7.14", zoho["invoice_id"], zoho["invoice_id"])
    cn = vendors.zoho_credit_notes["EV-CN-000001"]
    assert (cn["total"], cn["balance"], cn["status"], zoho["balance"]) == (
        Decimal("7.14"), Decimal(0), "closed", Decimal(0))  # Zoho's receivable of our invoice: 7.14 - 7.14
    assert zoho_books.deliver(note, config, DeliveryContext(OneShotHttp()))["status"] == "duplicate"

    other = two_session_invoice()
    other["data"]["invoice"].update(id="inv_2", number="INV-0002")
    zoho_books.deliver(other, config, DeliveryContext(OneShotHttp()))
    void_other = copy.deepcopy(other) | {"type": "invoice.voided", "id": "evt_void_2"}
    void_other["data"]["invoice"]["status"] = "void"
    result = zoho_books.deliver(void_other, config, DeliveryContext(OneShotHttp()))
    assert (result["status"], result["voided"]) == ("sent", ["EV-INV-0002"])
    assert vendors.zoho_invoices["EV-INV-0002"]["status"] == "void"
    assert vendors.zoho_invoices["EV-INV-0001"]["status"] == "sent"


def test_a_failed_apply_is_retried_and_applies_the_credit_once(vendors: FinanceVendors) -> None:
    """The credit note is created but applying it fails (500): the retry finds the open credit note by its number
    and applies it, creating nothing twice."""
    config = cfg(vendors)
    event = two_session_invoice()
    zoho_books.deliver(event, config, DeliveryContext(OneShotHttp()))
    note = credit_note_event(event)
    vendors.fail("/books/v3/creditnotes/", 500, method="POST")  # the apply call, not the create
    with pytest.raises(RetryableError):
        zoho_books.deliver(note, config, DeliveryContext(OneShotHttp()))
    assert vendors.zoho_credit_notes["EV-CN-000001"]["status"] == "open"
    retried = zoho_books.deliver(note, config, DeliveryContext(OneShotHttp()))
    zoho = vendors.zoho_invoices["EV-INV-0001"]
    assert (retried["status"], retried["applied_to"]) == ("sent", zoho["invoice_id"])
    assert (vendors.zoho_credit_notes["EV-CN-000001"]["status"], zoho["balance"]) == ("closed", Decimal(0))
    assert len(vendors.calls("/books/v3/creditnotes", "POST")) == 3  # create, failed apply, apply
    assert zoho_books.deliver(note, config, DeliveryContext(OneShotHttp()))["status"] == "duplicate"


def test_a_credit_note_waits_while_its_invoice_is_a_zoho_draft(vendors: FinanceVendors) -> None:
    """The invoice's creation answer was lost, so Zoho holds it as a draft until its delivery's retry marks it
    sent. The credit note, delivered in between, waits (Zoho applies no credit to a draft) and then applies."""
    config = cfg(vendors)
    event = two_session_invoice()
    vendors.lose(INV, method="POST")  # created in Zoho, answer lost: not marked sent
    with pytest.raises(RetryableError):
        zoho_books.deliver(event, config, DeliveryContext(OneShotHttp()))
    assert vendors.zoho_invoices["EV-INV-0001"]["status"] == "draft"
    note = credit_note_event(event)
    with pytest.raises(RetryableError, match="EV-INV-0001 of ours inv_S-100 is still a draft"):
        zoho_books.deliver(note, config, DeliveryContext(OneShotHttp()))
    assert vendors.zoho_credit_notes == {}  # nothing created while it waits
    assert zoho_books.deliver(event, config, DeliveryContext(OneShotHttp()))["status"] in ("sent", "duplicate")
    credited = zoho_books.deliver(note, config, DeliveryContext(OneShotHttp()))
    zoho = vendors.zoho_invoices["EV-INV-0001"]
    assert (credited["status"], credited["applied_to"], zoho["status"], zoho["balance"]) == (
        "sent", zoho["invoice_id"], "sent", Decimal(0))


def test_many_lines_need_zohos_invoice_level_tax_rounding(vendors: FinanceVendors) -> None:
    """Three lines of 0.25 at 19 %: our invoice states 0.14 of VAT (19 % of 0.75, spread 0.05 + 0.05 + 0.04);
    Zoho rounding per line levies 0.05 each (0.15) and is refused with both totals; with the organization's
    tax rounding at invoice level it levies 0.14, ours."""
    event = two_session_invoice()
    inv = event["data"]["invoice"]
    inv["lines"].append(copy.deepcopy(inv["lines"][0]) | {"id": "L20"})
    for ln, tax in zip(inv["lines"], ("0.05", "0.05", "0.04"), strict=True):
        ln.update(net="0.25", tax=tax, gross=str(Decimal("0.25") + Decimal(tax)))
        ln["taxes"][0]["amount"] = tax
    inv.update(net_total="0.75", tax_total="0.14", gross_total="0.89", amount_due="0.89")
    config = cfg(vendors)
    with pytest.raises(PermanentError, match=r"Zoho Books computes 0.90 for invoice EV-INV-0001, ours is 0.89"):
        zoho_books.deliver(event, config, DeliveryContext(OneShotHttp()))
    assert vendors.zoho_invoices == {}
    vendors.zoho_tax_rounding = "invoice"
    assert zoho_books.deliver(event, config, DeliveryContext(OneShotHttp()))["total"] == "0.89"
    assert vendors.zoho_invoices["EV-INV-0001"]["tax_total"] == Decimal("0.14")

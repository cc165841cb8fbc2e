"""FreshBooks credit notes: a credit note of ours (a partial correction) becomes a FreshBooks credit note at our
amount, found by number before any create (FreshBooks has no idempotency key), deleted and failed when FreshBooks'
tax makes another amount. No FreshBooks schema is in vendor-specs: the double enforces the fields FreshBooks'
credit note documentation lists and computes its amount from our tax percentages."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from connector.platforms.adapters import freshbooks
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError
from tests.platforms.fakes.finance_vendors import FinanceVendors
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.test_freshbooks import finalized, invoice_mode
from tests.platforms.worker_model import retrying

CREDITS = "/accounting/account/AbC123/credit_notes/credit_notes"


def credit_note(number: str = "CN-000001", energy_only: bool = True, **kw: Any) -> dict[str, Any]:
    """Our credit note of invoice inv_2026_01 as billing issues it: positive lines copied from the invoice; by
    default only its energy line (9.13 + 19 % = 10.86), a partial correction."""
    note = copy.deepcopy(finalized(**kw)["data"]["invoice"])
    if energy_only:
        note["lines"] = note["lines"][1:]
        note.update(net_total="9.13", tax_total="1.73", gross_total="10.86", amount_due="10.86")
    note.update(id=f"cn_{number}", kind="credit_note", credit_note_of="inv_2026_01", number=number,
                status="finalized", issued_at="2026-02-03T09:00:00Z")
    return {"id": f"evt_{number}", "type": "credit_note.issued", "tenant_id": "t1",
            "created_at": "2026-02-03T09:00:00Z", "data": {"invoice": note}}


def test_credit_note_body_is_our_credit_lines() -> None:
    cfg = freshbooks.FreshBooksConfig(account_id="AbC123", client_ids={"C-1": "4242"}, access_token="static")
    assert "credit_note.issued" in freshbooks.EVENTS and freshbooks.skip_reason(credit_note(), cfg) is None
    body = freshbooks.build_credit_note(credit_note(), cfg)["credit_note"]
    assert {k: v for k, v in body.items() if k != "lines"} == {
        "clientid": 4242, "create_date": "2026-02-03", "currency_code": "EUR", "credit_number": "CN-000001",
        "credit_type": "goodwill", "notes": "Credit note CN-000001 for invoice inv_2026_01"}
    assert [(ln["qty"], ln["unit_cost"], ln["taxName1"], ln["taxAmount1"]) for ln in body["lines"]] == [
        ("1", {"amount": "9.13", "code": "EUR"}, "VAT", "19")]
    assert freshbooks.idempotency_key(credit_note(), cfg) == "freshbooks:t1:cn_CN-000001:credit_note"
    draft = credit_note()
    draft["data"]["invoice"]["status"] = "draft"
    assert freshbooks.skip_reason(draft, cfg) == "credit note cn_CN-000001 is draft; it goes to FreshBooks when issued"
    assert freshbooks.skip_reason(credit_note(cls="public"), cfg) == (
        "customer class 'public' is not one of ['subscription', 'fleet']")
    recurring = cfg.model_copy(update={"mode": "recurring"})
    assert freshbooks.deliver(credit_note(), recurring, DeliveryContext(None))["status"] == "skipped"


def test_a_partial_credit_becomes_one_freshbooks_credit_at_our_amount(vendors: FinanceVendors) -> None:
    cfg, ctx = invoice_mode(vendors)
    freshbooks.deliver(finalized(), cfg, ctx)  # the invoice it credits, 12.05
    vendors.lose(CREDITS, method="POST")  # created, answer lost: the retry finds it by number
    sent, _ = retrying(lambda: freshbooks.deliver(credit_note(), cfg, ctx))
    assert sent["status"] == "duplicate" and sent["total"] == "10.86" and sent["credit_note_of"] == "inv_2026_01"
    again = freshbooks.deliver(credit_note(), cfg, ctx)  # redelivered: found, not created twice
    assert again == {**sent, "status": "duplicate"}
    [made] = vendors.fb_credit_notes.values()
    assert (made["credit_number"], made["amount"], made["clientid"], made["vis_state"]) == (
        "CN-000001", {"amount": "10.86", "code": "EUR"}, 4242, 0)
    assert len(vendors.calls(CREDITS, "POST")) == 1
    # what the client owes in FreshBooks: the invoice less the credit, as in our books
    [invoice] = vendors.fb_invoices.values()
    assert Decimal(invoice["amount"]["amount"]) - Decimal(made["amount"]["amount"]) == Decimal("1.19")
    # the invoice itself is left as it is (a credit note is not a void)
    assert invoice["vis_state"] == 0 and invoice["v3_status"] == "sent"


def test_a_freshbooks_credit_that_is_not_ours_is_deleted(vendors: FinanceVendors) -> None:
    cfg, ctx = invoice_mode(vendors)
    event = credit_note("CN-000002")
    event["data"]["invoice"]["lines"][0]["taxes"][0]["rate"] = "20"  # FreshBooks: 9.13 + 1.83 = 10.96
    with pytest.raises(PermanentError, match="FreshBooks computes 10.96 for credit note CN-000002, ours is 10.86: "
                                             "the FreshBooks credit note was deleted"):
        freshbooks.deliver(event, cfg, ctx)
    assert [c["vis_state"] for c in vendors.fb_credit_notes.values()] == [1]
    # a corrected redelivery creates a new one (the deleted one is not found)
    assert freshbooks.deliver(credit_note("CN-000002"), cfg, ctx)["status"] == "sent"
    assert [c["vis_state"] for c in vendors.fb_credit_notes.values()] == [1, 0]


def test_the_double_enforces_freshbooks_required_fields(vendors: FinanceVendors) -> None:
    cfg, ctx = invoice_mode(vendors)
    headers = {"Authorization": f"Bearer {ctx.token_provider.authorization(OneShotHttp())['Authorization'][7:]}"}
    body = freshbooks.build_credit_note(credit_note(), cfg)["credit_note"]
    for field in ("clientid", "create_date", "currency_code", "credit_type", "lines"):
        broken = {k: v for k, v in body.items() if k != field}
        with pytest.raises(PermanentError, match=f"{field} is required"):
            OneShotHttp().send("POST", vendors.url + CREDITS, json={"credit_note": broken}, headers=headers)
    with pytest.raises(PermanentError, match="invalid credit_type"):
        OneShotHttp().send("POST", vendors.url + CREDITS, json={"credit_note": {**body, "credit_type": "refund"}},
                           headers=headers)
    with pytest.raises(PermanentError, match="401"):
        OneShotHttp().send("POST", vendors.url + CREDITS, json={"credit_note": body})
    assert vendors.fb_credit_notes == {}


def test_the_lookup_reads_every_page_of_the_clients_credit_notes(vendors: FinanceVendors) -> None:
    cfg, ctx = invoice_mode(vendors)
    vendors.fb_page_size = 2
    for n in range(1, 6):
        freshbooks.deliver(credit_note(f"CN-00000{n}"), cfg, ctx)
    assert len(vendors.fb_credit_notes) == 5
    again = freshbooks.deliver(credit_note("CN-000005"), cfg, ctx)  # on the third page: found, not created
    assert again["status"] == "duplicate" and len(vendors.fb_credit_notes) == 5
    pages = [c["args"]["page"] for c in vendors.calls(CREDITS, "GET")][-3:]
    assert pages == ["1", "2", "3"]
